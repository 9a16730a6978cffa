"""Plain-text delivery reports in other languages than English and Russian.

Localised Exchange servers and many ISPs write their own text (no RFC 3464 part): "Unzustellbar",
"Non remis", "配信不能" ...  Such a report must still be a bounce naming the failed address and its
reason; like an English one, it is hard (the address is dead) only with an SMTP code that says
so, and a person's mail that merely uses the words is not a report.
"""

from __future__ import annotations

import pytest

from mailcrm.parse.message import parse_message

ME = frozenset({"me@example.org"})
LOCALISED_REPORTS = {
 "de": ("Unzustellbar: Stück", "Die Nachricht konnte an folgende Empfänger nicht zugestellt werden:\n\nivan@theatre.example\nDer Empfänger existiert nicht."),
 "fr": ("Non remis : pièce", "Votre message n'a pas pu être remis aux destinataires suivants :\n\nivan@theatre.example\nL'adresse de messagerie est introuvable."),
 "es": ("No se puede entregar: obra", "No se pudo entregar el mensaje a los siguientes destinatarios:\n\nivan@theatre.example\nLa dirección de correo no existe."),
 "it": ("Non recapitabile: opera", "Impossibile recapitare il messaggio ai seguenti destinatari:\n\nivan@theatre.example\nL'indirizzo non esiste."),
 "nl": ("Onbestelbaar: stuk", "Uw bericht kan niet worden bezorgd bij de volgende geadresseerden:\n\nivan@theatre.example\nHet adres bestaat niet."),
 "pl": ("Niedostarczalne: sztuka", "Wiadomość nie mogła zostać dostarczona do następujących adresatów:\n\nivan@theatre.example\nAdres nie istnieje."),
 "pt": ("Não é possível entregar: peça", "Não foi possível entregar a mensagem aos seguintes destinatários:\n\nivan@theatre.example\nO endereço não existe."),
 "ja": ("配信不能: 作品", "次の宛先へのメッセージの配信に失敗しました:\n\nivan@theatre.example\n宛先が存在しません。"),
 "zh": ("无法投递: 作品", "您的邮件无法投递给以下收件人:\n\nivan@theatre.example\n收件人不存在。"),
 "uk": ("Не доставлено: п'єса", "Ваше повідомлення не вдалося доставити таким одержувачам:\n\nivan@theatre.example\nАдреса не існує."),
 "cs": ("Nedoručitelné: hra", "Zprávu nelze doručit následujícím příjemcům:\n\nivan@theatre.example\nAdresa neexistuje."),
 "sv": ("Olevererbart: pjäs", "Meddelandet kunde inte levereras till följande mottagare:\n\nivan@theatre.example\nAdressen finns inte."),
}


def _report(lang: str, sender: str, code: str = "") -> bytes:
    subject, body = LOCALISED_REPORTS[lang]
    if code:
        body = body.replace("\n\nivan@theatre.example\n", f"\n\nivan@theatre.example\n{code} ")
    return (f"From: {sender}\nTo: Me <me@example.org>\nSubject: {subject}\nMessage-ID: <ndr-{lang}@mx.example>\n"
            f"Content-Type: text/plain; charset=utf-8\n\n{body}\n").encode()


@pytest.mark.parametrize("lang", sorted(LOCALISED_REPORTS))
@pytest.mark.parametrize("sender", ["postmaster@mx.theatre.example", "Microsoft Outlook <noreply@corp.example>"])
def test_a_localised_report_names_the_failed_address(lang: str, sender: str) -> None:
    facts = parse_message(_report(lang, sender), user_addresses=ME)
    assert facts.kind == "bounce" and facts.bounce is not None
    assert [(r.address, r.reason, r.hard) for r in facts.bounce.recipients] == \
        [("ivan@theatre.example", "filtered", False)]  # no SMTP code: not proof the address is dead (Sisimai: filtered)
    coded = parse_message(_report(lang, sender, "550 5.1.1"), user_addresses=ME)
    assert coded.bounce is not None
    assert [(r.address, r.hard) for r in coded.bounce.recipients] == [("ivan@theatre.example", True)]


@pytest.mark.parametrize("lang", sorted(LOCALISED_REPORTS))
def test_a_persons_mail_with_the_same_words_is_not_a_report(lang: str) -> None:
    subject, body = LOCALISED_REPORTS[lang]
    raw = (f"From: Anna <anna@kino.example>\nTo: Me <me@example.org>\nSubject: Re: {subject.split(':')[-1].strip()}\n"
           f"Content-Type: text/plain; charset=utf-8\n\n{body}\n").encode()
    facts = parse_message(raw, user_addresses=ME)
    assert facts.kind == "received" and facts.bounce is None


REASONS = [
    ("Unzustellbar: Stück", "Das Postfach des Empfängers ist voll.", "mailboxfull", False),
    ("Non remis : pièce", "La boîte aux lettres du destinataire est pleine.", "mailboxfull", False),
    ("No se puede entregar: obra", "El buzón del destinatario está lleno.", "mailboxfull", False),
    ("配信不能: 作品", "メールボックスの容量がいっぱいです。", "mailboxfull", False),
    ("Не доставлено: п'єса", "Поштова скринька одержувача переповнена.", "mailboxfull", False),
    ("Unzustellbar: Stück", "Die Domain theatre.example existiert nicht.", "hostunknown", True),
    ("Non remis : pièce", "Le domaine theatre.example n'existe pas.", "hostunknown", True),
    ("Undeliverable: play", "The domain theatre.example does not exist.", "hostunknown", True),
    ("Unzustellbar: Stück", "Der Empfänger existiert nicht.", "filtered", False),
]


@pytest.mark.parametrize(("subject", "why", "reason", "hard"), REASONS, ids=[f"{r[2]}-{r[0][:8]}" for r in REASONS])
def test_the_reason_is_read_in_the_reports_language(subject: str, why: str, reason: str, hard: bool) -> None:
    raw = (f"From: postmaster@mx.theatre.example\nTo: me@example.org\nSubject: {subject}\n"
           "Content-Type: text/plain; charset=utf-8\n\nThe message could not be delivered to:\n\n"
           f"ivan@theatre.example\n{why}\n").encode()
    facts = parse_message(raw, user_addresses=ME)
    assert facts.bounce is not None
    assert [(r.address, r.reason, r.hard) for r in facts.bounce.recipients] == [("ivan@theatre.example", reason, hard)]
