"""Message identity: normalised Message-ID, idempotency key, thread key (house rule 11)."""

from __future__ import annotations

import hashlib
import re

_MID = re.compile(r"<([^<>\s]+)>")


def normalize_message_id(value: str | None) -> str | None:
    """Return a Message-ID without brackets, whitespace or case in the domain part; None if junk."""
    if not value:
        return None
    value = value.strip()
    m = _MID.search(value)
    mid = m.group(1) if m else value.strip("<> \t\r\n")
    mid = re.sub(r"\s+", "", mid)
    if not mid or len(mid) > 900 or "@" not in mid and len(mid) < 8:
        return None
    local, sep, domain = mid.rpartition("@")
    return f"{local}{sep}{domain.lower()}" if sep else mid


def message_ids(value: str | None) -> tuple[str, ...]:
    """All Message-IDs in a References/In-Reply-To header, normalised, in order."""
    if not value:
        return ()
    found = [normalize_message_id(m) for m in _MID.findall(value)]
    if not found:
        found = [normalize_message_id(tok) for tok in value.split()]
    return tuple(dict.fromkeys(m for m in found if m))


def content_hash(from_addr: str, date: str, subject: str, body: str) -> str:
    """sha256 over From, Date, Subject and the whitespace-normalised body."""
    norm_body = re.sub(r"\s+", " ", body).strip()
    material = "\x1f".join((from_addr.lower(), date.strip(), subject.strip(), norm_body))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def identity_key(message_id: str | None, from_addr: str, date: str, subject: str, body: str) -> str:
    """The idempotency key: ``mid:<id>`` when there is a Message-ID, else ``hash:<sha256>``."""
    if message_id:
        return "mid:" + message_id
    return "hash:" + content_hash(from_addr, date, subject, body)


def thread_key(message_id: str | None, in_reply_to: str | None, references: tuple[str, ...], fallback: str) -> str:
    """The root of the thread: first References id, else In-Reply-To, else own id/fallback."""
    if references:
        return references[0]
    if in_reply_to:
        return in_reply_to
    return message_id or fallback
