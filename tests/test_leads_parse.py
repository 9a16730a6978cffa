"""Form submissions read purely: each content type, each builder's field names, notification mail layouts."""

from __future__ import annotations

import json

import pytest

from mailcrm.domain.leads import honeypot_filled, read_lead, sender_matches
from mailcrm.parse.form_fields import FormBodyError, html_pairs, read_body, text_pairs


def lead(pairs, names=None, **kw):  # type: ignore[no-untyped-def]
    return read_lead(pairs, form="site", names=names or {}, region="RU", minute="2026-12-06T10:00", **kw)


def test_urlencoded_tilda_fields() -> None:
    body = ("Name=%D0%98%D0%B2%D0%B0%D0%BD&Phone=%2B7+(921)+555-99-99&Email=Ivan%40Corp.Example"
            "&tranid=5551234%3A1&formid=form123&utm_source=yandex&utm_campaign=winter").encode()
    got = lead(read_body(body, "application/x-www-form-urlencoded"))
    assert (got.name, got.email, got.phones) == ("Иван", "ivan@corp.example", ("+79215559999",))
    assert got.key == "id:5551234:1"
    assert dict(got.utm) == {"utm_source": "yandex", "utm_campaign": "winter"}
    assert got.extra == ()  # formid is the builder's bookkeeping


def test_russian_field_names_and_local_phone() -> None:
    got = lead([("Имя", "Мария"), ("Телефон", "8 (812) 123-45-67"), ("Компания", "ООО Ромашка"),
                ("Комментарий", "Перезвоните после обеда")])
    assert got.name == "Мария" and got.phones == ("+78121234567",) and got.company == "ООО Ромашка"
    assert got.message == "Перезвоните после обеда" and got.email is None and got.reachable


def test_multipart_contact_form_7_with_field_map() -> None:
    boundary = "----WebKitFormBoundaryX"
    parts = [("_wpcf7", "42"), ("your-name", "John Smith"), ("your-email", "john@example.com"),
             ("tel-737", "+1 415 555 0100"), ("your-message", "Hello")]
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n" for k, v in parts)
    body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nxx\r\n--{boundary}--\r\n"
    pairs = read_body(body.encode(), f"multipart/form-data; boundary={boundary}")
    got = lead(pairs, names={"tel-737": "phone"})
    assert (got.name, got.email, got.phones, got.message) == ("John Smith", "john@example.com", ("+14155550100",),
                                                              "Hello")


def test_json_typeform_google_forms_webflow() -> None:
    typeform = {"event_id": "ev1", "form_response": {"token": "tok-9", "hidden": {"utm_source": "fb"}, "answers": [
        {"type": "text", "text": "Anna", "field": {"id": "a1", "ref": "name"}},
        {"type": "email", "email": "anna@firm.example", "field": {"id": "a2", "ref": "email"}},
        {"type": "phone_number", "phone_number": "+79991234567", "field": {"id": "a3", "ref": "phone"}}]}}
    got = lead(read_body(json.dumps(typeform).encode(), "application/json"))
    assert (got.name, got.email, got.phones) == ("Anna", "anna@firm.example", ("+79991234567",))
    assert dict(got.utm) == {"utm_source": "fb"} and got.key == "id:ev1"
    google = {"Имя": "Олег", "Электронная почта": "oleg@mail.example", "Телефон": "+7 903 000-00-01"}
    got = lead(read_body(json.dumps(google, ensure_ascii=False).encode(), "application/json; charset=utf-8"))
    assert (got.name, got.email, got.phones) == ("Олег", "oleg@mail.example", ("+79030000001",))
    webflow = {"triggerType": "form_submission", "payload": {"name": "Contact Form", "siteId": "s1", "id": "wf-7",
                                                             "data": {"Name": "Kim", "Email": "kim@web.example"}}}
    got = lead(read_body(json.dumps(webflow).encode(), "application/json"))
    assert (got.name, got.email, got.key) == ("Kim", "kim@web.example", "id:wf-7")


@pytest.mark.parametrize("body,ctype,problem", [
    (b'{"name": ', "application/json", "malformed JSON"),
    (b"[1, 2]", "application/json", "must be an object"),
    (b"just text", "application/x-www-form-urlencoded", "no name=value"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=y", "malformed multipart"),
    (b"<xml/>", "text/xml", "unsupported content type"),
])
def test_malformed_bodies_name_the_problem(body: bytes, ctype: str, problem: str) -> None:
    with pytest.raises(FormBodyError, match=problem):
        read_body(body, ctype)


def test_idempotency_key_without_submission_id() -> None:
    a = lead([("name", "A"), ("phone", "+79210000000")])
    b = lead([("phone", "+79210000000"), ("name", "A")])
    c = read_lead([("name", "A"), ("phone", "+79210000000")], form="site", names={}, region="RU",
                  minute="2026-12-06T10:01")
    assert a.key == b.key != c.key


def test_honeypot_and_invalid_values() -> None:
    assert honeypot_filled([("name", "x"), ("_hp", "http://spam")], "_hp")
    assert not honeypot_filled([("name", "x"), ("_hp", "")], "_hp")
    got = lead([("email", "not-an-address"), ("phone", "12"), ("name", "Z")])
    assert got.email is None and got.phones == () and len(got.problems) == 2
    assert ("email", "not-an-address") in got.extra


TILDA_TEXT = """Request details:

Name: Иван Петров
Email: ivan@corp.example
Phone: +7 (921) 555-99-99
Comments: Нужен сайт

Additional information:
Transaction ID: 1234567:890
Form Name: Cart
utm_source: google
https://site.example/page
"""

CF7_TEXT = """От: Пётр Сидоров <petr@shop.example>
Тема: Заказ звонка
Телефон: 8 921 000 11 22

Сообщение:
Позвоните мне
завтра утром

--
Это сообщение отправлено с сайта Магазин (https://shop.example)
"""

CF7_HTML = """<html><body><table border="1">
<tr><td><b>Имя:</b></td><td>Ольга</td></tr>
<tr><td>E-mail</td><td>olga@flowers.example</td></tr>
<tr><td>Телефон</td><td>+7&nbsp;495&nbsp;123-45-67</td></tr>
<tr><td>Сообщение</td><td>Букет к пятнице<br>с доставкой</td></tr>
</table></body></html>"""


def test_tilda_like_text_mail() -> None:
    got = lead(text_pairs(TILDA_TEXT))
    assert (got.name, got.email, got.phones, got.message) == ("Иван Петров", "ivan@corp.example", ("+79215559999",),
                                                              "Нужен сайт")
    assert dict(got.utm) == {"utm_source": "google"}
    assert ("Transaction ID", "1234567:890") in got.extra


def test_cf7_like_text_mail() -> None:
    got = lead(text_pairs(CF7_TEXT))
    assert (got.name, got.email, got.phones) == ("Пётр Сидоров", "petr@shop.example", ("+79210001122",))
    assert got.message == "Позвоните мне\nзавтра утром"


def test_cf7_like_html_table_mail() -> None:
    got = lead(html_pairs(CF7_HTML))
    assert (got.name, got.email, got.phones) == ("Ольга", "olga@flowers.example", ("+74951234567",))
    assert got.message == "Букет к пятнице с доставкой"


def test_sender_patterns() -> None:
    assert sender_matches(["robot@tilda.ws"], "Robot@Tilda.ws")
    assert sender_matches(["@tilda.ws"], "noreply@tilda.ws")
    assert not sender_matches(["@tilda.ws"], "x@evil-tilda.ws.example")
