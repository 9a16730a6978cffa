"""Signature cards as Russian and English writers lay them out: who, what, where, which phones.

The CRM takes a contact's name, title and company from the card under a reply, so the usual
layouts must each give all four: title above or below the name, "Name | Title | Company" on
one line, a first name signed off above the full card, a company whose name holds a job word
("АО «Театральные технологии»": технолог), phones with extensions.
"""

from __future__ import annotations

import pytest

from mailcrm.parse.signature import extract_signature

CARDS = [
 ("С уважением,\nИван Петров\nГлавный режиссёр\nТеатр «Современник»\nТел.: +7 (495) 621-64-73\nМоб.: 8-916-123-45-67", ("Иван Петров","Главный режиссёр","Театр «Современник»",2)),
 ("--\nС уважением, Анна Смирнова\nменеджер по работе с клиентами\nООО \"Ромашка\"\n+7 812 555 12 34", ("Анна Смирнова","менеджер по работе с клиентами","ООО \"Ромашка\"",1)),
 ("Всего доброго,\nПетрова Мария Ивановна\nзаведующая литературной частью\nМХТ им. Чехова\nт. 8 (495) 629-87-60, доб. 123", ("Петрова Мария Ивановна","заведующая литературной частью","МХТ им. Чехова",1)),
 ("С уважением,\nСергей\n\nСергей Иванов | Продюсер | Кинокомпания «Мосфильм»\n+7 903 000-11-22 | sergey@mosfilm.example", ("Сергей Иванов","Продюсер","Кинокомпания «Мосфильм»",1)),
 ("Спасибо!\nОльга Кузнецова,\nредактор отдела прозы, издательство АСТ\nhttps://ast.example", ("Ольга Кузнецова","редактор отдела прозы","издательство АСТ",0)),
 ("Regards,\nDr. Sarah Connor\nCEO, Skynet Inc.\n+1 415 555 0199", ("Dr. Sarah Connor", "CEO", "Skynet Inc.", 1)),
 ("Best regards,\nJohn Smith\nSenior Producer | Warner Bros. Pictures\nM: +1 (310) 555-0123\nwww.warnerbros.example", ("John Smith","Senior Producer","Warner Bros. Pictures",1)),
 ("Kind regards,\n\nJane Doe\nLiterary Agent\nCurtis Brown Ltd\nT: +44 20 7393 4400", ("Jane Doe","Literary Agent","Curtis Brown Ltd",1)),
 ("С уважением,\nДиректор по развитию\nИгорь Николаевич Соколов\nАО «Театральные технологии»\n+7 (343) 222-33-44", ("Игорь Николаевич Соколов","Директор по развитию","АО «Театральные технологии»",1)),
]


@pytest.mark.parametrize(("card", "expected"), CARDS, ids=[c[1][0] for c in CARDS])
def test_a_card_gives_name_title_company_and_phones(card: str, expected: tuple[str, str, str, int]) -> None:
    text = "Добрый день!\n\nПьесу получили, прочитаем до конца месяца.\n\n" + card + "\n"
    sig = extract_signature(text)
    assert sig is not None
    assert (sig.name, sig.title, sig.company, len(sig.phones)) == expected
