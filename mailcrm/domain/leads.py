"""Form fields -> a ``Lead``: field names mapped (Russian and English defaults), phone in E.164, address checked.

Pure: the pairs a form sent, the form's extra field names, the phone region and the minute of
arrival in; a frozen ``Lead`` out.  Its ``key`` makes a resubmission land once: the builder's
own submission id (Tilda ``tranid``, ``submission_id``...) when it sends one, else a hash of the
form, the fields and the minute.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr

from mailcrm.parse.addresses import is_valid_address, normalize_address

LEAD_FIELDS = ("name", "email", "phone", "company", "message")

# Field names as form builders send them (lower-cased; spaces, dashes and dots fold to "_").
DEFAULT_NAMES: dict[str, str] = {
    **dict.fromkeys(("name", "your_name", "full_name", "fullname", "fio", "first_name", "contact_name",
                     "имя", "фио", "ваше_имя", "имя_фамилия", "контактное_лицо"), "name"),
    **dict.fromkeys(("email", "e_mail", "mail", "your_email", "email_address", "почта", "эл_почта",
                     "электронная_почта", "e_mail_адрес", "емейл", "email_адрес"), "email"),
    **dict.fromkeys(("phone", "tel", "telephone", "phone_number", "your_phone", "mobile", "телефон", "тел",
                     "номер_телефона", "мобильный", "ваш_телефон"), "phone"),
    **dict.fromkeys(("company", "organization", "organisation", "company_name", "компания", "организация",
                     "название_компании"), "company"),
    **dict.fromkeys(("message", "comment", "comments", "text", "your_message", "question", "сообщение",
                     "комментарий", "вопрос", "текст", "ваше_сообщение"), "message"),
}
# "Name <address>" in one field (Contact Form 7's default "From: [your-name] <[your-email]>").
NAME_ADDR = frozenset({"from", "от", "отправитель", "sender"})
# Fields whose value is the builder's own id of the submission.
SUBMISSION_IDS = ("tranid", "submission_id", "submissionid", "response_id", "form_response.token", "event_id",
                  "_submission_id", "entry_id", "id_заявки")
# Fields of the builders' own bookkeeping: not shown as lead data.
SERVICE = re.compile(r"^(formid|formname|tranid|_wpcf7.*|g-recaptcha-response|cf-turnstile-response|"
                     r"event_type|form_response\.(form_id|token|landed_at|submitted_at|definition\..*))$")
_FOLD = re.compile(r"[\s\-.]+")


@dataclass(frozen=True)
class Lead:
    """One form submission, read."""

    key: str  # idempotency key within the form
    name: str | None = None
    email: str | None = None
    phones: tuple[str, ...] = ()
    company: str | None = None
    message: str | None = None
    utm: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, str], ...] = ()  # every other field, as sent
    problems: tuple[str, ...] = field(default=())  # e.g. an invalid address (kept in extra)

    @property
    def reachable(self) -> bool:
        """A lead with an address or a phone can be called back."""
        return bool(self.email or self.phones)

    def to_json(self) -> dict[str, object]:
        """A JSON-friendly dict (timeline entry data)."""
        return {"name": self.name, "email": self.email, "phones": list(self.phones), "company": self.company,
                "message": self.message, "utm": dict(self.utm), "fields": dict(self.extra),
                "problems": list(self.problems)}


def fold(name: str) -> str:
    """A field name as matched: lower case, spaces/dashes/dots as "_"; Typeform "answers.N.ref" -> ref."""
    return _FOLD.sub("_", name.strip().lower()).strip("_")


def normalize_phone(text: str, region: str) -> str | None:
    """E.164 (extension as ;ext=N) or None when ``text`` is not a possible number."""
    import phonenumbers  # here: config imports this module, and most commands never read a phone

    text = text.strip()
    if not text or sum(ch.isdigit() for ch in text) < 5:
        return None
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(num):
        return None
    out = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return f"{out};ext={num.extension}" if num.extension else out


def read_lead(pairs: Sequence[tuple[str, str]], *, form: str, names: Mapping[str, str], region: str,
              minute: str, honeypot: str | None = None) -> Lead:
    """Map submitted pairs to a lead; ``names`` (the form's own map) wins over the defaults."""
    table = {**DEFAULT_NAMES, **{fold(k): v for k, v in names.items()}}
    values: dict[str, list[str]] = {}
    utm: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    submission: str | None = None
    for raw_name, value in pairs:
        value = value.strip()
        key = fold(raw_name)
        if honeypot and key == fold(honeypot):
            continue
        if raw_name.lower() in SUBMISSION_IDS or key in SUBMISSION_IDS:
            submission = submission or value or None
        if SERVICE.match(raw_name.lower()):
            continue
        tail = fold(raw_name.rsplit(".", 1)[-1])  # Webflow {"data": {"Name": ...}} -> "data.Name"
        target = table.get(key) or table.get(tail) or (tail if tail.startswith("utm_") else None)
        if target is None and key.startswith("form_response_hidden_utm_"):
            target = key.removeprefix("form_response_hidden_")
        if target and target.startswith("utm_"):
            if value:
                utm[target] = value
            continue
        if target is None and key in NAME_ADDR and "@" in value:
            display, addr = parseaddr(value)
            if display:
                values.setdefault("name", []).append(display)
            if addr:
                values.setdefault("email", []).append(addr)
            continue
        if target in LEAD_FIELDS and value:
            values.setdefault(target, []).append(value)
            continue
        if value:
            extra.append((raw_name, value))
    problems: list[str] = []
    email = None
    for candidate in values.get("email", []):
        a = normalize_address(candidate)
        if is_valid_address(a):
            email = email or a
        else:
            problems.append(f"not an email address: {candidate!r}")
            extra.append(("email", candidate))
    phones: list[str] = []
    for candidate in values.get("phone", []):
        p = normalize_phone(candidate, region)
        if p is None:
            problems.append(f"not a phone number: {candidate!r}")
            extra.append(("phone", candidate))
        elif p not in phones:
            phones.append(p)
    name = " ".join(values.get("name", [])) or None
    if submission:
        key = "id:" + submission[:180]
    else:
        canon = "\n".join(f"{fold(k)}={v.strip()}" for k, v in sorted(pairs) if fold(k) != fold(honeypot or ""))
        key = "h:" + hashlib.sha256(f"{form}\n{minute}\n{canon}".encode()).hexdigest()
    return Lead(key=key, name=name[:300] if name else None, email=email, phones=tuple(phones),
                company=values["company"][0] if values.get("company") else None, message="\n\n".join(values.get("message", [])) or None,
                utm=tuple(sorted(utm.items())), extra=tuple(extra), problems=tuple(problems))


def honeypot_filled(pairs: Sequence[tuple[str, str]], honeypot: str) -> bool:
    """True when the honeypot field (humans never see it) has a value: a bot."""
    hp = fold(honeypot)
    return any(fold(k) == hp and v.strip() for k, v in pairs)


def sender_matches(senders: Sequence[str], address: str) -> bool:
    """True when ``address`` is one of ``senders`` ("@domain" entries take the whole domain)."""
    a = address.lower()
    return a in senders or any(p.startswith("@") and a.endswith(p) for p in senders)
