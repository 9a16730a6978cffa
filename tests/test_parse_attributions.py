"""Reply attributions as mail clients write them in many UI languages, whole and wrapped.

Gmail, Apple Mail, Outlook, Thunderbird, Mail.ru and Yandex put one line above the quote:
"On <date>, <name> <address> wrote:", in the reader's language, with the verb first, last or
absent, and wrap it when it is longer than a line (72 columns here, as plain-text clients do).
Both readers of quoted history must find where it starts: the reply-text cutter (the new text
is what is above it) and the signature finder (the signature is the last block above it).
"""

from __future__ import annotations

import textwrap

import pytest

from mailcrm.parse.reply_text import extract_reply
from mailcrm.parse.signature import extract_signature

NEW = "Thanks, that works for us."
QUOTE = "> Dear Anna,\n> here is the play.\n> \n> Best, Ivan\n"
ATTRIBUTIONS = {
 "ja gmail": "2024年1月15日(月) 10:30 Ivan Petrov <ivan@theatre.example>:",
 "zh gmail": "Ivan Petrov <ivan@theatre.example> 于2024年1月15日周一 10:30写道：",
 "zh-tw gmail": "Ivan Petrov <ivan@theatre.example> 於 2024年1月15日 週一 上午10:30寫道：",
 "ko gmail": "2024년 1월 15일 (월) 오전 10:30, Ivan Petrov <ivan@theatre.example>님이 작성:",
 "vi gmail": "Vào Th 2, 15 thg 1, 2024 vào lúc 10:30 Ivan Petrov <ivan@theatre.example> đã viết:",
 "id gmail": "Pada Sen, 15 Jan 2024 pukul 10.30 Ivan Petrov <ivan@theatre.example> menulis:",
 "hr gmail": "pon, 15. sij 2024. u 10:30 Ivan Petrov <ivan@theatre.example> napisao je:",
 "sr gmail": "пон, 15. јан 2024. у 10:30 Ivan Petrov <ivan@theatre.example> је написао/ла:",
 "sl gmail": "pon., 15. jan. 2024 ob 10:30 je Ivan Petrov <ivan@theatre.example> napisal(a):",
 "bg gmail": "пн, 15.01.2024 г. в 10:30 ч. Ivan Petrov <ivan@theatre.example> написа:",
 "uk gmail": "пн, 15 січ. 2024 р. о 10:30 Ivan Petrov <ivan@theatre.example> пише:",
 "lt gmail": "2024-01-15, pr, 10:30 Ivan Petrov <ivan@theatre.example> rašė:",
 "lv gmail": "pirmd., 2024. g. 15. janv., plkst. 10:30 — lietotājs Ivan Petrov (<ivan@theatre.example>) rakstīja:",
 "et gmail": "E, 15. jaan 2024 kell 10:30 Ivan Petrov <ivan@theatre.example> kirjutas:",
 "ca gmail": "El dl., 15 de gen. 2024 a les 10:30, Ivan Petrov (<ivan@theatre.example>) va escriure:",
 "ar gmail": "في الاثنين، 15 يناير 2024 في 10:30 ص، كتب Ivan Petrov <ivan@theatre.example>:",
 "he gmail": "בתאריך יום ב׳, 15 בינו׳ 2024 ב-10:30 מאת Ivan Petrov <ivan@theatre.example>:",
 "th gmail": "เมื่อ จ. 15 ม.ค. 2024 เวลา 10:30 Ivan Petrov <ivan@theatre.example> เขียนว่า:",
 "nl outlook": "Op 15 jan. 2024 om 10:30 heeft Ivan Petrov <ivan@theatre.example> het volgende geschreven:",
 "de apple": "Am 15.01.2024 um 10:30 schrieb Ivan Petrov <ivan@theatre.example>:",
 "ru yandex": "15.01.2024, 10:30, \"Ivan Petrov\" <ivan@theatre.example>:",
 "ru mailru": "Понедельник, 15 января 2024, 10:30 +03:00 от Ivan Petrov <ivan@theatre.example>:",
 "ru outlook": "От: Ivan Petrov <ivan@theatre.example>\nОтправлено: 15 января 2024 г. 10:30\nКому: me@example.org\nТема: Пьеса",
 "fa gmail": "در تاریخ دوشنبه ۱۵ ژانویه ۲۰۲۴ ساعت ۱۰:۳۰ Ivan Petrov <ivan@theatre.example> نوشت:",
 "hi gmail": "सोम, 15 जन॰ 2024 को 10:30 am पर Ivan Petrov <ivan@theatre.example> ने लिखा:",
 "el gmail": "Στις Δευ 15 Ιαν 2024 στις 10:30, ο/η Ivan Petrov <ivan@theatre.example> έγραψε:",
 "tr gmail": "Ivan Petrov <ivan@theatre.example>, 15 Oca 2024 Pzt, 10:30 tarihinde şunu yazdı:",
 "ms": "Pada Isn, 15 Jan 2024 pada 10:30 Ivan Petrov <ivan@theatre.example> menulis:",
 "cs": "po 15. 1. 2024 v 10:30 odesílatel Ivan Petrov <ivan@theatre.example> napsal:",
 "sk": "po 15. 1. 2024 o 10:30 Ivan Petrov <ivan@theatre.example> napísal(a):",
 "hu": "Ivan Petrov <ivan@theatre.example> ezt írta (időpont: 2024. jan. 15., H, 10:30):",
 "pl": "pon., 15 sty 2024 o 10:30 Ivan Petrov <ivan@theatre.example> napisał(a):",
 "fi": "ma 15. tammik. 2024 klo 10.30 Ivan Petrov <ivan@theatre.example> kirjoitti:",
 "ro": "În lun., 15 ian. 2024 la 10:30, Ivan Petrov <ivan@theatre.example> a scris:",
 "pt": "Em seg., 15 de jan. de 2024 às 10:30, Ivan Petrov <ivan@theatre.example> escreveu:",
 "da": "Den man. 15. jan. 2024 kl. 10.30 skrev Ivan Petrov <ivan@theatre.example>:",
}


def _forms() -> list[tuple[str, str]]:
    out = []
    for lang, line in ATTRIBUTIONS.items():
        out.append((lang, line))
        if "\n" not in line and len(line) > 72:
            out.append((lang + " wrapped", "\n".join(textwrap.wrap(line, 72))))
    return out


@pytest.mark.parametrize(("lang", "attribution"), _forms(), ids=[lang for lang, _ in _forms()])
def test_the_new_text_ends_above_the_attribution(lang: str, attribution: str) -> None:
    assert extract_reply(f"{NEW}\n\n{attribution}\n{QUOTE}").strip() == NEW


@pytest.mark.parametrize(("lang", "attribution"), _forms(), ids=[lang for lang, _ in _forms()])
def test_the_signature_ends_above_the_attribution(lang: str, attribution: str) -> None:
    body = f"{NEW}\n\nBest regards,\nAnna Smirnova\nProducer, Theatre Lab\n+7 916 123-45-67\n\n{attribution}\n{QUOTE}"
    sig = extract_signature(body)
    assert sig is not None and sig.name == "Anna Smirnova"
    assert sig.text.rstrip().endswith("+7 916 123-45-67") and "Ivan" not in sig.text


def test_a_short_line_above_a_name_led_attribution_stays_the_authors() -> None:
    # Not wrapped: the two lines together fit on one line, so the upper one is the author's own.
    body = f"Call me at 10:30\nIvan Petrov <ivan@theatre.example> wrote:\n{QUOTE}"
    assert extract_reply(body).strip() == "Call me at 10:30"


# Outlook's "-----Original Message-----" line in its UI languages.
ORIGINAL_MESSAGE = ["Original Message", "Ursprüngliche Nachricht", "Message d'origine", "Mensaje original",
                    "Messaggio originale", "Oorspronkelijk bericht", "Originele bericht", "Исходное сообщение",
                    "Původní zpráva", "Pôvodná správa", "Wiadomość oryginalna", "Oryginalna wiadomość",
                    "Alkuperäinen viesti", "Opprinnelig melding", "Oprindelig meddelelse", "Originalmeddelelse",
                    "Ursprungligt meddelande", "Eredeti üzenet", "Mesaj original", "Mensagem original", "Orijinal Mesaj",
                    "Özgün İleti", "Originalna poruka", "Оригинално съобщение", "Оригінальне повідомлення",
                    "Αρχικό μήνυμα", "原始邮件", "元のメッセージ", "원본 메시지", "Pesan Asli"]


@pytest.mark.parametrize("separator", ORIGINAL_MESSAGE)
def test_outlooks_original_message_line_ends_text_and_signature(separator: str) -> None:
    body = (f"Спасибо, получили.\n\nС уважением,\nАнна Смирнова\nпродюсер\n\n-----{separator}-----\n"
            "From: Ivan\nThe play text\n")
    assert extract_reply(body).strip().startswith("Спасибо, получили.") and "play" not in extract_reply(body)
    sig = extract_signature(body)
    assert sig is not None and sig.name == "Анна Смирнова" and "play" not in sig.text


# Mobile clients' tag lines, in the languages they are set to.
MOBILE_TAGS = ["Sent from my iPhone", "Отправлено с iPhone", "Отправлено из мобильной Почты Mail.ru",
               "Отправлено из мобильной Яндекс.Почты", "Sent from Yandex.Mail for mobile", "Von meinem iPhone gesendet",
               "Envoyé de mon iPhone", "Enviado desde mi iPhone", "Inviato da iPhone", "Verzonden vanaf mijn iPhone",
               "Wysłane z iPhone'a", "Skickat från min iPhone", "Sendt fra min iPhone", "Lähetetty iPhonesta",
               "Enviado do meu iPhone", "iPhone'umdan gönderildi", "Odesláno z iPhonu", "iPhoneから送信",
               "从我的iPhone发送", "Get Outlook for Android", "Sent from Outlook for iOS", "Sent from my Galaxy",
               "Sent via the Samsung Galaxy S23, an AT&T 5G smartphone", "Надіслано з iPhone",
               "Отправлено с моего Huawei", "Sent from my BlackBerry 10 smartphone.", "Sent from Mail for Windows",
               "Отправлено из приложения Почта для Windows", "Скачайте Outlook для Android",
               "Sent from ProtonMail mobile", "Sent with Spark"]


@pytest.mark.parametrize("tag", MOBILE_TAGS)
def test_a_mobile_tag_ends_the_new_text_and_is_no_signature_field(tag: str) -> None:
    reply = (f"Да, подходит.\n\n{tag}\n\n15 янв. 2024 г., в 10:30, Ivan Petrov <ivan@theatre.example> "
             "написал(а):\n\n> Подходит ли вам?\n")
    assert extract_reply(reply).strip() == "Да, подходит."
    sig = extract_signature(f"Да, подходит.\n\nС уважением,\nАнна Смирнова\nпродюсер\n\n{tag}\n")
    assert sig is not None and (sig.name, sig.title, sig.company) == ("Анна Смирнова", "продюсер", None)
