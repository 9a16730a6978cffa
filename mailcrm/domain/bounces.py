"""Bounce policy (pure): is a bounce genuine, and have soft bounces added up to "bounced"?

No database and no clock: the caller passes the facts, a snapshot of what mailcrm recorded,
and the time.  Anyone can send a message that looks like a bounce, so a bounce only counts
when mailcrm recorded mail sent to that address before it, and — when the bounce quotes the
original message — the quoted Message-ID (or, lacking one, the Subject) matches that mail.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mailcrm.parse.facts import Bounce
from mailcrm.parse.identity import normalize_message_id


@dataclass(frozen=True)
class SentRecord:
    """One message a user sent to the bounced address, as the store recorded it."""

    message_id: str | None
    sent_at: dt.datetime
    subject: str | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether a bounce may change an address's status, and why."""

    status: Literal["verified", "unverified"]
    reason: str
    matched: SentRecord | None = None

    @property
    def verified(self) -> bool:
        """True when the bounce may change the address's status."""
        return self.status == "verified"


@dataclass(frozen=True)
class SoftEvent:
    """One soft bounce recorded for an address."""

    address: str
    at: dt.datetime


def _aware(value: dt.datetime) -> dt.datetime:
    # Naive datetimes are taken as UTC so that comparisons never raise.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|fw|aw|sv|vs|tr|wg|ответ|пересл)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def _subject_key(subject: str | None) -> str:
    return re.sub(r"\s+", " ", _SUBJECT_PREFIX.sub("", subject or "")).strip().lower()


def verify_bounce(
    bounce: Bounce,
    recipient: str,
    sent_to_recipient: Sequence[SentRecord],
    *,
    bounced_at: dt.datetime | None = None,
) -> Verdict:
    """Verified only when mail was sent to ``recipient`` before the bounce and the quoted original matches it."""
    try:
        address = (recipient or "").strip().strip("<>").lower()
        if not any(r.address == address for r in bounce.recipients):
            return Verdict("unverified", "the bounce does not name this address")
        prior = [s for s in sent_to_recipient if bounced_at is None or _aware(s.sent_at) <= _aware(bounced_at)]
        if not prior:
            return Verdict("unverified", "no mail was sent to this address before the bounce")
        prior.sort(key=lambda s: _aware(s.sent_at), reverse=True)
        if bounce.original_message_id:
            wanted = normalize_message_id(bounce.original_message_id)
            for record in prior:
                if record.message_id and normalize_message_id(record.message_id) == wanted:
                    return Verdict("verified", "the original Message-ID matches mail sent to this address", record)
            return Verdict("unverified", "the original Message-ID matches no mail sent to this address")
        if bounce.original_subject and any(r.subject for r in prior):
            wanted_subject = _subject_key(bounce.original_subject)
            for record in prior:
                if record.subject is not None and _subject_key(record.subject) == wanted_subject:
                    return Verdict("verified", "the original Subject matches mail sent to this address", record)
            return Verdict("unverified", "the original Subject matches no mail sent to this address")
        return Verdict("verified", "mail was sent to this address before the bounce (no original quoted)", prior[0])
    except Exception as exc:  # noqa: BLE001 - a policy check must never break ingest
        return Verdict("unverified", f"could not verify: {type(exc).__name__}")


def soft_score(
    events: Sequence[SoftEvent],
    now: dt.datetime,
    *,
    window_days: int = 14,
    last_inbound: dt.datetime | None = None,
) -> int:
    """Soft bounces that count: within the window, after the last inbound mail, one per address per day."""
    try:
        now_a = _aware(now)
        start = now_a - dt.timedelta(days=window_days)
        reset = _aware(last_inbound) if last_inbound is not None else None
        days: set[tuple[str, dt.date]] = set()
        for event in events:
            at = _aware(event.at)
            if not (start < at <= now_a):
                continue
            if reset is not None and at <= reset:
                continue  # mail from the address after these bounces proves it alive
            days.add((event.address.strip().lower(), at.astimezone(dt.timezone.utc).date()))
        return len(days)
    except Exception:  # noqa: BLE001 - bad input scores nothing rather than raising
        return 0


def soft_score_decision(
    events: Sequence[SoftEvent],
    now: dt.datetime,
    threshold: int = 5,
    window_days: int = 14,
    last_inbound: dt.datetime | None = None,
) -> bool:
    """True when counted soft bounces reach ``threshold`` (the address becomes ``bounced``)."""
    return threshold > 0 and soft_score(events, now, window_days=window_days, last_inbound=last_inbound) >= threshold
