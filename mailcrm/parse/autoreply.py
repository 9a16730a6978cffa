"""Auto-replies (RFC 3834 headers, vacation texts in English and Russian).

Evidence, strongest first:

* RFC 3834 §5: ``Auto-Submitted`` other than ``no`` (``auto-replied`` always counts;
  ``auto-generated`` counts when the message answers ours or reads like a vacation note —
  periodic reports and notifications are auto-generated but are not answers);
* vendor headers ``X-Autoreply``, ``X-Autorespond``, ``X-Autoresponder``, ``X-Vacation``…
  and ``Precedence: auto_reply``;
* a subject such as "Out of Office", "Automatic reply", "AUTO:", "Автоответ", "Я в отпуске";
* weak hints that need a vacation text too: ``X-Auto-Response-Suppress`` (Exchange puts it on
  every OOF but also on other automatic mail), ``Precedence: bulk/junk/list`` (mailing lists
  use it, so alone it proves nothing);
* an explicit "this is an automatic reply" / "автоматический ответ" sentence in the text.

Challenge/response notices ("you are waitlisted, verify you are human") are auto-replies
with ``reason="challenge-response"``: never a bounce, never a new contact.  Bounce detection
runs first in ``message.parse_message``, so DSNs never reach this module.
"""

from __future__ import annotations

import datetime as dt
import re

from mailcrm.parse import bounce
from mailcrm.parse.addresses import is_automated_sender, is_valid_address, normalize_address
from mailcrm.parse.autoreply_dates import back_date
from mailcrm.parse.facts import Address, AutoReply
from mailcrm.parse.mime import MimeView

_SUBJECT = re.compile(
    r"out of (?:the )?office|\booo\b|automatic(?:ally)? (?:reply|response|answer)|auto[- ]?(?:reply|response|answer|respond)|"
    r"^\s*auto:|away from (?:the )?office|on vacation|on holiday|on leave|vacation (?:reply|message|notice)|"
    r"abwesenheit|automatische antwort|réponse automatique|risposta automatica|respuesta automática|automatyczna odpowied|"
    # Outlook's "Automatic reply:" in its other UI languages (the prefix survives an inline forward, headers do not)
    r"automatisch antwoord|resposta automática|automatiske? svar|automatiskt svar|automaattinen vastaus|"
    r"odpowiedź automatyczna|automatická odpověď|automatická odpoveď|otomatik yan[ıi]t|automatikus válasz|"
    r"răspuns automat|автоматична відповідь|автовідповідь|αυτόματη απάντηση|自動応答|自动回复|自動回覆|자동 회신|"
    r"автоответ|автоматическ(?:ий|ое) (?:ответ|сообщение|уведомление)|я в отпуске|в отпуске|нет на месте|"
    r"вне офиса|отсутств|не в офисе|больше не работает|"
    # "out of office" / "on leave" subjects in the other languages of European partners
    r"absence du bureau|absent(?:e)? du bureau|en congés?\b|fuera de la oficina|de vacaciones|fuori ufficio|in ferie|"
    r"nicht im büro|außer haus|im urlaub|poza biurem|na urlopie|у відпустці|не в офісі",
    re.I,
)
_TEXT = re.compile(
    r"out of (?:the )?office|i am (?:currently )?(?:away|out|on (?:vacation|holiday|leave|annual leave|a business trip))|"
    r"i'?m (?:currently )?(?:away|out of|on (?:vacation|holiday|leave))|on (?:annual|maternity|parental|sick) leave|"
    r"(?:will|shall) be back|i'?ll be back|(?:will )?return(?:ing)? (?:to the office )?on|limited (?:access|connectivity) to (?:my )?e-?mail|"
    r"this is an? auto(?:mated|matic)?[- ]?(?:reply|response|message)|automatic(?:ally generated)? (?:reply|response)|"
    r"no longer (?:works?|working|employed|with)|has left (?:the|our) (?:company|organi[sz]ation|firm|team)|left the company|"
    r"я в отпуске|нахожусь в отпуске|в отпуске до|нет на месте|не в офисе|вне офиса|отсутствую|буду отсутствовать|вернусь|"
    r"автоматическ(?:ий|ое) (?:ответ|сообщение)|автоответ|ограниченн\w* доступ\w* к (?:почте|e-?mail)|"
    r"больше не работает|не работает в (?:компании|нашей)|уволил(?:ся|ась)|покинул[аи]? (?:компанию|организацию)",
    re.I,
)
_EXPLICIT = re.compile(
    r"this is an? auto(?:mated|matic)?[- ]?(?:reply|response)|automatic(?:ally generated)? (?:reply|response)|"
    r"this is the only notification you will receive|автоматическ(?:ий|ое) (?:ответ|сообщение)|автоответ|"
    r"письмо (?:сформировано|создано) автоматически",
    re.I,
)
_PERSON_LEFT = re.compile(
    r"no longer (?:works?|working|employed|with|at|part of)|(?:has|have) left (?:the|our|\w+) ?(?:company|organi[sz]ation|firm|team|business)?|"
    r"left the company|is not with (?:the company|us) any ?more|mailbox is (?:no longer|not) monitored|"
    r"больше не работает|не работает в (?:компании|нашей|организации)|уволил(?:ся|ась)|покинул[аи]? (?:компанию|организацию)|"
    r"больше не (?:сотрудник|является сотрудник)|"
    # the same in the languages of European partners
    r"nicht mehr (?:im unternehmen|bei uns|für (?:uns|das unternehmen)|in unserem unternehmen|beschäftigt|tätig)|"
    r"hat (?:das unternehmen|uns) verlassen|ne fait plus partie|n'est plus (?:en poste|employée?|dans (?:l'entreprise|la société))|"
    r"a quitté (?:l'entreprise|la société|notre)|ya no (?:trabaja|forma parte|está en)|ha dejado (?:la empresa|de trabajar)|"
    r"non lavora più|non fa più parte|ha lasciato (?:l'azienda|la società)|nie pracuje już|już nie pracuje|"
    r"nie jest już pracownik|більше не працює|вже не працює|звільнив(?:ся|лася)",
    re.I,
)
# The address, not the person, is gone (or has a successor): "this address is no longer in use, write to X".
_ADDRESS_GONE = re.compile(
    r"no longer in use|(?:this|my|our) (?:e-?mail )?address (?:has changed|"
    r"is no longer (?:active|valid))|(?:my|our) new (?:e-?mail )?address|new e-?mail address is|"
    r"(?:ящик|адрес|почта) больше не (?:используется|обслуживается|активн)|(?:мой|наш) новый (?:электронный |почтовый )?адрес|"
    r"адрес (?:электронной почты )?(?:изменился|сменился|поменялся)",
    re.I,
)
LEFT_COMPANY = re.compile(f"{_PERSON_LEFT.pattern}|{_ADDRESS_GONE.pattern}", re.I)  # either: stop writing here
# Cheap prefilters (issue 26): each expensive case-insensitive pattern above is tried only when the
# text holds one of the literal pieces that every match of it contains.  ``_fold`` lowers a text the
# way ``re.I`` compares letters (the characters sre treats as case variants of a keyword letter,
# like the dotless ı or the old Cyrillic ᲂ, become that letter), so the test never rejects a text the
# pattern would match: the parse output stays the same, only the misses get cheaper.
_FOLD = str.maketrans({"\u0307": None, "\u0131": "i", "\u017f": "s", "\u1c80": "в", "\u1c81": "д",
                       "\u1c82": "о", "\u1c83": "с", "\u1c84": "т", "\u1c85": "т", "\u1c86": "ъ"})
_RARE = re.compile("[\u0307\u0131\u017f\u1c80-\u1c86]")  # after lower(): İ is i + U+0307, K (Kelvin) is k
_EXPLICIT_KEYS = ("auto", "авто", "notification")
_TEXT_KEYS = ("out of", "i am ", "i'm ", "im ", "leave", "be back", "return", "limited", "auto", "no longer",
              "left ", "отпуск", "нет на месте", "офис", "отсутств", "вернусь", "авто", "ограниченн",
              "не работает", "уволил", "покинул")


def _fold(text: str) -> str:
    """``text`` lowered as ``re.I`` compares letters (for the keyword prefilters)."""
    low = text.lower()
    return low if low.isascii() or not _RARE.search(low) else low.translate(_FOLD)


def _has_any(folded: str, keys: tuple[str, ...]) -> bool:
    return any(k in folded for k in keys)


_AUTO_HEADER_NAME = re.compile(r"^x-[\w-]*(?:auto-?reply|auto-?respon|autoresponder|vacation)", re.I)
_NO = re.compile(r"^\s*(?:no|false|0|off)?\s*$", re.I)
_ADDR = re.compile(r"(?<![A-Za-z0-9._%+\-'])[A-Za-z0-9._%+\-']+@(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}")
_QUOTE_START = re.compile(
    r"^(?:>|-{2,} ?original message|-{2,} ?исходное сообщение|from: |от: |on .{5,80} wrote:|.{5,80} написал\(?а?\)?:)",
    re.I | re.M,
)
_NAME_BEFORE = re.compile(r"([A-ZА-ЯЁ][a-zа-яё]+(?:\s+[A-ZА-ЯЁ][a-zа-яё]+){1,2})\s*[(<:,\-–—]?\s*(?:at\s+|на\s+)?$")


def _header_signal(view: MimeView) -> tuple[str | None, bool]:
    """(strong reason, weak hint seen) from the headers."""
    auto = (view.header("Auto-Submitted") or "").strip().lower()
    strong: str | None = None
    weak = False
    if auto.startswith("auto-replied"):
        strong = "Auto-Submitted: auto-replied"
    elif auto and not auto.startswith("no"):
        weak = True  # auto-generated / auto-notified: automatic, but not necessarily an answer
    for name, value in view.headers:
        low = name.lower()
        if low in ("x-auto-response-suppress", "x-ms-exchange-inbox-rules-loop"):
            weak = True
        elif _AUTO_HEADER_NAME.match(name) and not _NO.match(value):
            strong = strong or f"{name}: {value.strip()[:40]}"
        elif low == "precedence":
            v = value.strip().lower()
            if v == "auto_reply":
                strong = strong or "Precedence: auto_reply"
            elif v in ("bulk", "junk", "list"):
                weak = True
    return strong, weak


HEAD = 4000  # characters of the own text read for the reason, dates and new contacts
_QUOTE_MAX = 200  # no match of _QUOTE_START is longer ("on " + 80 characters + " wrote:")


def _own_head(view: MimeView) -> str:
    """The first HEAD characters of the auto-reply's own text, without the quoted original it may carry.

    The quote is looked for in the first HEAD + _QUOTE_MAX characters only: one that starts
    within HEAD ends there, and one that starts later leaves the first HEAD characters whole.
    """
    text = view.text or ""
    m = _QUOTE_START.search(text, 0, HEAD + _QUOTE_MAX)
    return (text[: m.start()] if m and m.start() > 20 else text)[:HEAD]


def _new_contacts(text: str, own: set[str]) -> tuple[Address, ...]:
    out: list[Address] = []
    for m in _ADDR.finditer(text):
        addr = normalize_address(m.group(0).rstrip(".'"))
        if addr in own or not is_valid_address(addr) or any(a.address == addr for a in out):
            continue
        if is_automated_sender(addr):
            continue
        name_m = _NAME_BEFORE.search(text[max(0, m.start() - 60): m.start()])
        out.append(Address(name_m.group(1) if name_m else None, addr))
    return tuple(out)


def detect_autoreply(view: MimeView, *, sent: dt.datetime | None = None) -> AutoReply | None:
    """Return AutoReply facts when ``view`` is an automatic answer, else None."""
    subject = view.header("Subject") or ""
    strong, weak = _header_signal(view)
    head = _own_head(view)
    if (strong or weak or view.content_type == "multipart/report"
            or re.search(r"no-?reply|do-?not-?reply", view.header("From") or "", re.I)) and bounce.is_challenge(view):
        return AutoReply(reason="challenge-response")
    ctype = " ".join(view.header_all("Content-Type")).lower()
    if "feedback-report" in ctype:
        return AutoReply(reason="feedback-report")  # RFC 5965 complaint: automatic, not an answer
    if "delivery-status" in ctype:
        return AutoReply(reason="delivery-status")  # a DSN that reports no failure (RFC 3464)
    reason: str | None = strong
    if reason is None and _SUBJECT.search(subject):
        reason = f"subject: {_SUBJECT.search(subject).group(0).strip()}"  # type: ignore[union-attr]
    folded = _fold(head) if reason is None else ""
    if reason is None and _has_any(folded, _EXPLICIT_KEYS) and _EXPLICIT.search(head):
        reason = f"text: {_EXPLICIT.search(head).group(0)}"  # type: ignore[union-attr]
    if (reason is None and len(head) < 2500 and (weak or view.header("In-Reply-To"))
            and _has_any(folded, _TEXT_KEYS) and _TEXT.search(head)):
        # A weak header hint (or an answer to our mail) plus a vacation sentence in a short text.
        reason = f"text: {_TEXT.search(head).group(0)}"  # type: ignore[union-attr]
    if reason is None:
        return None
    left = bool(LEFT_COMPANY.search(head) or LEFT_COMPANY.search(subject))
    # Only the address changed (the person is still there): its successor is the same person's.
    moved = left and not (_PERSON_LEFT.search(head) or _PERSON_LEFT.search(subject))
    own = {normalize_address(a) for v in view.header_all("From") + view.header_all("Reply-To") + view.header_all("Sender")
           for a in _ADDR.findall(v)}
    own |= {normalize_address(a) for v in view.header_all("To") + view.header_all("Cc") for a in _ADDR.findall(v)}
    return AutoReply(
        until=None if left else back_date(f"{subject}\n{head}", sent),
        left_company=left,
        new_contacts=_new_contacts(head, own) if left else (),
        moved=moved,
        reason=reason,
    )
