"""Signature lines: what each line is (name, contact, title/company, prose …) and the fields read.

Phones go through phonenumbers (E.164 out, the extension kept as ";ext=NN" per RFC 3966);
names through mailcrm.parse.names; companies are recognised by legal form, quotes or
organisation words. Pure functions over strings; never raise.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers

from mailcrm.parse.companies import has_legal_form, looks_like_company
from mailcrm.parse.facts import DEFAULT_PHONE_REGION, Address
from mailcrm.parse.names import looks_like_title, parse_person_name

__all__ = ["NAME", "CONTACT", "INFO", "PROSE", "classify_line", "read_fields", "sender_tokens"]

NAME = "name"  # a person's name, maybe with contacts beside it ("Barry Tycholiz - 713-853-1587.")
CONTACT = "contact"  # phone, e-mail, web site, messenger
INFO = "info"  # title, company, address, department: short and not a sentence
PROSE = "prose"  # a sentence of the message

EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)  # run start only: linear
URL = re.compile(
    r"(?:https?://|www\.)[^\s<>()\"'«»]+|"
    r"(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:ru|com|org|net|рф|su|io|info|biz|me|tv|fm|co|uk|de|fr|eu|us|ca|"
    r"ua|by|kz|pro|online|site|studio|media|art|theatre|film|moscow|spb)\b(?:/[^\s<>()\"']*)?",
    re.IGNORECASE,
)
# Digits grouped like a phone number ("+7 (495) 123-45-67", "713.345.3960", "X3-6259", "503) 464-7404").
_DIGIT = re.compile(r"\d")
PHONEISH = re.compile(r"(?:\+|\b[xXхХ]\.?\s?)?\(?\d[\d\s().\-–]{4,}\d")
_LABELS = re.compile(
    r"\b(?:tel|tel\.|phone|ph|fax|mob|mobile|cell|work|home|office|direct|main|e-?mail|mail|web|site|"
    r"skype|telegram|tg|whatsapp|viber|wechat|icq|ext|x|"
    r"тел|телефон|т|м|ф|моб|мобильный|сотовый|раб|рабочий|дом|факс|доб|вн|e-mail|почта|эл|сайт|"
    r"адрес|скайп|телеграм|вотсап)\b\.?:?",
    re.IGNORECASE,
)
_EXT_AFTER = re.compile(r"^\s*+[,;(]?\s*+(?:доб|доп|вн|ext|extn|x|добавочный|внутр)\.?\s*+:?\s*+(\d{1,6})", re.IGNORECASE)
_MOBILE = re.compile(
    r"^\s*+(?:sent|отправлено|envoyé|von meinem|enviado|inviato|verzonden|skickat|sendt|wysłane|odesláno|odoslané|"
    r"надіслано|lähetetty|get outlook|скачайте|загрузите|получите)\b.{0,80}"
    r"(?:iphone|ipad|android|mobile|мобильн|phone|телефон|устройств|почт|mail|outlook|blackberry|"
    r"samsung|galaxy|huawei|xiaomi|яндекс|yandex|handy|smartphone|смартфон|ios|iphonu|iphone'a|iphonesta|"
    r"spark|airmail|bluemail|edison|proton ?mail|superhuman|mailbird|fairemail|k-9)\b.{0,40}$|"
    r"^\s*+(?:iphone|ipad|android)\S*\s*から送信|^\s*+从我的.{1,20}发送|^\s*+發自我的|^\s*+[\w ]++['’]\w+(?:dan|den) gönderildi",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"confidential|intended (?:solely )?(?:only )?for|privileged|disclaimer|received this (?:e-?mail|message) "
    r"in error|not the intended recipient|конфиденциальн|предназначен[оа]? (?:исключительно |только )?для|"
    r"получили (?:это|данное) (?:письмо|сообщение) по ошибке|не является (?:публичной )?офертой|"
    r"please consider the environment|подумайте об окружающей среде",
)  # matched against the lower-cased line: IGNORECASE made it 8x slower on a long line of prose
_SENTENCE_END = re.compile(r"[.!?…](?:[\"')\]»]*)\s*$")
_ABBREV_END = re.compile(r"\b(?:inc|ltd|corp|co|jr|sr|llc|l\.l\.c|plc|st|ave|д|ул|г|пр|оф|стр|корп)\.\s*$",
                         re.IGNORECASE)
_SEPARATORS = re.compile(r"\s+[|•·/◦▪]\s+|\s+[-–—]\s+|\t+|\s{3,}")


def _strip_dashes(text: str) -> str:
    out = text.strip().lstrip("-–—~*").strip()
    # "Todd A. Perry." loses its full stop; "Acme Inc." keeps the abbreviation's.
    return out if _ABBREV_END.search(out) else out.rstrip(".").strip()


def _is_contact(part: str) -> bool:
    """True when a piece of a line is a phone, an address of mail/web, or a labelled handle."""
    # The cheap "in" tests first: each regex has a character it cannot match without ("@", ".",
    # "/", a digit), and this runs on every tail line of every message.
    rest = EMAIL.sub(" ", part) if "@" in part else part
    rest = URL.sub(" ", rest) if "." in rest or "/" in rest else rest
    digits = _DIGIT.search(rest) is not None
    phones = PHONEISH.findall(rest) if digits else []
    if rest == part and not any(sum(ch.isdigit() for ch in p) >= 4 for p in phones):
        return False
    rest = PHONEISH.sub(" ", rest) if digits else rest
    rest = _LABELS.sub(" ", rest)
    return len(re.findall(r"[^\W\d_]{2,}", rest)) <= 2


def _is_name_line(line: str) -> bool:
    parts = [p for p in _SEPARATORS.split(line.strip()) if p.strip()]
    if not parts:
        return False
    if len(parts) == 1 and (_DIGIT.search(line) and PHONEISH.search(line) or "@" in line and EMAIL.search(line)):
        # "Kim x3-5555", "Иван Петров +7 916 123-45-67": a name with a contact beside it.
        rest = _LABELS.sub(" ", PHONEISH.sub(" ", EMAIL.sub(" ", line)))
        rest = rest.strip(" ,;:()[]<>")
        return bool(rest) and parse_person_name(_strip_dashes(rest)) is not None
    if parse_person_name(_strip_dashes(parts[0])) is None:
        return False
    return all(_is_contact(p) or looks_like_title(p) or looks_like_company(p) or _is_short_info(p)
               for p in parts[1:])


def _is_short_info(part: str) -> bool:
    words = part.split()
    return 0 < len(words) <= 6 and not _SENTENCE_END.search(part)


def classify_line(line: str) -> str:
    """One of 'blank', 'mobile', 'disclaimer', NAME, CONTACT, INFO or PROSE."""
    text = line.strip().lstrip(">").strip() if line.lstrip().startswith(">") else line.strip()
    return _classify(text)


# A line is classified for the model's features, for the end of the content and for the block:
# the same text up to three times per message, and signature lines recur from mail to mail.
@lru_cache(maxsize=16384)
def _classify(text: str) -> str:
    if not text:
        return "blank"
    if _MOBILE.match(text):
        return "mobile"
    if _DISCLAIMER.search(text.lower()):
        return "disclaimer"
    if len(text) <= 80 and _is_name_line(text):
        return NAME
    if len(text) <= 120 and _is_contact(text):
        return CONTACT
    words = text.split()
    if re.match(r"^(?:p\.?\s?p\.?\s?s|p\.?\s?s)\b", text, re.IGNORECASE):
        return PROSE
    if re.match(r"^(?:[-+*•·▪◦]|\d{1,2}[.)])\s", text):
        return PROSE  # a list item (or an attachment line): part of the message
    if len(words) > 10 or len(text) > 90:
        return PROSE
    if len(words) >= 3 and _SENTENCE_END.search(text) and not _ABBREV_END.search(text):
        return PROSE
    if looks_like_title(text) or looks_like_company(text):
        return INFO
    if len(words) >= 4 and sum(1 for w in words if w[:1].islower()) > len(words) // 2:
        return PROSE  # mostly lower-case words: a phrase of the message, not a heading
    if text.endswith("?") or text.endswith(":"):
        return PROSE
    return INFO


def sender_tokens(sender: Address | None) -> set[str]:
    """The sender's name words and mailbox words, casefolded, plus their initials."""
    if sender is None:
        return set()
    words: list[str] = []
    if sender.name:
        words += re.findall(r"[^\W\d_]{2,}", sender.name)
    local = sender.address.partition("@")[0]
    words += [w for w in re.split(r"[._\-+]", local) if len(w) >= 3 and w.isalpha()]
    out = {w.casefold() for w in words}
    if sender.name:
        initials = [w[0] for w in re.findall(r"[^\W\d_]+", sender.name) if w[:1].isupper()]
        if len(initials) >= 2:
            out.add("".join(initials).casefold())
            out.add("".join(reversed(initials)).casefold())
    return out


_DIGIT = re.compile(r"\d")


def _phones(line: str, region: str) -> list[str]:
    return list(_phones_cached(line, region))


# The same signature lines (the same people's phones) come back mail after mail.
@lru_cache(maxsize=8192)
def _phones_cached(line: str, region: str) -> tuple[str, ...]:
    return tuple(_find_phones(line, region))


def _find_phones(line: str, region: str) -> list[str]:
    out: list[str] = []
    # phonenumbers' matcher is the costliest step of signature parsing; a line with fewer digits
    # than the shortest subscriber number (ITU-T E.164 national numbers have at least 5-6) has none.
    if len(_DIGIT.findall(line)) < 6:
        return out
    try:
        matches = list(phonenumbers.PhoneNumberMatcher(line, region or DEFAULT_PHONE_REGION))
    except Exception:  # noqa: BLE001 - an unknown region or odd text: no phones, not a crash
        return out
    for m in matches:
        number = m.number
        ext = number.extension
        if not ext:
            after = _EXT_AFTER.match(line[m.end:])
            ext = after.group(1) if after else None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        out.append(f"{e164};ext={ext}" if ext else e164)
    return out


def _parts(line: str) -> list[str]:
    """Pieces of a line: split on "|", " - ", tabs; then on commas unless a legal form follows."""
    out: list[str] = []
    for piece in _SEPARATORS.split(line.strip()):
        chunks = [c.strip() for c in piece.split(",") if c.strip()]
        merged: list[str] = []
        for c in chunks:
            # "Acme, Inc." and "Кинокомпания, ООО" are one company, not two pieces.
            if merged and re.fullmatch(r"(?i)(?:inc|ltd|llc|l\.l\.c|corp|co|gmbh|plc|ооо|оао|зао|пао|ао)\.?", c):
                merged[-1] = f"{merged[-1]}, {c}"
            else:
                merged.append(c)
        out += merged
    return out


def read_fields(lines: list[str], *, sender: Address | None, region: str) -> dict[str, Any]:
    """Name, title, company, phones, website and e-mails from the lines of a signature block."""
    name: str | None = None
    title: str | None = None
    company: str | None = None
    candidates: list[str] = []
    phones: list[str] = []
    emails: list[str] = []
    website: str | None = None
    sender_set = sender_tokens(sender)
    names_seen: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        emails += [e.rstrip(".") for e in EMAIL.findall(line)]
        for u in URL.findall(EMAIL.sub(" ", line)):
            website = website or u.rstrip(".,;")
        phones += _phones(line, region)
        for part in _parts(line):
            clean = _strip_dashes(part)
            if not clean or _is_contact(part):
                continue
            person = parse_person_name(clean)
            if person is not None and not looks_like_title(clean):
                names_seen.append(person.full)
                continue
            if looks_like_title(clean) and not has_legal_form(clean):
                title = title or clean
            elif looks_like_company(clean):
                company = company or clean
            elif (len(clean.split()) <= 5 and clean[:1].isupper() and not any(ch.isdigit() for ch in clean)
                  and not _SENTENCE_END.search(part)):
                candidates.append(clean)
    if names_seen:
        # Several names (a shared signature): the one that is the sender's, else the first;
        # a fuller form of it further down ("Сергей" signs off above "Сергей Иванов | Продюсер").
        name = next((n for n in names_seen if sender_set and set(n.casefold().split()) & sender_set), names_seen[0])
        words = set(name.casefold().split())
        name = next((n for n in names_seen if len(n.split()) > len(words) and words <= set(n.casefold().split())), name)
    if company is None and candidates:
        company = next((c for c in candidates if not (name and c == name)), None)
    return {
        "name": name,
        "title": title,
        "company": company,
        "phones": tuple(dict.fromkeys(phones)),
        "website": website,
        "emails": tuple(dict.fromkeys(emails)),
    }
