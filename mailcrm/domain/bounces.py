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


# --- kill / suspect / none (issue 20) -------------------------------------------------------
# Only these say the mailbox or domain does not exist or takes no mail (Sisimai's hard bounces).
KILL_REASONS: frozenset[str] = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})
# Reasons about our sender or our message, not about the address: they never count toward a run
# of soft failures (the address may be perfectly alive; the user's mail was refused).
NOT_ABOUT_ADDRESS: frozenset[str] = frozenset({
    "rejected", "blocked", "spamdetected", "policyviolation", "securityerror", "authfailure", "virusdetected",
    "contenterror", "mesgtoobig", "exceedlimit", "norelaying", "speeding", "toomanyconn", "syntaxerror", "delayed",
})
INDEPENDENT_AFTER = dt.timedelta(hours=24)

Tie = Literal["message_id", "unquoted", "unrelated"]
Action = Literal["kill", "suspect", "none"]


@dataclass(frozen=True)
class PriorReport:
    """An earlier failure report about the same address, as the store recorded it."""

    at: dt.datetime
    reason: str | None
    permanent: bool
    tie: Tie
    report_id: str | None = None  # the report's own Message-ID: two copies of one report are not independent


@dataclass(frozen=True)
class BounceDecision:
    """What one failure report does to an address, and why."""

    action: Action
    why: str


def tie_of(bounce: Bounce, recipient: str, sent_to_recipient: Sequence[SentRecord], *,
           bounced_at: dt.datetime | None = None) -> Tie:
    """How a report is tied to mail recorded as sent to ``recipient`` before it.

    ``message_id``: one of the original's Message-IDs the report gives (quoted original,
    text/rfc822-headers, In-Reply-To/References) is recorded mail sent there.  ``unquoted``: the
    report gives no Message-ID but mail was sent there before.  ``unrelated``: neither.
    """
    try:
        prior = [s for s in sent_to_recipient if bounced_at is None or _aware(s.sent_at) <= _aware(bounced_at)]
        if not prior:
            return "unrelated"
        ids = set(bounce.original_message_ids) | ({bounce.original_message_id} if bounce.original_message_id else set())
        wanted = {normalize_message_id(i) for i in ids} - {None}
        if not wanted:
            return "unquoted"
        sent = {normalize_message_id(s.message_id) for s in prior if s.message_id}
        return "message_id" if wanted & sent else "unrelated"
    except Exception:  # noqa: BLE001 - a policy check must never break ingest
        return "unrelated"


def _dead(reason: str | None, permanent: bool) -> bool:
    return bool(permanent and reason in KILL_REASONS)


def decide_bounce(
    reason: str | None,
    permanent: bool,
    tie: Tie,
    *,
    at: dt.datetime,
    prior: Sequence[PriorReport] = (),
    report_id: str | None = None,
    soft_run: int = 5,
    soft_window_days: int = 14,
) -> BounceDecision:
    """kill / suspect / none for one failed recipient of one report (issue 20's rules).

    Kill only a permanent failure whose reason says the mailbox or domain is gone, tied to mail
    sent there by Message-ID; the same without a Message-ID makes the address suspect, and a second
    independent such report at least 24 h apart kills it.  Other reasons never kill; a run of soft
    failures about the address (``soft_run`` days within ``soft_window_days``) makes it suspect.
    """
    try:
        if tie == "unrelated":
            return BounceDecision("none", "the report is about no mail recorded as sent to this address")
        if _dead(reason, permanent):
            if tie == "message_id":
                return BounceDecision("kill", f"permanent {reason} about mail sent to this address (Message-ID matches)")
            now = _aware(at)
            for p in prior:
                if (p.tie != "unrelated" and _dead(p.reason, p.permanent) and (report_id is None or p.report_id != report_id)
                        and abs(now - _aware(p.at)) >= INDEPENDENT_AFTER):
                    return BounceDecision("kill", f"permanent {reason}, confirmed by an independent report 24 h or more apart")
            return BounceDecision("suspect", f"permanent {reason}, but the report quotes no original: check this address")
        if reason in NOT_ABOUT_ADDRESS or reason is None:
            return BounceDecision("none", f"{reason or 'no reason'}: about the sender or the message, not the address")
        events = [SoftEvent("a", p.at) for p in prior
                  if p.tie != "unrelated" and not _dead(p.reason, p.permanent) and p.reason not in NOT_ABOUT_ADDRESS]
        events.append(SoftEvent("a", at))
        if soft_score_decision(events, at, threshold=soft_run, window_days=soft_window_days):
            return BounceDecision("suspect", f"{soft_run} days of soft failures within {soft_window_days} days: check this address")
        kind = "permanent" if permanent else "temporary"
        return BounceDecision("none", f"{kind} {reason}: the address is not shown dead")
    except Exception as exc:  # noqa: BLE001 - a policy check must never break ingest
        return BounceDecision("none", f"could not decide: {type(exc).__name__}")
