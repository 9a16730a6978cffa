"""Parse throughput: ``parse_message`` (what ``mailcrm inspect`` does) vs the bare stdlib parser.

One run, the same messages for both sides:
  (base) ``email.message_from_bytes(raw, policy=email.policy.default)`` - parsing the MIME tree only;
  (a)    ``mailcrm.parse.message.parse_message`` - MIME + charsets + addresses + forward, reply,
         signature, bounce and auto-reply recognition (the inspect-level facts).
The mix is generated here (sent copies, forwards of several clients, replies with quotes,
signatures, bounces, auto-replies, cp1251/koi8-r, HTML-only); when ``$MAILCRM_CORPORA`` is set,
the corpora's messages are added (read-only, never copied).  Prints messages/s for both, the
ratio a/base overall and per category (issue 3).  Nothing is asserted.

    python bench/parse.py [--count 5000] [--rounds 3] [--no-corpora]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailcrm.parse.message import parse_message  # noqa: E402

# flufl.bounce logs a traceback for each detector that trips on odd mail; the daemon silences it
# too (mailcrm/log.py), so the figures are not printed among them.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

ME = "me@example.org"
DROPBOX = "crm+bench@example.org"
PARA = ("Спасибо за предложение, мы обсудили его с коллегами и готовы встретиться на следующей неделе. "
        "Thank you for the offer; we discussed it and would like to meet next week.\n")
SIGNATURE = ("--\nИван Петров\nДиректор по развитию\nООО «Театр на Садовой»\nтел. +7 (495) 123-45-67\n"
             "моб. 8 916 765-43-21\nwww.theatre.example.ru\n")


def _headers(i: int, frm: str, to: str, subject: str, extra: str = "") -> str:
    if not subject.isascii():  # RFC 2047 encoded-word, as a client sends it
        subject = Header(subject, "utf-8").encode()
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 02 Nov 2026 10:{i % 60:02d}:00 +0300\r\n"
            f"Message-ID: <parse-{i}@bench.example>\r\nMIME-Version: 1.0\r\n{extra}")


def _text(i: int, frm: str, to: str, subject: str, body: str, charset: str = "utf-8", extra: str = "") -> bytes:
    payload = body.replace("\n", "\r\n").encode(charset, errors="replace")
    head = _headers(i, frm, to, subject, extra + f"Content-Type: text/plain; charset={charset}\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n")
    return head.encode("ascii") + b"\r\n" + payload


def sent(i: int) -> bytes:
    """A sent copy BCC'd to the dropbox, with our signature."""
    return _text(i, f"Me <{ME}>", f"Ivan Petrov <ivan{i}@theatre.example.ru>", f"Proposal {i}",
                 "Добрый день, Иван!\n\n" + PARA * 8 + "\n--\nMe\n+7 495 000-00-00\n")


FORWARD_HEADS = {
    "gmail": "---------- Forwarded message ---------\nFrom: Ivan Petrov <ivan{i}@theatre.example.ru>\n"
             "Date: Mon, 2 Nov 2026 at 09:15\nSubject: Re: Proposal {i}\nTo: Me <" + ME + ">\n",
    "outlook": "-----Original Message-----\nFrom: Ivan Petrov [mailto:ivan{i}@theatre.example.ru]\n"
               "Sent: Monday, November 2, 2026 9:15 AM\nTo: Me\nSubject: RE: Proposal {i}\n",
    "apple": "Begin forwarded message:\n\nFrom: Ivan Petrov <ivan{i}@theatre.example.ru>\n"
             "Subject: Re: Proposal {i}\nDate: 2 November 2026 at 09:15:00 GMT+3\nTo: Me <" + ME + ">\n",
    "thunderbird": "-------- Forwarded Message --------\nSubject: \tRe: Proposal {i}\n"
                   "Date: \tMon, 2 Nov 2026 09:15:00 +0300\nFrom: \tIvan Petrov <ivan{i}@theatre.example.ru>\n"
                   "To: \t" + ME + "\n",
    "yandex": "-------- Пересылаемое сообщение --------\n"
              "02.11.2026, 09:15, \"Иван Петров\" <ivan{i}@theatre.example.ru>:\n",
    "mailru": "-------- Пересылаемое сообщение --------\nОт кого: Иван Петров <ivan{i}@theatre.example.ru>\n"
              "Кому: " + ME + "\nДата: Понедельник, 2 ноября 2026, 9:15 +03:00\nТема: Re: Proposal {i}\n",
}


def forward(i: int) -> bytes:
    """A reply we got, forwarded to the dropbox by one of several clients."""
    client = list(FORWARD_HEADS)[i % len(FORWARD_HEADS)]
    body = "FYI, see below.\n\n" + FORWARD_HEADS[client].format(i=i) + "\n" + PARA * 5 + "\n" + SIGNATURE
    return _text(i, f"Me <{ME}>", DROPBOX, f"Fwd: Re: Proposal {i}", body)


def forward_attached(i: int) -> bytes:
    """A forward as a message/rfc822 attachment."""
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = f"Me <{ME}>", DROPBOX, f"Fwd: Proposal {i}"
    outer["Date"], outer["Message-ID"] = "Mon, 02 Nov 2026 10:00:00 +0300", f"<parse-att-{i}@bench.example>"
    outer.set_content("See attached.\n")
    inner = email.message_from_bytes(reply(i), policy=email.policy.default)
    outer.add_attachment(inner)
    return outer.as_bytes()


def reply(i: int) -> bytes:
    """A reply with a quoted history (English and Russian attribution lines)."""
    attribution = ("On Mon, Nov 2, 2026 at 9:15 AM Me <" + ME + "> wrote:" if i % 2
                   else "02.11.2026, 09:15, Me <" + ME + "> написал(а):")
    quoted = "".join("> " + line + "\n" for line in (PARA * 6).splitlines())
    body = "Согласны, давайте в четверг.\n\n" + SIGNATURE + "\n" + attribution + "\n" + quoted + ">> older\n" * 20
    return _text(i, f"Ivan Petrov <ivan{i}@theatre.example.ru>", f"Me <{ME}>", f"Re: Proposal {i}", body)


def signature_only(i: int) -> bytes:
    """A short note whose interest is the signature block."""
    return _text(i, f"Ivan Petrov <ivan{i}@theatre.example.ru>", f"Me <{ME}>", f"Contacts {i}",
                 "Коллеги, мои новые контакты ниже.\n\nС уважением,\n" + SIGNATURE[3:])


def bounce(i: int) -> bytes:
    """An RFC 3464 delivery status notification for a message we sent."""
    b = f"dsn{i}"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {ME}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: Mon, 02 Nov 2026 10:00:00 +0300\r\n"
        f"Message-ID: <bounce-{i}@mx.example.org>\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"{b}\"\r\n\r\n"
        f"--{b}\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
        f"be delivered to one or more recipients.\r\n\r\n<gone{i}@corp.example>: host mx.corp.example said: "
        f"550 5.1.1 <gone{i}@corp.example>: Recipient address rejected: User unknown\r\n\r\n"
        f"--{b}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; gone{i}@corp.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {ME}\r\nTo: gone{i}@corp.example\r\n"
        f"Subject: Proposal {i}\r\nMessage-ID: <orig-{i}@example.org>\r\n\r\n--{b}--\r\n"
    ).encode()


def autoreply(i: int) -> bytes:
    """An RFC 3834 out-of-office answer with a return date."""
    return _text(i, f"Ivan Petrov <ivan{i}@theatre.example.ru>", f"Me <{ME}>", f"Автоответ: Re: Proposal {i}",
                 "Я в отпуске до 15.11.2026, с ограниченным доступом к почте.\n"
                 "I am out of the office until November 15, 2026.\n",
                 extra="Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n")


def cp1251(i: int) -> bytes:
    """Raw 8-bit windows-1251 body and Subject (a classic Russian mail client)."""
    head = (f"From: =?windows-1251?B?yeLg7SDP5fLw7uI=?= <ivan{i}@theatre.example.ru>\r\nTo: {ME}\r\n").encode()
    rest = _text(i, "", "", "", "Иван, добрый день!\n\n" + PARA * 4 + "\n" + SIGNATURE, charset="windows-1251")
    rest = rest.replace(b"From: \r\nTo: \r\n", b"")
    rest = rest.replace(b"Subject: \r\n", "Subject: Предложение\r\n".encode("cp1251"))  # raw 8-bit header
    return head + rest


def koi8r(i: int) -> bytes:
    """KOI8-R body with an encoded-word Subject."""
    return _text(i, f"Ivan Petrov <ivan{i}@theatre.example.ru>", f"Me <{ME}>",
                 "=?koi8-r?B?8NLFxMzP1sXOycU=?=", "Добрый день!\n\n" + PARA * 4 + "\n" + SIGNATURE, charset="koi8-r")


def html_only(i: int) -> bytes:
    """A text/html-only reply with a blockquote and a signature table."""
    quoted = "".join(f"<p>{PARA}</p>" for _ in range(6))
    html = (f"<html><body><div>Согласны, давайте в четверг.</div><br><div>С уважением,<br>Иван Петров<br>"
            f"Директор<br>+7 (495) 123-45-67</div><div class=\"gmail_quote\">On Mon, Nov 2, 2026 Me &lt;{ME}&gt; "
            f"wrote:<blockquote>{quoted}</blockquote></div></body></html>")
    head = _headers(i, f"Ivan Petrov <ivan{i}@theatre.example.ru>", f"Me <{ME}>", f"Re: Proposal {i}",
                    "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
    import quopri
    return head.encode() + b"\r\n" + quopri.encodestring(html.encode())


def with_attachment(i: int) -> bytes:
    """multipart/alternative text+HTML plus a 20 KB PDF attachment (base64)."""
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = f"Ivan Petrov <ivan{i}@theatre.example.ru>", ME, f"Re: Proposal {i}"
    m["Date"], m["Message-ID"] = "Mon, 02 Nov 2026 10:00:00 +0300", f"<parse-pdf-{i}@bench.example>"
    m.set_content("Договор во вложении.\n\n" + SIGNATURE)
    m.add_alternative("<p>Договор во вложении.</p>", subtype="html")
    m.add_attachment(bytes(range(256)) * 80, maintype="application", subtype="pdf", filename="договор.pdf")
    return m.as_bytes()


GENERATORS: dict[str, Callable[[int], bytes]] = {
    "sent": sent, "forward": forward, "forward-attached": forward_attached, "reply": reply,
    "signature": signature_only, "bounce": bounce, "autoreply": autoreply, "cp1251": cp1251, "koi8-r": koi8r,
    "html-only": html_only, "attachment": with_attachment,
}


def _looks_like_message(data: bytes) -> bool:
    head = data[:2000].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    return any(line[:1].isalpha() and b":" in line.split(b" ", 1)[0] for line in head.splitlines()[:3]) and \
        (b"\nFrom:" in b"\n" + head or b"\nReceived:" in b"\n" + head or b"\nSubject:" in b"\n" + head)


def corpus_messages(root: Path) -> list[tuple[str, bytes]]:
    """The corpora's messages (bodies-only cases are wrapped in a minimal message, as a client would send)."""
    out: list[tuple[str, bytes]] = []
    for name in ("bounces", "parsing"):
        manifest = root / name / "manifest.jsonl"
        if not manifest.is_file():
            continue
        for n, line in enumerate(manifest.read_text().splitlines()):
            case = json.loads(line)
            path = root / name / (case.get("file") or case.get("path") or "")
            if not path.is_file():
                continue
            data = path.read_bytes()
            if not _looks_like_message(data):
                ctype = "text/html" if (case.get("input") or {}).get("format") == "html" else "text/plain"
                data = (_headers(900_000 + n, f"Ivan Petrov <ivan{n}@theatre.example.ru>", f"Me <{ME}>", "Re: corpus",
                                 f"Content-Type: {ctype}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
                        .encode() + b"\r\n" + data)
            out.append((f"corpus:{name}", data))
    return out


def rate(fn: Callable[[bytes], object], msgs: list[bytes], rounds: int) -> float:
    """Best messages/s over ``rounds`` passes."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for m in msgs:
            fn(m)
        best = min(best, time.perf_counter() - t0)
    return len(msgs) / best


def main() -> None:
    """Build the mix, time both parsers, print the summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=5000, help="generated messages (spread over the categories)")
    ap.add_argument("--rounds", type=int, default=3, help="passes per side; the best is shown")
    ap.add_argument("--no-corpora", action="store_true", help="ignore $MAILCRM_CORPORA")
    args = ap.parse_args()

    by_cat: dict[str, list[bytes]] = {}
    cats = list(GENERATORS)
    for i in range(args.count):
        cat = cats[i % len(cats)]
        by_cat.setdefault(cat, []).append(GENERATORS[cat](i))
    corpora = os.environ.get("MAILCRM_CORPORA")
    if corpora and not args.no_corpora and Path(corpora).is_dir():
        for cat, data in corpus_messages(Path(corpora)):
            by_cat.setdefault(cat, []).append(data)
    users, dropboxes = frozenset({ME}), frozenset({DROPBOX})

    def stdlib(raw: bytes) -> object:
        return email.message_from_bytes(raw, policy=email.policy.default)

    failures: list[str] = []

    def mailcrm(raw: bytes) -> object:
        try:
            return parse_message(raw, user_addresses=users, dropbox_addresses=dropboxes)
        except Exception as exc:  # noqa: BLE001 - parsing must never raise: count, don't stop
            failures.append(f"{type(exc).__name__}: {exc}")
            return None

    allmsgs = [m for ms in by_cat.values() for m in ms]
    size = sum(map(len, allmsgs)) / len(allmsgs)
    base = rate(stdlib, allmsgs, args.rounds)
    ours = rate(mailcrm, allmsgs, args.rounds)
    print(f"messages: {len(allmsgs)} (~{size / 1024:.1f} KB each), {args.rounds} rounds, best shown")
    print(f"(base) email.message_from_bytes(policy=default): {base:8.0f} msg/s")
    print(f"(a)    parse_message (inspect level):            {ours:8.0f} msg/s   ratio a/base = {ours / base:.2f}")
    print(f"{'category':<18}{'n':>6}{'base msg/s':>12}{'a msg/s':>10}{'a/base':>8}")
    for cat, ms in by_cat.items():
        b, a = rate(stdlib, ms, 1), rate(mailcrm, ms, 1)
        print(f"{cat:<18}{len(ms):>6}{b:>12.0f}{a:>10.0f}{a / b:>8.2f}")
    if failures:
        print(f"parse_message RAISED on {len(failures) // (args.rounds + 1)} messages (must never raise), "
              f"e.g. {failures[0]}")


if __name__ == "__main__":
    main()
