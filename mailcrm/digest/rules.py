"""Digest rules (PURE): a snapshot of the store + the user's local date and zone -> sections.

No I/O here: ``collect.py`` reads the store into the frozen dataclasses below, ``render.py``
turns the result into text and HTML.  Every time in a snapshot is naive UTC (the store's
convention); ``today`` is the user's local date, and day counts are taken in the user's zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from mailcrm.domain.cadence import Due, StageRule, evaluate, local_date
from mailcrm.domain.special_dates import DateSpec, occurrences_between

DATES_AHEAD_DAYS = 7
QUIET_LIST_LIMIT = 15  # per tag; the rest is summed up as "and N more"
WAITING_LIST_LIMIT = 30  # a morning mail naming thousands of people helps nobody: newest first, then "and N more"
SECTION_LIMIT = 30
# Lines listed per section at most (``[digest] section_limit`` / ``section_limits``); the rest of a
# section is counted as "and N more" (issue 26: 4,870 "waiting" lines at 1M messages helped nobody).
# "quiet" is per tag.  config.DIGEST_SECTIONS names the same sections (a test keeps them in step).
SECTIONS = ("call_today", "new_leads", "follow_ups", "waiting", "touches", "dates", "bounces", "suspect",
            "no_address", "repeats", "autoreplies", "quiet")
DEFAULT_LIMITS: dict[str, int] = {**dict.fromkeys(SECTIONS, SECTION_LIMIT), "quiet": QUIET_LIST_LIMIT}
_T = TypeVar("_T")


@dataclass(frozen=True)
class Person:
    """A contact as the digest shows it."""

    contact_id: int
    name: str | None
    address: str | None
    phones: tuple[str, ...] = ()
    company: str | None = None

    @property
    def label(self) -> str:
        """Name, else address, else phone (a phone-only lead), else #id."""
        return self.name or self.address or (self.phones[0] if self.phones else f"#{self.contact_id}")


@dataclass(frozen=True)
class MessageRef:
    """A message shown by subject and date."""

    subject: str
    date: dt.datetime


@dataclass(frozen=True)
class DealSnap:
    """An open deal with its people and touches."""

    id: int
    title: str
    stage: str
    opened_at: dt.datetime
    stage_changed_at: dt.datetime
    company: str | None
    people: tuple[Person, ...]
    last_touch: dt.datetime | None  # mail either way or a logged call, any of the deal's people
    last_out: dt.datetime | None  # our own touches only (mail sent, calls)
    last_message: MessageRef | None
    source: str | None = None  # "form:<name>": a lead from a web form or a form's notification mail
    amount: Decimal | None = None
    currency: str | None = None
    member_ids: tuple[int, ...] = ()  # contact ids of ``people`` (collect reads people only for listed deals)


@dataclass(frozen=True)
class WaitingSnap:
    """Mail received from a person with nothing sent to them after it."""

    person: Person
    message: MessageRef


@dataclass(frozen=True)
class SpecialDateSnap:
    """A special date of a contact or of a tag (every contact tagged gets it)."""

    label: str
    spec: DateSpec
    person: Person | None = None
    tag: str | None = None
    tag_people: tuple[Person, ...] = ()
    tag_count: int = 0


@dataclass(frozen=True)
class BounceSnap:
    """A recipient that bounced since the last digest."""

    address: str
    person: Person | None
    hard: bool
    reason: str | None
    at: dt.datetime


@dataclass(frozen=True)
class SuspectSnap:
    """An address a bounce made doubtful, not dead: "check this address" (issue 20)."""

    address: str
    person: Person | None
    reason: str | None


@dataclass(frozen=True)
class AutoreplySnap:
    """An auto-reply with a "back on" date."""

    person: Person
    back_on: dt.date
    text: str


@dataclass(frozen=True)
class QuietSnap:
    """A person we wrote to with no reply since."""

    person: Person
    last_sent: MessageRef
    tags: tuple[str, ...]


@dataclass(frozen=True)
class RepeatItem:
    """A work sent again to someone who (or whose company) had it already (issue 22)."""

    title: str
    to: str
    company: str | None
    before: dt.date  # the earlier send
    answer: str  # their answer then: none | replied | declined | interested | deal


@dataclass(frozen=True)
class FollowUpSnap:
    """A follow-up due (``crm+<secret>+3d@``) whose mail nobody answered, or one set with ``+r``."""

    id: int
    due: dt.date
    always: bool
    message: MessageRef
    recipients: tuple[str, ...]
    people: tuple[Person, ...] = ()


@dataclass(frozen=True)
class TouchSnap:
    """A person a keep-in-touch rule covers, untouched for longer than its period."""

    person: Person
    every_days: int
    last_touch: dt.datetime | None
    tag: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything the digest needs for one user and one day, read from the store."""

    user_email: str
    user_name: str | None
    deals: tuple[DealSnap, ...] = ()
    waiting: tuple[WaitingSnap, ...] = ()
    dates: tuple[SpecialDateSnap, ...] = ()
    bounces: tuple[BounceSnap, ...] = ()
    no_address: tuple[Person, ...] = ()
    autoreplies: tuple[AutoreplySnap, ...] = ()
    quiet: tuple[QuietSnap, ...] = ()
    suspect: tuple[SuspectSnap, ...] = ()
    follow_ups: tuple[FollowUpSnap, ...] = ()
    touches: tuple[TouchSnap, ...] = ()
    # Lines collect counted but did not read (it keeps only what a section's limit lets through):
    # per section, and per tag of the quiet section (None: untagged).
    unlisted: Mapping[str, int] = field(default_factory=dict)
    quiet_unlisted: Mapping[str | None, int] = field(default_factory=dict)


# -- output -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallItem:
    """One "call today" line."""

    deal: DealSnap
    overdue_days: int
    days_since_touch: int | None
    due: dt.date


@dataclass(frozen=True)
class DateItem:
    """One special date falling in the window."""

    on: dt.date
    in_days: int
    item: SpecialDateSnap


@dataclass(frozen=True)
class QuietGroup:
    """Quiet outreach under one tag (or none)."""

    tag: str | None
    items: tuple[QuietSnap, ...]
    more: int


@dataclass(frozen=True)
class Digest:
    """The sections of one digest; an empty tuple means the section is left out."""

    user_email: str
    user_name: str | None
    today: dt.date
    timezone: str
    call_today: tuple[CallItem, ...] = ()
    new_leads: tuple[DealSnap, ...] = ()
    waiting: tuple[WaitingSnap, ...] = ()
    dates: tuple[DateItem, ...] = ()
    bounces: tuple[BounceSnap, ...] = ()
    no_address: tuple[Person, ...] = ()
    autoreplies: tuple[AutoreplySnap, ...] = ()
    quiet: tuple[QuietGroup, ...] = field(default=())
    suspect: tuple[SuspectSnap, ...] = ()
    repeats: tuple[RepeatItem, ...] = ()  # works sent again since yesterday (set by compose)
    follow_ups: tuple[FollowUpSnap, ...] = ()
    touches: tuple[TouchSnap, ...] = ()
    more: Mapping[str, int] = field(default_factory=dict)  # per section: lines beyond its limit (counted, not listed)

    @property
    def waiting_more(self) -> int:
        """Waiting mail beyond the section's limit (the oldest, counted, not listed)."""
        return self.more.get("waiting", 0)

    def total(self, section: str) -> int:
        """How many lines ``section`` has in all, listed or counted in "and N more"."""
        if section == "quiet":
            return sum(len(g.items) + g.more for g in self.quiet)
        return len(getattr(self, section)) + self.more.get(section, 0)

    @property
    def is_empty(self) -> bool:
        """True when no section has anything."""
        return not (self.call_today or self.new_leads or self.waiting or self.dates or self.bounces
                    or self.no_address or self.autoreplies or self.quiet or self.suspect or self.repeats or self.follow_ups or self.touches)

    def summary(self) -> dict[str, int]:
        """Counts per section (stored with the digest run, shown by `digest preview --json`)."""
        return {name: self.total(name) for name in ("call_today", "new_leads", "waiting", "dates", "bounces",
                                                     "no_address", "autoreplies", "quiet", "suspect", "repeats",
                                                     "follow_ups", "touches")}


@dataclass(frozen=True)
class NumberedLine:
    """What digest line ``n`` meant: a reply "3 won" acts on ``kind`` ``ref`` (deal, follow-up or contact)."""

    n: int
    kind: str  # deal | follow_up | contact
    ref: int
    label: str

    def to_json(self) -> dict[str, object]:
        """The form stored with the digest run."""
        return {"n": self.n, "kind": self.kind, "ref": self.ref, "label": self.label}


NUMBERED_SECTIONS = ("call_today", "new_leads", "follow_ups", "waiting")


def section_offsets(digest: Digest) -> dict[str, int]:
    """The number before each numbered section's first line (lines are numbered 1.. across sections)."""
    offsets, n = {}, 0
    for name in NUMBERED_SECTIONS:
        offsets[name] = n
        n += len(getattr(digest, name))
    return offsets


def numbered_lines(digest: Digest) -> tuple[NumberedLine, ...]:
    """Every numbered line of the digest in order, as the text and HTML print them."""
    lines = [NumberedLine(0, "deal", c.deal.id, c.deal.title) for c in digest.call_today]
    lines += [NumberedLine(0, "deal", d.id, d.title) for d in digest.new_leads]
    lines += [NumberedLine(0, "follow_up", f.id, f.message.subject) for f in digest.follow_ups]
    lines += [NumberedLine(0, "contact", w.person.contact_id, w.person.label) for w in digest.waiting]
    return tuple(NumberedLine(i, x.kind, x.ref, x.label[:200]) for i, x in enumerate(lines, 1))


# -- rules --------------------------------------------------------------------------------
def is_untouched_lead(deal: DealSnap, lead_stage: str) -> bool:
    """A deal still in the lead stage that we have not written to or called since it opened."""
    return deal.stage == lead_stage and (deal.last_out is None or deal.last_out < deal.opened_at)


def _verdict(deal: DealSnap, rule: StageRule, today: dt.date, tz: ZoneInfo) -> Due | None:
    return evaluate(rule, deal_id=deal.id, stage_changed_at=deal.stage_changed_at, last_touch=deal.last_touch,
                    today=today, tz=tz, opened_at=deal.opened_at)


def is_new_lead(deal: DealSnap, stages: Mapping[str, StageRule], lead_stage: str, today: dt.date, tz: ZoneInfo) -> bool:
    """An untouched lead whose first call is not late yet (due today or later). Once its stage's
    ``first_after`` has passed with no call or mail, it is no longer new: it is overdue."""
    if not is_untouched_lead(deal, lead_stage):
        return False
    rule = stages.get(deal.stage)
    verdict = _verdict(deal, rule, today, tz) if rule is not None else None
    return verdict is None or verdict.overdue_days <= 0


def is_form_lead(deal: DealSnap) -> bool:
    """A deal opened by a form submission (HTTP intake or a form's notification mail)."""
    return (deal.source or "").startswith("form:")


def call_today(snapshot: Snapshot, stages: Mapping[str, StageRule], lead_stage: str, today: dt.date,
               tz: ZoneInfo) -> tuple[CallItem, ...]:
    """Deals due or overdue by cadence, most overdue first (new leads have their own section;
    a lead left untouched past its first call is here, overdue)."""
    items: list[CallItem] = []
    for deal in snapshot.deals:
        rule = stages.get(deal.stage)
        # A new lead waits under "new leads" until its first call is late; one from a form is to be
        # called, so it comes here once the lead stage's cadence makes it due (same or next day).
        if rule is None or (is_new_lead(deal, stages, lead_stage, today, tz) and not is_form_lead(deal)):
            continue
        verdict = _verdict(deal, rule, today, tz)
        if verdict is not None and verdict.is_due:
            items.append(CallItem(deal, verdict.overdue_days, verdict.days_since_touch, verdict.due))
    items.sort(key=lambda i: (-i.overdue_days, -(i.days_since_touch or 0), i.deal.id))
    return tuple(items)


def special_dates(snapshot: Snapshot, today: dt.date, ahead: int = DATES_AHEAD_DAYS) -> tuple[DateItem, ...]:
    """Special dates from today to today + ``ahead`` days, soonest first."""
    end = today + dt.timedelta(days=ahead)
    out = [DateItem(on, (on - today).days, s) for s in snapshot.dates for on in occurrences_between(s.spec, today, end)]
    out.sort(key=lambda i: (i.on, i.item.label, i.item.tag or "", i.item.person.label if i.item.person else ""))
    return tuple(out)


def waiting_key(date: dt.datetime, contact_id: int) -> tuple[dt.datetime, int]:
    """Waiting mail is listed newest first by this key (collect keeps the same ones it would list)."""
    return date, contact_id


def quiet_key(date: dt.datetime, contact_id: int) -> tuple[dt.datetime, int]:
    """Quiet outreach is listed longest-quiet first by this key, within each tag."""
    return date, contact_id


def quiet_groups(items: tuple[QuietSnap, ...], limit: int = QUIET_LIST_LIMIT,
                 unlisted: Mapping[str | None, int] | None = None) -> tuple[QuietGroup, ...]:
    """Quiet outreach grouped by tag (a person with several tags appears under each); untagged last.

    ``unlisted``: per tag, people collect counted but did not read (they are in no group's first ``limit``).
    """
    unlisted = unlisted or {}
    groups: dict[str | None, list[QuietSnap]] = {}
    for q in items:
        for tag in q.tags or (None,):
            groups.setdefault(tag, []).append(q)
    out = []
    for tag in sorted(groups, key=lambda t: (t is None, t or "")):
        rows = sorted(groups[tag], key=lambda q: quiet_key(q.last_sent.date, q.person.contact_id))
        out.append(QuietGroup(tag, tuple(rows[:limit]), max(0, len(rows) - limit) + unlisted.get(tag, 0)))
    return tuple(out)


def limits_with(overrides: Mapping[str, int] | None = None, default: int | None = None) -> dict[str, int]:
    """Every section's line limit: ``overrides`` by name, else ``default`` (else DEFAULT_LIMITS);
    "quiet" (per tag) keeps its own default unless named."""
    base = dict(DEFAULT_LIMITS)
    if default is not None:
        base.update((k, default) for k in SECTIONS if k != "quiet")
    base.update(overrides or {})
    return base


def _cap(items: Sequence[_T], limit: int, more: dict[str, int], name: str) -> tuple[_T, ...]:
    """The first ``limit`` of ``items`` (in the order they are listed); the rest is counted in ``more``."""
    if len(items) > limit:
        more[name] = len(items) - limit
    return tuple(items[:limit])


def build_digest(
    snapshot: Snapshot,
    *,
    today: dt.date,
    tz: ZoneInfo,
    stages: Mapping[str, StageRule],
    lead_stage: str = "lead",
    repeats: tuple[RepeatItem, ...] = (),
    limits: Mapping[str, int] | None = None,
) -> Digest:
    """Apply every rule: the sections of the digest for the user's local ``today``.

    Each section lists at most ``limits[section]`` lines (DEFAULT_LIMITS for a section not named),
    the most pressing first (most overdue calls, newest waiting mail, soonest dates); the rest is
    counted in ``Digest.more`` and shown as "and N more".  Numbered lines are only the listed ones.
    """
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    more: dict[str, int] = {}
    calls = call_today(snapshot, stages, lead_stage, today, tz)
    to_call = {c.deal.id for c in calls}
    leads = sorted((d for d in snapshot.deals if is_untouched_lead(d, lead_stage) and d.id not in to_call),
                   key=lambda d: (d.opened_at, d.id))
    newest = sorted(snapshot.waiting, key=lambda w: waiting_key(w.message.date, w.person.contact_id), reverse=True)
    waiting = tuple(reversed(_cap(newest, lim["waiting"], more, "waiting")))  # listed oldest first, as before
    autoreplies = [a for a in snapshot.autoreplies if a.back_on == today]
    bounces = sorted(snapshot.bounces, key=lambda b: (b.at, b.address))
    return Digest(
        user_email=snapshot.user_email,
        user_name=snapshot.user_name,
        today=today,
        timezone=tz.key,
        call_today=_cap(calls, lim["call_today"], more, "call_today"),
        new_leads=_cap(leads, lim["new_leads"], more, "new_leads"),
        waiting=waiting,
        dates=_cap(special_dates(snapshot, today), lim["dates"], more, "dates"),
        bounces=_cap(bounces, lim["bounces"], more, "bounces"),
        no_address=_cap(sorted(snapshot.no_address, key=lambda p: (p.label.casefold(), p.contact_id)),
                        lim["no_address"], more, "no_address"),
        autoreplies=_cap(autoreplies, lim["autoreplies"], more, "autoreplies"),
        quiet=quiet_groups(snapshot.quiet, lim["quiet"], snapshot.quiet_unlisted),
        suspect=_cap(sorted(snapshot.suspect, key=lambda x: x.address), lim["suspect"], more, "suspect"),
        repeats=_cap(repeats, lim["repeats"], more, "repeats"),
        follow_ups=_cap(sorted(snapshot.follow_ups, key=lambda f: (f.due, f.message.date, f.id)),
                        lim["follow_ups"], more, "follow_ups"),
        touches=_cap(sorted(snapshot.touches, key=lambda t: (t.last_touch or dt.datetime.min, t.person.label)),
                     lim["touches"], more, "touches"),
        more={k: v for k, v in ((k, more.get(k, 0) + snapshot.unlisted.get(k, 0)) for k in SECTIONS) if v},
    )


def days_ago(when: dt.datetime, today: dt.date, tz: ZoneInfo) -> int:
    """Whole local days between a naive-UTC time and the user's ``today``."""
    return (today - local_date(when, tz)).days
