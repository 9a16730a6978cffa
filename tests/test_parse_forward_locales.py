"""Forward headers as Gmail and Outlook write them in many UI languages.

The forwarded original's author is what the CRM files the mail under, so the header block of
a forward must be read in the language the forwarding user's client speaks: Gmail's
"---------- Forwarded message ---------" phrase and field names, Outlook's rule and
"From/Sent/To/Subject" block.  A header block with neither a separator nor a forward subject
("FW:") is a reply's quote, not a forward.
"""

from __future__ import annotations

import pytest

from mailcrm.parse.forward import FWD_SUBJECT, find_forward_in_text, looks_forwarded_subject
from mailcrm.parse.reply_text import extract_reply
from mailcrm.parse.signature import extract_signature

# Gmail: separator phrase, then From, Date, Subject, To in the reader's language.
GMAIL = {
 "en": ("Forwarded message", "From", "Date", "Subject", "To"),
 "es": ("Mensaje reenviado", "De", "Fecha", "Asunto", "Para"),
 "it": ("Messaggio inoltrato", "Da", "Data", "Oggetto", "A"),
 "de": ("Weitergeleitete Nachricht", "Von", "Datum", "Betreff", "An"),
 "ru": ("Пересылаемое сообщение", "От", "Дата", "Тема", "Кому"),
 "fr": ("Message transféré", "De", "Date", "Subject", "À"),
 "nl": ("Doorgestuurd bericht", "Van", "Datum", "Onderwerp", "Aan"),
 "pl": ("Przekazana wiadomość", "Od", "Data", "Temat", "Do"),
 "pt": ("Mensagem encaminhada", "De", "Data", "Assunto", "Para"),
 "da": ("Videresendt meddelelse", "Fra", "Dato", "Emne", "Til"),
 "fi": ("Välitetty viesti", "Lähettäjä", "Päivämäärä", "Aihe", "Vastaanottaja"),
 "sv": ("Vidarebefordrat meddelande", "Från", "Datum", "Ämne", "Till"),
 "hu": ("Továbbított üzenet", "Feladó", "Dátum", "Tárgy", "Címzett"),
 "cs": ("Přeposlaná zpráva", "Od", "Date", "Subject", "To"),
 "tr": ("İletilen ileti", "Kimden", "Tarih", "Konu", "Kime"),
 "el": ("Προωθημένο μήνυμα", "Από", "Ημερομηνία", "Θέμα", "Προς"),
 "uk": ("Пересланий лист", "Від", "Дата", "Тема", "Кому"),
 "ja": ("Forwarded message", "From", "Date", "Subject", "To"),
 "zh": ("Forwarded message", "发件人", "Date", "Subject", "To"),
 "ko": ("Forwarded message", "보낸사람", "Date", "Subject", "To"),
 "ro": ("Mesaj redirecționat", "De la", "Dată", "Subiect", "Către"),
 "no": ("Videresendt melding", "Fra", "Dato", "Emne", "Til"),
 "sk": ("Preposlaná správa", "Od", "Dátum", "Predmet", "Komu"),
 "hr": ("Proslijeđena poruka", "Od", "Date", "Subject", "To"),
 "bg": ("Препратено писмо", "От", "Дата", "Тема", "До"),
 "vi": ("Thư đã chuyển tiếp", "Từ", "Date", "Subject", "To"),
 "id": ("Pesan yang diteruskan", "Dari", "Tanggal", "Subjek", "Kepada"),
}
# Outlook: From, Sent, To, Subject in the reader's language, under a rule or alone.
OUTLOOK = {
 "en": ("From", "Sent", "To", "Subject"), "es": ("De", "Enviado el", "Para", "Asunto"),
 "de": ("Von", "Gesendet", "An", "Betreff"), "fr": ("De", "Envoyé", "À", "Objet"),
 "it": ("Da", "Inviato", "A", "Oggetto"), "ru": ("От", "Отправлено", "Кому", "Тема"),
 "nl": ("Van", "Verzonden", "Aan", "Onderwerp"), "pl": ("Od", "Wysłano", "Do", "Temat"),
 "pt": ("De", "Enviada em", "Para", "Assunto"), "sv": ("Från", "Skickat", "Till", "Ämne"),
 "da": ("Fra", "Sendt", "Til", "Emne"), "fi": ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe"),
 "cs": ("Od", "Odesláno", "Komu", "Předmět"), "hu": ("Feladó", "Elküldve", "Címzett", "Tárgy"),
 "tr": ("Kimden", "Gönderildi", "Kime", "Konu"), "uk": ("Від", "Надіслано", "Кому", "Тема"),
 "no": ("Fra", "Sendt", "Til", "Emne"), "ro": ("De la", "Trimis", "Către", "Subiect"),
 "ja": ("差出人", "送信日時", "宛先", "件名"), "zh": ("发件人", "发送时间", "收件人", "主题"),
 "ko": ("보낸 사람", "보낸 날짜", "받는 사람", "제목"), "el": ("Από", "Στάλθηκε", "Προς", "Θέμα"),
 "sk": ("Od", "Odoslané", "Komu", "Predmet"), "bg": ("От", "Изпратено", "До", "Тема"),
}


def _outlook_block(lang: str) -> str:
    """Outlook's From/Sent/To/Subject block in ``lang``, then the original's text."""
    from_, sent, to, subject = OUTLOOK[lang]
    return (f"{from_}: Ivan Petrov <ivan@theatre.example>\n{sent}: 15 January 2024 10:30\n{to}: Me <me@example.org>\n"
            f"{subject}: The play\n\nHello, here it is.\n")


def _author(body: str, subject: str) -> str | None:
    found = find_forward_in_text(body, subject=subject)
    return found.from_.address if found is not None and found.from_ is not None else None


@pytest.mark.parametrize("lang", sorted(GMAIL))
def test_gmail_forward_headers(lang: str) -> None:
    sep, from_, date, subject, to = GMAIL[lang]
    body = (f"FYI\n\n---------- {sep} ---------\n{from_}: Ivan Petrov <ivan@theatre.example>\n"
            f"{date}: Mon, 15 Jan 2024 at 10:30\n{subject}: The play\n{to}: Me <me@example.org>\n\nHello, here it is.\n")
    assert _author(body, "Fwd: The play") == "ivan@theatre.example"
    assert _author(body, "The play") == "ivan@theatre.example"  # the separator alone says it


@pytest.mark.parametrize("lang", sorted(OUTLOOK))
def test_outlook_forward_headers(lang: str) -> None:
    from_, sent, to, subject = OUTLOOK[lang]
    ruled = "FYI\n\n________________________________\n" + _outlook_block(lang)
    bare = (f"FYI\n\n{from_}: Ivan Petrov [mailto:ivan@theatre.example]\n{sent}: Monday, January 15, 2024 10:30 AM\n"
            f"{to}: Me\n{subject}: The play\n\nHello, here it is.\n")
    assert _author(ruled, "FW: The play") == "ivan@theatre.example"
    assert _author(ruled, "The play") == "ivan@theatre.example"  # Outlook's rule above the block
    assert _author(bare, "FW: The play") == "ivan@theatre.example"
    assert _author(bare, "The play") is None  # no rule, no forward subject: a reply's quote


# Russian clients' forwards (web, desktop and mobile), with the forward subject and without it.
RUSSIAN_CLIENTS = {
    "yandex": "Посмотрите.\n\n-------- Пересылаемое сообщение --------\n15.01.2024, 10:30, \"Иван Петров\" "
              "<ivan@theatre.example>:\n\nДобрый день, пьеса получена.\n\n-------- Конец пересылаемого сообщения --------\n",
    "yandex mobile": "\n\n-------- Начало переадресованного сообщения --------\nОт: Иван Петров <ivan@theatre.example>\n"
                     "Дата: 15 января 2024 г., 10:30\nКому: me@example.org\nТема: Пьеса\n\nДобрый день.\n",
    "mail.ru": "Посмотрите.\n\n\n-------- Пересылаемое сообщение --------\nОт кого: Иван Петров <ivan@theatre.example>\n"
               "Кому: me@example.org\nДата: Понедельник, 15 января 2024, 10:30 +03:00\nТема: Пьеса\n\nДобрый день.\n",
    "mail.ru app": "\n\nПересланное сообщение\n15.01.2024, 10:30 +03:00, Иван Петров <ivan@theatre.example>:\n\nДобрый день.\n",
    "the bat": "Hello,\n\nThis is a forwarded message\nFrom: Иван Петров <ivan@theatre.example>\nTo: me@example.org\n"
               "Date: Monday, January 15, 2024, 10:30:00 AM\nSubject: Пьеса\n\n"
               "===8<==============Original message text===============\nДобрый день.\n",
    "the bat ru": "Это пересланное сообщение\nОт: Иван Петров <ivan@theatre.example>\nКому: me@example.org\n"
                  "Дата: 15 января 2024 г., 10:30:00\nТема: Пьеса\n\n===8<==============Текст исходного сообщения"
                  "===============\nДобрый день.\n",
    "thunderbird ru": "\n\n\n-------- Пересланное сообщение --------\nТема: \tПьеса\nДата: \tMon, 15 Jan 2024 10:30:00 +0300\n"
                      "От: \tИван Петров <ivan@theatre.example>\nКому: \tme@example.org\n\nДобрый день.\n",
    "apple mail ru": "\n\nНачало переадресованного сообщения:\n\nОт: Иван Петров <ivan@theatre.example>\nТема: Пьеса\n"
                     "Дата: 15 января 2024 г. в 10:30:00 GMT+3\nКому: me@example.org\n\nДобрый день.\n",
    "gmail ru": "\n\n---------- Пересылаемое сообщение ---------\nОт: Иван Петров <ivan@theatre.example>\n"
                "Date: пн, 15 янв. 2024 г. в 10:30\nSubject: Пьеса\nTo: <me@example.org>\n\nДобрый день.\n",
    "myoffice": "\n\n----- Исходное сообщение -----\nОт: \"Иван Петров\" <ivan@theatre.example>\nКому: me@example.org\n"
                "Отправлено: Понедельник, 15 января 2024 г. 10:30:00\nТема: Пьеса\n\nДобрый день.\n",
    "redirected": "\n\n----- Перенаправленное сообщение -----\n15.01.2024, 10:30, \"Иван Петров\" <ivan@theatre.example>:\n"
                  "Добрый день.\n",
}


@pytest.mark.parametrize("client", sorted(RUSSIAN_CLIENTS))
def test_russian_clients_forwards(client: str) -> None:
    body = RUSSIAN_CLIENTS[client]
    found = find_forward_in_text(body, subject="Fwd: Пьеса")
    assert found is not None and found.from_ is not None
    assert (found.from_.name, found.from_.address) == ("Иван Петров", "ivan@theatre.example")
    assert _author(body, "Пьеса") == "ivan@theatre.example"  # the separator alone says it


@pytest.mark.parametrize("lang", sorted(OUTLOOK))
def test_outlooks_header_block_in_a_reply_ends_the_new_text_and_the_signature(lang: str) -> None:
    body = "Спасибо, получили.\n\nС уважением,\nАнна Смирнова\nпродюсер\n\n" + _outlook_block(lang)
    assert extract_reply(body).strip() == "Спасибо, получили.\n\nС уважением,\nАнна Смирнова\nпродюсер"
    sig = extract_signature(body)
    assert sig is not None and sig.name == "Анна Смирнова" and "Ivan" not in sig.text


@pytest.mark.parametrize("subject", ["Fwd: the play", "FW: the play", "WG: the play", "TR: the play", "RV: the play",
                                     "I: the play", "PD: the play", "Пересл: the play", "ПЕР: the play",
                                     "ΠΡΘ: the play", "转发: the play", "转发：the play", "転送: the play",
                                     "전달: the play", "[EXT] Fwd: the play", "[External] RE: FW: the play"])
def test_forward_subject_prefixes(subject: str) -> None:
    assert looks_forwarded_subject(subject)
    assert FWD_SUBJECT.sub("", subject, count=1).strip() == "the play"


@pytest.mark.parametrize("subject", ["Re: the play", "[SPAM] the play", "Info: the play", "[ticket #12] Re: the play",
                                     "Fwd the play"])
def test_subjects_that_are_not_forwards(subject: str) -> None:
    assert not looks_forwarded_subject(subject)
