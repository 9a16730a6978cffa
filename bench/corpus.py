"""A seeded generator of realistic mail for the benches (issue 26), written as Maildir or mbox.

The mix: Russian and English; utf-8, windows-1251 and koi8-r (8bit, quoted-printable and base64); plain, HTML and
multipart/alternative; forwards in Gmail, Yandex and Outlook layouts; replies quoting their parent; signatures with
titles, companies and phones; delivery status notifications and auto-replies; attachments; one to many recipients
among a few hundred people; sizes 5-50 KB with a median near 15 KB.  About half the messages are sent by the user
(sent copies: they create contacts when imported); the rest come to the user.

The same (count, seed, user, people) always gives the same bytes, so a bench can compare peers on one corpus.

API::

    from bench.corpus import generate, write_maildir, write_mbox
    for raw in generate(1000, seed=1): ...
    write_maildir("/tmp/mail", 10_000, seed=1)     # makes cur/ new/ tmp/
    write_mbox("/tmp/mail.mbox", 10_000, seed=1)

CLI::

    python bench/corpus.py maildir DIR [--count 10000] [--seed 1] [--user me@example.org] [--people 400]
    python bench/corpus.py mbox FILE  [...]
    python bench/corpus.py stats      [...]     # sizes and the mix, nothing written
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

USER = "me@example.org"
USER_NAME_EN = "Alex Morozov"
USER_NAME_RU = "Алексей Морозов"

FIRST_RU = ["Иван", "Ольга", "Сергей", "Мария", "Дмитрий", "Анна", "Павел", "Екатерина", "Николай", "Татьяна",
            "Андрей", "Юлия", "Михаил", "Наталья", "Владимир", "Елена", "Артём", "Светлана", "Григорий", "Ксения"]
LAST_RU = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
           "Фёдоров", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов"]
FIRST_EN = ["John", "Emily", "Michael", "Sarah", "David", "Laura", "James", "Anna", "Robert", "Jessica", "Daniel",
            "Olivia", "Thomas", "Sophie", "Mark", "Rachel", "Peter", "Helen", "George", "Kate"]
LAST_EN = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Roberts", "Walker",
           "Wright", "Hughes", "Green", "Hall", "Clarke", "Jackson", "Turner", "Harris"]
COMPANIES_RU = ["Альфа-Строй", "Вектор", "Северсталь-Сервис", "ТехноПарк", "Гранит", "Меридиан", "Ромашка",
                "Стройинвест", "Логистик Групп", "Интеграл", "Восход", "Нордтех"]
COMPANIES_EN = ["Acme Corp", "Globex", "Initech", "Umbrella Logistics", "Stark Industries", "Wayne Holdings",
                "Hooli", "Vandelay Import", "Soylent Foods", "Wonka Industries", "Cyberdyne", "Tyrell"]
TITLES_RU = ["Генеральный директор", "Менеджер по продажам", "Руководитель отдела закупок", "Главный инженер",
             "Финансовый директор", "Юрист", "Директор по развитию", "Бухгалтер"]
TITLES_EN = ["CEO", "Sales Manager", "Head of Procurement", "Chief Engineer", "CFO", "Legal Counsel",
             "Business Development Director", "Account Manager"]
FREE_DOMAINS = ["gmail.com", "yandex.ru", "mail.ru", "outlook.com", "ya.ru", "hotmail.com"]

WORDS_RU = ("договор поставка счёт оплата согласование проект сроки объём цена скидка встреча звонок документы "
            "акт сверки предложение коммерческое условия доставка склад партия оборудование монтаж запуск "
            "гарантия сервис отчёт квартал бюджет заказ спецификация приложение подпись печать").split()
WORDS_EN = ("contract delivery invoice payment approval project schedule volume price discount meeting call "
            "documents reconciliation proposal commercial terms shipping warehouse batch equipment installation "
            "launch warranty service report quarter budget order specification attachment signature").split()
GLUE_RU = "и в на по для с к от о что как уже ещё также если только".split()
GLUE_EN = "and in on for with to from about that as already also if only the a of".split()

SUBJECTS_RU = ["Договор поставки", "Счёт на оплату", "Коммерческое предложение", "Встреча на следующей неделе",
               "Акт сверки за квартал", "Спецификация к заказу", "Сроки поставки", "Вопрос по оплате",
               "Документы для подписи", "Проект монтажа"]
SUBJECTS_EN = ["Supply contract", "Invoice for payment", "Commercial proposal", "Meeting next week",
               "Quarterly reconciliation", "Order specification", "Delivery schedule", "Payment question",
               "Documents to sign", "Installation project"]

KINDS = [  # (kind, weight)
    ("plain", 30), ("reply", 25), ("forward", 12), ("html", 8), ("alternative", 10),
    ("attachment", 8), ("bounce", 3), ("autoreply", 4),
]


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    ru: bool
    company: str
    title: str
    phone: str
    site: str


def _translit(s: str) -> str:
    table = str.maketrans({
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
        "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
        "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "",
        "э": "e", "ю": "yu", "я": "ya", "-": "-", " ": "-",
    })
    return s.lower().translate(table)


def people(n: int, seed: int) -> list[Person]:
    """``n`` distinct correspondents (about half Russian), each with a company, title and phone."""
    rnd = random.Random(f"people:{seed}")
    out: list[Person] = []
    seen: set[str] = set()
    while len(out) < n:
        ru = rnd.random() < 0.55
        if ru:
            first, last = rnd.choice(FIRST_RU), rnd.choice(LAST_RU)
            if first[-1] in "аяь" and first not in ("Илья",):
                last += "а"
            company = rnd.choice(COMPANIES_RU)
            title = rnd.choice(TITLES_RU)
            phone = f"+7 ({rnd.randint(495, 499)}) {rnd.randint(100, 999)}-{rnd.randint(10, 99)}-{rnd.randint(10, 99)}"
            dom = _translit(company).replace("--", "-") + rnd.choice([".ru", ".com", ".рф" if False else ".ru"])
            local = f"{_translit(first)[0]}.{_translit(last)}"
        else:
            first, last = rnd.choice(FIRST_EN), rnd.choice(LAST_EN)
            company = rnd.choice(COMPANIES_EN)
            title = rnd.choice(TITLES_EN)
            phone = f"+1 {rnd.randint(200, 989)} {rnd.randint(200, 999)} {rnd.randint(1000, 9999)}"
            dom = company.lower().replace(" ", "") + rnd.choice([".com", ".io", ".co.uk"])
            local = f"{first.lower()}.{last.lower()}"
        if rnd.random() < 0.2:
            dom = rnd.choice(FREE_DOMAINS)
            local += str(rnd.randint(1, 999))
        email = f"{local}@{dom}"
        if email in seen:
            email = f"{local}{len(out)}@{dom}"
        seen.add(email)
        out.append(Person(f"{first} {last}", email, ru, company, title, phone, "www." + dom))
    return out


def _sentence(rnd: random.Random, ru: bool) -> str:
    words, glue = (WORDS_RU, GLUE_RU) if ru else (WORDS_EN, GLUE_EN)
    n = rnd.randint(6, 16)
    out = [rnd.choice(words) if rnd.random() < 0.6 else rnd.choice(glue) for _ in range(n)]
    if rnd.random() < 0.2:
        out.insert(rnd.randint(0, n), f"{rnd.randint(1, 9999)}")
    s = " ".join(out)
    return s[0].upper() + s[1:] + rnd.choice([".", ".", ".", "?", "!"])


def _paragraphs(rnd: random.Random, ru: bool, chars: int) -> list[str]:
    paras: list[str] = []
    total = 0
    while total < chars:
        p = " ".join(_sentence(rnd, ru) for _ in range(rnd.randint(2, 6)))
        paras.append(p)
        total += len(p) + 2
    return paras


def _wrap(p: str, width: int = 76) -> str:
    lines, cur = [], ""
    for w in p.split():
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(cur)
    return "\n".join(lines)


def _signature(p: Person, rnd: random.Random) -> str:
    greet = ("С уважением,\n" if p.ru else "Best regards,\n") if rnd.random() < 0.8 else ""
    lines = [p.name, p.title, p.company if not p.ru else f"ООО «{p.company}»"]
    if rnd.random() < 0.85:
        lines.append(("Тел.: " if p.ru else "Tel: ") + p.phone)
    if rnd.random() < 0.5:
        lines.append(("Моб.: " if p.ru else "Mobile: ") + p.phone[:-5] + f"{rnd.randint(10, 99)}-{rnd.randint(10, 99)}")
    if rnd.random() < 0.6:
        lines.append(p.site)
    dash = "-- \n" if rnd.random() < 0.6 else ""
    return f"{greet}{dash}" + "\n".join(lines)


_KOI8_FIX = str.maketrans({"«": '"', "»": '"', "№": "N"})


def _fits(text: str, charset: str) -> str:
    """``charset`` if it can encode ``text``, else utf-8 (koi8-r has no « » or №)."""
    try:
        text.encode(charset)
        return charset
    except UnicodeEncodeError:
        return "utf-8"


def _addr(p: Person, charset: str) -> str:
    charset = _fits(p.name, charset)
    if p.name.isascii():
        return formataddr((p.name, p.email))
    return formataddr((p.name, p.email), charset=charset)


def _subject(text: str, charset: str) -> str:
    if text.isascii():
        return text
    return Header(text, _fits(text, charset)).encode()


def _text_part(text: str, subtype: str, charset: str, cte: str) -> Message:
    """A text/* part in ``charset`` with the given transfer encoding (8bit, quoted-printable or base64)."""
    if charset == "koi8-r":
        text = text.translate(_KOI8_FIX)
    charset = _fits(text, charset)
    if cte == "7bit" and not text.isascii():
        cte = "quoted-printable"
    if cte == "8bit" or text.isascii():
        part = MIMENonMultipart("text", subtype, charset=charset)
        raw = text.encode(charset, errors="replace")
        part.set_payload(raw.decode("ascii", "surrogateescape"))
        part["Content-Transfer-Encoding"] = "8bit" if not text.isascii() else "7bit"
        return part
    part = MIMEText("", subtype, "utf-8")
    del part["Content-Transfer-Encoding"]
    del part["Content-Type"]
    part["Content-Type"] = f'text/{subtype}; charset="{charset}"'
    raw = text.encode(charset, errors="replace")
    if cte == "base64":
        import base64
        enc = base64.encodebytes(raw).decode("ascii")
    else:
        import quopri
        enc = quopri.encodestring(raw).decode("ascii")
    part.set_payload(enc)
    part["Content-Transfer-Encoding"] = cte
    return part


def _html(paras: list[str], sig: str, quoted: str = "") -> str:
    body = "".join(f'<p style="margin:0 0 10px 0">{p}</p>\n' for p in paras)
    sig_html = "<br>\n".join(sig.splitlines())
    q = f'<blockquote style="border-left:1px solid #ccc;padding-left:8px">{quoted}</blockquote>' if quoted else ""
    return ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            '<style>body{font-family:Calibri,Arial,sans-serif;font-size:11pt}</style></head>\n'
            f'<body><div dir="ltr">\n{body}<div class="signature">{sig_html}</div>\n{q}</div></body></html>\n')


def _pick_charset(rnd: random.Random, ru: bool) -> tuple[str, str]:
    if not ru:
        return "utf-8", rnd.choice(["8bit", "quoted-printable", "7bit"])
    charset = rnd.choices(["utf-8", "windows-1251", "koi8-r"], weights=[60, 28, 12])[0]
    cte = rnd.choices(["8bit", "quoted-printable", "base64"], weights=[40, 30, 30])[0]
    return charset, cte


def _target_size(rnd: random.Random) -> int:
    return int(min(50_000, max(5_000, rnd.lognormvariate(math.log(15_000), 0.5))))


FORWARD_LAYOUTS = ["gmail", "yandex", "outlook"]


def _forward_block(layout: str, ru: bool, orig: Person, to: str, when: dt.datetime, subject: str,
                   body: str) -> str:
    if layout == "gmail":
        head = "---------- Пересылаемое сообщение ---------" if ru else "---------- Forwarded message ---------"
        date = when.strftime("%a, %b %d, %Y at %I:%M %p")
        return (f"{head}\n{'От' if ru else 'From'}: {orig.name} <{orig.email}>\nDate: {date}\n"
                f"Subject: {subject}\nTo: {to}\n\n{body}\n")
    if layout == "yandex":
        head = "-------- Пересылаемое сообщение --------" if ru else "-------- Forwarded message --------"
        end = "-------- Конец пересылаемого сообщения --------" if ru else "-------- End of forwarded message --------"
        return f"{head}\n{when:%d.%m.%Y, %H:%M}, \"{orig.name}\" <{orig.email}>:\n\n{body}\n\n{end}\n"
    if ru:
        return (f"-----Исходное сообщение-----\nОт: {orig.name} [mailto:{orig.email}]\n"
                f"Отправлено: {when:%d.%m.%Y %H:%M}\nКому: {to}\nТема: {subject}\n\n{body}\n")
    return (f"________________________________\nFrom: {orig.name} <{orig.email}>\n"
            f"Sent: {when:%A, %B %d, %Y %I:%M %p}\nTo: {to}\nSubject: {subject}\n\n{body}\n")


def _attribution(rnd: random.Random, ru: bool, who: Person, when: dt.datetime) -> str:
    style = rnd.randrange(3)
    if style == 0:
        return (f"{when:%d.%m.%Y, %H:%M}, \"{who.name}\" <{who.email}>:" if ru
                else f"On {when:%a, %d %b %Y at %H:%M}, {who.name} <{who.email}> wrote:")
    if style == 1:
        return (f"{when:%a, %d %b %Y} в {when:%H:%M}, {who.name} <{who.email}> написал(а):" if ru
                else f"On {when:%d/%m/%Y %H:%M}, {who.name} wrote:")
    return (f"{when:%d.%m.%Y %H:%M}, {who.name} пишет:" if ru
            else f"{who.name} <{who.email}> wrote on {when:%Y-%m-%d %H:%M}:")


class _Gen:
    def __init__(self, seed: int, user: str, n_people: int) -> None:
        self.rnd = random.Random(f"mail:{seed}")
        self.seed = seed
        self.user = user
        self.people = people(n_people, seed)
        # a few hundred people, but mail concentrates on some of them (Zipf-like)
        self.weights = [1.0 / (i + 1) ** 0.8 for i in range(n_people)]
        self.start = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
        self.sent: list[tuple[str, str, Person]] = []  # (message-id, subject, correspondent) for replies
        self.scale = 1.0

    def boundary(self) -> str:
        """A MIME boundary from the seeded generator (the stdlib's own is random per run)."""
        return f"----=_Part_{self.rnd.getrandbits(64):016x}"

    def person(self) -> Person:
        return self.rnd.choices(self.people, weights=self.weights)[0]

    def message(self, i: int) -> bytes:
        """Message ``i``, rebuilt once with its filler scaled when it misses its drawn size by much."""
        state = self.rnd.getstate()
        sent = list(self.sent)
        self.scale = 1.0
        target = _target_size(self.rnd)
        raw = self._message(i, target)
        if not 0.8 * target <= len(raw) <= 1.25 * target:
            self.rnd.setstate(state)
            self.sent = sent
            self.scale = max(0.05, (target - 1500) / max(1, len(raw) - 1500))
            target = _target_size(self.rnd)
            raw = self._message(i, target)
        return raw

    def _message(self, i: int, target: int) -> bytes:
        rnd = self.rnd
        kind = rnd.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        when = self.start + dt.timedelta(minutes=37 * i + rnd.randint(0, 30))
        if kind == "bounce":
            return self._bounce(i, when, target)
        if kind == "autoreply":
            return self._autoreply(i, when, target)
        peer = self.person()
        ru = peer.ru
        outgoing = rnd.random() < 0.5
        me = Person(USER_NAME_RU if ru else USER_NAME_EN, self.user, ru, "Морозов и партнёры" if ru else "Morozov & Co",
                    "Директор" if ru else "Director", "+7 (495) 765-43-21", "www.example.org")
        sender, main = (me, peer) if outgoing else (peer, me)
        charset, cte = _pick_charset(rnd, ru)
        subject = rnd.choice(SUBJECTS_RU if ru else SUBJECTS_EN)
        if rnd.random() < 0.5:
            subject += f" №{rnd.randint(1, 999)}" if ru else f" #{rnd.randint(1, 999)}"
        # overhead of headers, signature and quoting: the body filler takes the rest of the target
        factor = 1.0
        if ru and charset == "utf-8":
            factor *= 1.8
        if cte == "base64":
            factor *= 1.37
        elif cte == "quoted-printable" and ru:
            factor *= 3.0 if charset == "utf-8" else 2.9
        if kind in ("html", "alternative"):
            factor *= 1.3 if kind == "html" else 2.3
        attach_bytes = 0
        if kind == "attachment":
            attach_bytes = int(target * rnd.uniform(0.4, 0.8))
        chars = max(300, int(self.scale * (target - 1200 - attach_bytes * 1.37) / factor))
        attach_bytes = int(attach_bytes * self.scale)
        in_reply_to = None
        quoted = ""
        parents = [s for s in self.sent if s[2].ru == ru] if kind == "reply" else []
        if parents:
            mid, subj0, p0 = parents[rnd.randrange(len(parents))]
            peer = p0
            sender, main = (me, peer) if outgoing else (peer, me)
            in_reply_to = mid
            subject = ("Re: " if not ru or rnd.random() < 0.7 else "RE: ") + subj0
            own = int(chars * rnd.uniform(0.2, 0.5))
            qparas = _paragraphs(rnd, ru, chars - own)
            qtext = "\n\n".join(_wrap(p) for p in qparas) + "\n\n" + _signature(main, rnd)
            attr = _attribution(rnd, ru, main, when - dt.timedelta(hours=rnd.randint(1, 72)))
            quoted = attr + "\n" + "\n".join("> " + ln if ln else ">" for ln in qtext.splitlines())
            chars = own
        paras = _paragraphs(rnd, ru, chars)
        greeting = (f"Добрый день, {main.name.split()[0]}!" if ru else f"Hi {main.name.split()[0]},")
        sig = _signature(sender, rnd)
        if kind == "forward":
            orig = self.person()
            layout = rnd.choice(FORWARD_LAYOUTS)
            head = paras[:1]
            inner = "\n\n".join(_wrap(p) for p in paras[1:] or paras) + "\n\n" + _signature(orig, rnd)
            to_line = f"{sender.name} <{sender.email}>"
            block = _forward_block(layout, ru, orig, to_line, when - dt.timedelta(days=rnd.randint(0, 20)),
                                   subject, inner)
            subject = ("Fwd: " if layout == "gmail" else "Fw: " if layout == "outlook" else "Пересылка: " if ru
                       else "Fwd: ") + subject
            text = (greeting + "\n\n" + "\n\n".join(_wrap(p) for p in head) + "\n\n" + sig + "\n\n" + block)
        else:
            text = greeting + "\n\n" + "\n\n".join(_wrap(p) for p in paras) + "\n\n" + sig + "\n"
            if quoted:
                text += "\n" + quoted + "\n"
        if kind == "html":
            body: Message = _text_part(_html([greeting, *paras], sig, quoted.replace("\n", "<br>\n")), "html",
                                       charset, cte)
        elif kind == "alternative":
            body = MIMEMultipart("alternative", boundary=self.boundary())
            body.attach(_text_part(text, "plain", charset, cte))
            body.attach(_text_part(_html([greeting, *paras], sig, quoted.replace("\n", "<br>\n")), "html",
                                   charset, cte))
        else:
            body = _text_part(text, "plain", charset, cte)
        if kind == "attachment":
            outer = MIMEMultipart("mixed", boundary=self.boundary())
            outer.attach(body)
            name, att = self._attachment(ru, attach_bytes)
            outer.attach(att)
            msg = outer
        else:
            msg = body
        # recipients: usually one, sometimes several, now and then many
        to = [main]
        cc: list[Person] = []
        r = rnd.random()
        if r < 0.25:
            to += [self.person() for _ in range(rnd.randint(1, 3))]
        elif r < 0.35:
            cc += [self.person() for _ in range(rnd.randint(2, 8))]
        elif r < 0.38:
            to += [self.person() for _ in range(rnd.randint(10, 30))]
        hcs = charset if charset != "utf-8" or rnd.random() < 0.7 else "utf-8"
        msg["From"] = _addr(sender, hcs)
        msg["To"] = ", ".join(_addr(p, hcs) for p in dict.fromkeys(to))
        if cc:
            msg["Cc"] = ", ".join(_addr(p, hcs) for p in dict.fromkeys(cc))
        msg["Subject"] = _subject(subject, hcs)
        msg["Date"] = format_datetime(when)
        mid = f"<{self.seed}.{i}.{rnd.getrandbits(40):x}@{sender.email.split('@')[1]}>"
        msg["Message-ID"] = mid
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
            msg["References"] = in_reply_to
        msg["MIME-Version"] = "1.0"
        msg["X-Mailer"] = rnd.choice(["Microsoft Outlook 16.0", "Yandex.Mail", "Thunderbird 115.6.0",
                                      "Apple Mail (2.3774)", "Gmail"])
        if kind != "reply" or rnd.random() < 0.3:
            self.sent.append((mid, subject.removeprefix("Re: ").removeprefix("RE: "), peer))
            if len(self.sent) > 500:
                self.sent.pop(0)
        return _flatten(msg, when)

    def _attachment(self, ru: bool, size: int) -> tuple[str, Message]:
        rnd = self.rnd
        kind = rnd.randrange(3)
        if kind == 0:
            name = rnd.choice(["Договор.pdf", "Счёт №123.pdf", "Спецификация.pdf"] if ru else
                              ["contract.pdf", "invoice-123.pdf", "specification.pdf"])
            data = b"%PDF-1.4\n" + rnd.randbytes(max(100, size))
            att: Message = MIMEApplication(data, "pdf")
        elif kind == 1:
            name = "photo.jpg"
            att = MIMEBase("image", "jpeg")
            att.set_payload(b"\xff\xd8\xff\xe0" + rnd.randbytes(max(100, size)))
            from email import encoders
            encoders.encode_base64(att)
        else:
            name = "прайс.csv" if ru else "prices.csv"
            rows = "\n".join(f"{rnd.choice(WORDS_RU if ru else WORDS_EN)};{rnd.randint(1, 999)};{rnd.random():.2f}"
                             for _ in range(max(1, size // 24)))
            att = MIMEApplication(rows.encode("utf-8"), "octet-stream")
            att.replace_header("Content-Type", "text/csv; charset=utf-8")
        if name.isascii():
            att.add_header("Content-Disposition", "attachment", filename=name)
        else:
            att.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
        return name, att

    def _bounce(self, i: int, when: dt.datetime, target: int) -> bytes:
        rnd = self.rnd
        p = self.person()
        bad = p.email.split("@")[0] + ("x" if rnd.random() < 0.5 else "") + "@" + p.email.split("@")[1]
        status, code, why = rnd.choice([
            ("5.1.1", "550", "5.1.1 <{a}>: Recipient address rejected: User unknown in virtual mailbox table"),
            ("5.2.2", "552", "5.2.2 <{a}>: Mailbox full"),
            ("4.4.1", "451", "4.4.1 Connection timed out"),
            ("5.7.1", "554", "5.7.1 Message rejected as spam"),
        ])
        why = why.format(a=bad)
        host = rnd.choice(["mx.yandex.ru", "mxs.mail.ru", "aspmx.l.google.com", "mail.example.org"])
        outer = MIMEMultipart("report", boundary=self.boundary(), report_type="delivery-status")
        text = (f"This is the mail system at host mail.example.org.\n\n"
                f"I'm sorry to have to inform you that your message could not\nbe delivered to one or more "
                f"recipients. It's attached below.\n\n<{bad}>: host {host} said: {code} {why}\n")
        outer.attach(MIMEText(text, "plain", "us-ascii"))
        ds = MIMENonMultipart("message", "delivery-status")
        per_msg, per_rcpt = Message(), Message()
        per_msg["Reporting-MTA"] = "dns; mail.example.org"
        per_msg["Arrival-Date"] = format_datetime(when)
        for k, v in (("Final-Recipient", f"rfc822; {bad}"), ("Original-Recipient", f"rfc822;{bad}"),
                     ("Action", "failed" if status[0] == "5" else "delayed"), ("Status", status),
                     ("Remote-MTA", f"dns; {host}"), ("Diagnostic-Code", f"smtp; {code} {why}")):
            per_rcpt[k] = v
        ds.set_payload([per_msg, per_rcpt])
        outer.attach(ds)
        # the original (headers and body) as sent
        orig_body = "\n\n".join(_wrap(x) for x in _paragraphs(rnd, p.ru, max(500, int(self.scale * (target - 2500)))))
        orig = MIMEText(orig_body, "plain", "utf-8")
        orig["From"] = formataddr((USER_NAME_EN, self.user))
        orig["To"] = _addr(p, "utf-8")
        orig["Subject"] = _subject(rnd.choice(SUBJECTS_RU if p.ru else SUBJECTS_EN), "utf-8")
        orig["Date"] = format_datetime(when - dt.timedelta(minutes=2))
        orig["Message-ID"] = f"<{self.seed}.{i}.orig@example.org>"
        wrapper = MIMEBase("message", "rfc822")
        wrapper.attach(orig)
        outer.attach(wrapper)
        outer["From"] = "MAILER-DAEMON@mail.example.org (Mail Delivery System)"
        outer["To"] = self.user
        outer["Subject"] = "Undelivered Mail Returned to Sender"
        outer["Date"] = format_datetime(when)
        outer["Message-ID"] = f"<{self.seed}.{i}.bounce@mail.example.org>"
        outer["Auto-Submitted"] = "auto-replied"
        outer["MIME-Version"] = "1.0"
        return _flatten(outer, when, envelope="MAILER-DAEMON")

    def _autoreply(self, i: int, when: dt.datetime, target: int) -> bytes:
        rnd = self.rnd
        p = self.person()
        back = when + dt.timedelta(days=rnd.randint(2, 20))
        if p.ru:
            text = (f"Здравствуйте!\n\nЯ в отпуске до {back:%d.%m.%Y} включительно и не имею доступа к почте.\n"
                    f"По срочным вопросам обращайтесь к коллегам по телефону {p.phone}.\n\n")
            subj = "Автоответ: " + rnd.choice(SUBJECTS_RU)
        else:
            text = (f"Hello,\n\nI am out of the office until {back:%B %d, %Y} with limited access to email.\n"
                    f"For urgent matters please call {p.phone}.\n\n")
            subj = "Out of Office: " + rnd.choice(SUBJECTS_EN)
        text += _signature(p, rnd) + "\n"
        # auto-replies are small, but some quote the whole original message
        # auto-replies quote the original message, which gives them its size
        text += "\n" + "\n".join("> " + _wrap(x) for x in _paragraphs(rnd, p.ru, max(200, int(self.scale * (target - 2000)))))
        charset, cte = _pick_charset(rnd, p.ru)
        msg = _text_part(text, "plain", charset, cte)
        msg["From"] = _addr(p, charset)
        msg["To"] = self.user
        msg["Subject"] = _subject(subj, charset)
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = f"<{self.seed}.{i}.auto@{p.email.split('@')[1]}>"
        msg["Auto-Submitted"] = "auto-replied"
        if rnd.random() < 0.5:
            msg["X-Autoreply"] = "yes"
        msg["MIME-Version"] = "1.0"
        return _flatten(msg, when)


def _flatten(msg: Message, when: dt.datetime, envelope: str = "") -> bytes:
    from email.generator import BytesGenerator
    from io import BytesIO
    # headers first in the order a mail client writes them: move MIME structure headers after the addresses
    structural = [(k, v) for k, v in msg.items() if k.lower() in ("content-type", "content-transfer-encoding",
                                                                   "mime-version", "content-disposition")]
    for k, _ in structural:
        del msg[k]
    for k, v in structural:
        msg[k] = v
    received = (f"from mx.example.net (mx.example.net [192.0.2.{when.minute + 1}])\n\tby mail.example.org "
                f"(Postfix) with ESMTPS id {when:%H%M%S}{when.day:02d}\n\tfor <{USER}>; {format_datetime(when)}")
    buf = BytesIO()
    buf.write(b"Return-Path: <" + (envelope or "bounce").encode() + b"@example.net>\n")
    buf.write(b"Received: " + received.encode() + b"\n")
    BytesGenerator(buf, mangle_from_=False, maxheaderlen=78).flatten(msg)
    return buf.getvalue()


def generate(count: int, seed: int = 1, user: str = USER, n_people: int = 400) -> Iterator[bytes]:
    """``count`` messages as bytes (LF line ends), the same for the same arguments."""
    g = _Gen(seed, user, n_people)
    for i in range(count):
        yield g.message(i)


def write_maildir(path: str | os.PathLike[str], count: int, seed: int = 1, user: str = USER,
                  n_people: int = 400) -> int:
    """Write a Maildir (cur/, new/, tmp/) at ``path``; returns the bytes written.  Names sort in message order."""
    root = Path(path)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    for i, raw in enumerate(generate(count, seed, user, n_people)):
        # seen mail in cur/ with Maildir flags, the newest tenth unseen in new/
        if i >= count - count // 10:
            name = root / "new" / f"{1_700_000_000 + i}.M{i:07d}P{seed}.corpus"
        else:
            name = root / "cur" / f"{1_700_000_000 + i}.M{i:07d}P{seed}.corpus:2,S"
        name.write_bytes(raw)
        total += len(raw)
    return total


def write_mbox(path: str | os.PathLike[str], count: int, seed: int = 1, user: str = USER,
               n_people: int = 400) -> int:
    """Write an mbox (mboxrd quoting of ``From `` lines); returns the bytes written."""
    import re
    total = 0
    quote = re.compile(rb"^(>*From )", re.M)
    with open(path, "wb") as fh:
        for raw in generate(count, seed, user, n_people):
            fh.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n")
            body = quote.sub(rb">\1", raw)
            fh.write(body if body.endswith(b"\n") else body + b"\n")
            fh.write(b"\n")
            total += len(raw)
    return total


def stats(count: int, seed: int, user: str = USER, n_people: int = 400) -> dict[str, object]:
    """Sizes, charsets, kinds and the share sent by the user, for checking the mix."""
    from email import message_from_bytes
    from email.utils import getaddresses
    sizes: list[int] = []
    mix: Counter[str] = Counter()
    sent = 0
    for raw in generate(count, seed, user, n_people):
        sizes.append(len(raw))
        m = message_from_bytes(raw)
        if user in (m.get("From") or ""):
            sent += 1
        for part in m.walk():
            cs = part.get_content_charset()
            if cs and part.get_content_maintype() == "text":
                mix[f"charset:{cs}"] += 1
            mix[f"type:{part.get_content_type()}"] += 1
        rcpts = getaddresses(m.get_all("To", []) + m.get_all("Cc", []))
        mix["many-recipients"] += len(rcpts) >= 10
    sizes.sort()
    return {"count": count, "median_bytes": sizes[len(sizes) // 2], "min_bytes": sizes[0], "max_bytes": sizes[-1],
            "total_mb": round(sum(sizes) / 1e6, 1), "sent_share": round(sent / max(1, count), 2),
            "mix": dict(sorted(mix.items()))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["maildir", "mbox", "stats"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--user", default=USER, help="the user's address (the sender of about half the mail)")
    ap.add_argument("--people", type=int, default=400, help="how many correspondents")
    a = ap.parse_args(argv)
    if a.what == "stats":
        import json
        print(json.dumps(stats(a.count, a.seed, a.user, a.people), ensure_ascii=False, indent=1))
        return 0
    if not a.path:
        print(f"corpus: {a.what} needs a path", file=sys.stderr)
        return 2
    fn = write_maildir if a.what == "maildir" else write_mbox
    n = fn(a.path, a.count, a.seed, a.user, a.people)
    print(f"wrote {a.count} messages, {n / 1e6:.1f} MB, to {a.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
