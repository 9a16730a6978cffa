"""Read-only queries: the store -> a digest ``Snapshot`` for one user and one local day.

Built for size (10k contacts, 2k open deals, 1M messages): a fixed number of queries, no
per-row round trips.  Per-contact and per-deal "latest touch" values (latest mail in, mail out,
call; a deal's latest thread mail and call) are read from ``contact_touches`` / ``deal_touches``,
kept at write time by app/last_touch.py (one primary-key lookup each instead of three index
seeks per person; the latest *message* of the few deals listed is still a correlated seek on
``ix_participant_contact_timeline``, covering: no table row is read); windowed sections start
from the ``messages.date`` index (a materialized CTE, ranked per contact); a test that drops most
of a window's rows ("nothing since" for quiet outreach) is in the WHERE clause, so the lookups
after it run only for the rows left.  On PostgreSQL the whole collection runs with JIT off
(``_no_jit``): these are seek plans, for which compiling costs more than it saves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, func, not_, or_, select, text, type_coerce
from sqlalchemy.orm import Session, aliased

from mailcrm.app import follow_ups, touches
from mailcrm.digest.rules import (
    DATES_AHEAD_DAYS,
    DEFAULT_LIMITS,
    AutoreplySnap,
    BounceSnap,
    DealSnap,
    Digest,
    FollowUpSnap,
    MessageRef,
    Person,
    QuietSnap,
    Snapshot,
    SpecialDateSnap,
    SuspectSnap,
    TouchSnap,
    WaitingSnap,
    quiet_key,
    waiting_key,
)
from mailcrm.domain.special_dates import DateSpec, occurrences_between
from mailcrm.store.models import (
    Activity,
    BounceEvent,
    Company,
    Contact,
    ContactTag,
    ContactTouch,
    Deal,
    DealContact,
    DealMessage,
    DealTouch,
    DigestRun,
    EmailAddress,
    Message,
    Participant,
    SpecialDate,
    Tag,
    User,
)

LIVE_STATUSES = ("active", "suspect")  # an address mail may still reach (EmailAddress.status)
DEAD_STATUSES = ("bounced", "invalid")
OUT_ROLES = ("to", "cc")  # we wrote to them (sent copies, BCC'd or from the Sent folder)
IN_ROLES = ("from", "original_from")  # they wrote to us (inbox, forwards)
TOUCH_KINDS = ("sent", "received", "forward")
WAITING_DAYS = 14  # "waiting for your answer" looks this far back
QUIET_WINDOW_DAYS = 14  # quiet outreach is shown for two weeks after it turns quiet, then dropped
TAG_PEOPLE_SHOWN = 10
CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit


@dataclass(frozen=True)
class Window:
    """The user and day a snapshot is for."""

    user_id: int
    user_email: str
    user_name: str | None
    today: dt.date
    tz: ZoneInfo
    quiet_after_days: int = 42
    # Lines per section (rules.DEFAULT_LIMITS): people beyond them are counted, not read.
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))

    def utc(self, day: dt.date) -> dt.datetime:
        """Local midnight of ``day`` as naive UTC (the store's convention)."""
        return dt.datetime.combine(day, dt.time(), self.tz).astimezone(dt.timezone.utc).replace(tzinfo=None)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    items = sorted(set(ids))
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def _latest(column: Any, roles: tuple[str, ...], contact_col: Any) -> Any:
    """Correlated "latest participant row of this contact in these roles" scalar subquery."""
    p = aliased(Participant)
    return (select(getattr(p, column)).where(p.contact_id == contact_col, p.role.in_(roles))
            .order_by(p.date.desc()).limit(1).scalar_subquery())


def _rows(session: Session, stmt: Any) -> Any:
    """Plain column rows through Core: ORM row building costs more than the query at this size."""
    return session.connection().execute(stmt)


def people(session: Session, ids: Iterable[int]) -> dict[int, Person]:
    """Persons by contact id: name, first live address, phones, company (one query per 500 ids)."""
    a = aliased(EmailAddress)
    # The first live address, else the first one whatever its status (a bounced-only contact).
    address = (select(a.address).where(a.contact_id == Contact.id)
               .order_by(case((a.status == "active", 0), else_=1), a.id).limit(1).scalar_subquery())
    out: dict[int, Person] = {}
    for chunk in _chunks(ids):
        for cid, name, phones, company, addr in _rows(
                session, select(Contact.id, Contact.name, Contact.phones, Company.name, address)
                .outerjoin(Company, Company.id == Contact.company_id).where(Contact.id.in_(chunk))):
            out[cid] = Person(cid, name, addr, tuple(phones or ()), company)
    return out


def _messages(session: Session, ids: Iterable[int]) -> dict[int, MessageRef]:
    out: dict[int, MessageRef] = {}
    for chunk in _chunks(ids):
        for mid, subject, date in _rows(session, select(Message.id, Message.subject, Message.date)
                                        .where(Message.id.in_(chunk))):
            out[mid] = MessageRef(subject or "", date)
    return out


def _max(*values: dt.datetime | None) -> dt.datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _thread_latest(column: str, deal_col: Any) -> Any:
    """Correlated "latest mail (either way) among this deal's messages" scalar subquery."""
    dm, m = aliased(DealMessage), aliased(Message)
    return (select(getattr(m, column)).select_from(dm).join(m, m.id == dm.message_id)
            .where(dm.deal_id == deal_col, m.kind.in_(TOUCH_KINDS))
            .order_by(m.date.desc(), m.id.desc()).limit(1).scalar_subquery())


def _raw(expr: Any) -> Any:
    """``expr`` read without SQLAlchemy's per-value DateTime processing (a regex on SQLite, ~5 us a
    value: 18,000 values at 2,000 open deals); ``_when`` turns the text into a datetime."""
    return type_coerce(expr, String)


def _when(value: Any) -> dt.datetime | None:
    """A datetime from ``_raw`` (SQLite: ISO text; PostgreSQL: already a datetime)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


def _deals(session: Session, w: Window) -> list[DealSnap]:
    mine = and_(Deal.status == "open", or_(Deal.user_id == w.user_id, Deal.user_id.is_(None)))
    # Messages in a deal's threads count too (a colleague on Cc, a forward into the thread), and
    # calls logged against the deal: both as kept at write time (deal_touches).
    dt_ = DealTouch
    deals = _rows(session, select(Deal.id, Deal.title, Deal.stage, _raw(Deal.opened_at), _raw(Deal.stage_changed_at),
                                  Deal.source, Deal.amount, Deal.currency, Company.name.label("company"),
                                  _raw(dt_.last_thread), _raw(dt_.last_call))
                  .outerjoin(Company, Company.id == Deal.company_id).outerjoin(dt_, dt_.deal_id == Deal.id)
                  .where(mine).order_by(Deal.id)).all()
    if not deals:
        return []
    members: dict[int, list[int]] = {}
    touches: dict[int, tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None]] = {}
    dc = DealContact
    # Each person's latest mail out, mail in and call, as kept at write time (contact_touches: one
    # primary-key lookup).  Which message was the latest is looked up later, for the deals the
    # digest lists (``with_deal_details``).
    # (Two statements: the people in the order the deal-people join gives them, as before the
    # touches were kept; a join with the touches lets PostgreSQL hash and reorder them.)
    t = ContactTouch
    people_of = select(dc.deal_id, dc.contact_id).join(Deal, Deal.id == dc.deal_id).where(mine)
    for deal_id, cid in _rows(session, people_of):
        members.setdefault(deal_id, []).append(cid)
        touches[cid] = (None, None, None)
    for cid, last_out, last_in, last_call in _rows(session, select(
            t.contact_id, _raw(t.last_out), _raw(t.last_in), _raw(t.last_call))
            .where(t.contact_id.in_(people_of.with_only_columns(dc.contact_id)))):
        touches[cid] = (_when(last_out), _when(last_in), _when(last_call))
    out: list[DealSnap] = []
    for (deal_id, title, stage, opened_at, stage_changed_at, source, amount, currency, company, thread_date,
         deal_call) in deals:
        ids = members.get(deal_id, [])
        last_out = _max(*(touches[c][0] for c in ids), *(touches[c][2] for c in ids), _when(deal_call))
        last_touch = _max(last_out, *(touches[c][1] for c in ids), _when(thread_date))
        out.append(DealSnap(id=deal_id, title=title, stage=stage, opened_at=_when(opened_at),  # type: ignore[arg-type]
                            stage_changed_at=_when(stage_changed_at), company=company,  # type: ignore[arg-type]
                            people=(), member_ids=tuple(ids), last_touch=last_touch, last_out=last_out,
                            last_message=None, source=source, amount=amount, currency=currency))
    return out


def with_deal_details(session: Session, digest: Digest) -> Digest:
    """``digest`` with the people and the latest message of the deals it lists (calls, new leads).

    ``collect`` leaves them out: the rules decide on dates alone, and reading the people and the
    latest message of every open deal (4,000 people at 2,000 deals) cost more than the rest of
    the deals section.  The latest message is the newest mail either way with any of the deal's
    people or in the deal's threads, as the last touch counts it.
    """
    deals = [c.deal for c in digest.call_today] + list(digest.new_leads)
    if not deals:
        return digest
    cids = {c for d in deals for c in d.member_ids}
    persons = people(session, cids)
    latest: dict[int, tuple[dt.datetime, int]] = {}
    for chunk in _chunks(cids):
        for cid, date, mid in _rows(session, select(Contact.id, _latest("date", OUT_ROLES + IN_ROLES, Contact.id),
                                                    _latest("message_id", OUT_ROLES + IN_ROLES, Contact.id))
                                    .where(Contact.id.in_(chunk))):
            if date is not None:
                latest[cid] = (date, mid)
    thread: dict[int, tuple[dt.datetime, int]] = {}
    for chunk in _chunks(d.id for d in deals):
        for deal_id, date, mid in _rows(session, select(Deal.id, _thread_latest("date", Deal.id),
                                                        _thread_latest("id", Deal.id)).where(Deal.id.in_(chunk))):
            if date is not None:
                thread[deal_id] = (date, mid)
    picked: dict[int, int] = {}
    for d in deals:
        candidates = [latest[c] for c in d.member_ids if c in latest] + ([thread[d.id]] if d.id in thread else [])
        if candidates:
            picked[d.id] = max(candidates)[1]
    msgs = _messages(session, picked.values())

    def fill(d: DealSnap) -> DealSnap:
        return replace(d, people=tuple(persons[c] for c in d.member_ids if c in persons),
                       last_message=msgs.get(picked[d.id]) if d.id in picked else None)

    return replace(digest, call_today=tuple(replace(c, deal=fill(c.deal)) for c in digest.call_today),
                   new_leads=tuple(fill(d) for d in digest.new_leads))


def _mine(w: Window) -> Any:
    # Same as "user_id = X OR user_id IS NULL", but not sargable on purpose: an un-ANALYZEd
    # SQLite otherwise answers the OR from ix_messages_user_id and scans every message of the
    # user instead of the few days the date index gives.
    return func.coalesce(Message.user_id, w.user_id) == w.user_id


def _latest_in_window(roles: tuple[str, ...], *where: Any) -> Any:
    """Per contact, the latest message (in ``roles``) matching ``where``: a ranked subquery.

    The window's rows are MATERIALIZED first: otherwise SQLite answers PARTITION BY contact
    from the participant index and walks every participant instead of the few days asked for.
    """
    recent = (select(Participant.contact_id.label("cid"), Message.id.label("mid"), Message.date.label("date"),
                     Message.subject.label("subject"))
              .join(Participant, Participant.message_id == Message.id)
              .where(*where, Participant.role.in_(roles), Participant.contact_id.is_not(None))
              .cte("recent").prefix_with("MATERIALIZED"))
    rank = func.row_number().over(partition_by=recent.c.cid,
                                  order_by=(recent.c.date.desc(), recent.c.mid.desc())).label("rank")
    return select(recent.c.cid, recent.c.mid, recent.c.date, recent.c.subject, rank).subquery()


def _waiting(session: Session, w: Window) -> list[tuple[int, MessageRef]]:
    """(contact id, message) of the latest mail received per person, answered by nothing after."""
    since = w.utc(w.today - dt.timedelta(days=WAITING_DAYS))
    r = _latest_in_window(IN_ROLES, Message.date >= since, Message.kind.in_(("received", "forward")),
                          Message.status == "active", _mine(w))
    # One statement: the window gives each person's latest mail, their kept touches our latest answer.
    # A call logged after the mail (the Today page's "done", a digest reply's "3 done") answers it too.
    t = ContactTouch
    rows = _rows(session, select(r.c.cid, r.c.subject, _raw(r.c.date), _raw(t.last_out), _raw(t.last_call))
                 .outerjoin(t, t.contact_id == r.c.cid).where(r.c.rank == 1).order_by(r.c.cid))
    out = []
    for cid, subject, date, last_out, last_call in rows:
        received = _when(date)
        assert received is not None
        if (last_out is None or _when(last_out) < received) and (last_call is None or _when(last_call) < received):  # type: ignore[operator]
            out.append((cid, MessageRef(subject or "", received)))
    return out


def _quiet(session: Session, w: Window) -> tuple[list[tuple[int, MessageRef]], dict[int, list[str]]]:
    """(contact id, message) for people we last wrote to 6+ weeks ago with nothing since, and their
    tags (by name: the sections group them by tag)."""
    hi = w.utc(w.today - dt.timedelta(days=w.quiet_after_days - 1))
    lo = w.utc(w.today - dt.timedelta(days=w.quiet_after_days + QUIET_WINDOW_DAYS))
    r = _latest_in_window(OUT_ROLES, Message.date >= lo, Message.date < hi, Message.kind == "sent",
                          Message.status == "active", _mine(w))
    # "Nothing since" (no mail either way after it) from the kept touches: one lookup per person.
    # Their tags come along (a row per tag, by name), not in lists of ids afterwards.
    t = ContactTouch
    nothing_since = and_(or_(t.last_out.is_(None), t.last_out <= r.c.date), or_(t.last_in.is_(None), t.last_in <= r.c.date))
    rows = _rows(session, select(r.c.cid, r.c.subject, _raw(r.c.date), _raw(t.last_call), Tag.name)
                 .join(Contact, Contact.id == r.c.cid).outerjoin(t, t.contact_id == r.c.cid)
                 .outerjoin(ContactTag, ContactTag.contact_id == r.c.cid).outerjoin(Tag, Tag.id == ContactTag.tag_id)
                 .where(r.c.rank == 1, Contact.status == "active", nothing_since)
                 .order_by(r.c.cid, Tag.name))
    out: list[tuple[int, MessageRef]] = []
    tags: dict[int, list[str]] = {}
    for cid, subject, date, last_call, tag in rows:
        if out and out[-1][0] == cid:  # another tag of the person just read
            tags[cid].append(tag)
            continue
        sent_at = _when(date)
        if last_call is None or _when(last_call) <= sent_at:  # type: ignore[operator]
            out.append((cid, MessageRef(subject or "", sent_at)))  # type: ignore[arg-type]
            if tag is not None:
                tags[cid] = [tag]
    return out, tags


def _dates(session: Session, w: Window) -> tuple[list[Any], dict[int, tuple[int, list[int]]], dict[int, str]]:
    """The special dates falling in the digest's window (rules.DATES_AHEAD_DAYS), and for tag dates the
    number of live contacts tagged and the first TAG_PEOPLE_SHOWN of them (by id)."""
    end = w.today + dt.timedelta(days=DATES_AHEAD_DAYS)
    rows = [r for r in _rows(session, select(SpecialDate.contact_id, SpecialDate.tag_id, SpecialDate.label,
                                             SpecialDate.month, SpecialDate.day, SpecialDate.year, SpecialDate.rule)
                             .where(SpecialDate.status == "active"))
            if occurrences_between(DateSpec(r.month, r.day, r.year, r.rule), w.today, end)]
    tag_ids = {r.tag_id for r in rows if r.tag_id is not None}
    members: dict[int, tuple[int, list[int]]] = {}
    names: dict[int, str] = {}
    if tag_ids:
        names = dict(session.execute(select(Tag.id, Tag.name).where(Tag.id.in_(tag_ids))).all())
        live = (select(ContactTag.tag_id, ContactTag.contact_id).join(Contact, Contact.id == ContactTag.contact_id)
                .where(Contact.status == "active"))
        # Counted in SQL and listed per tag with a LIMIT: a tag on 20,000 contacts reads 10 of them.
        counts = live.where(ContactTag.tag_id.in_(tag_ids)).subquery()
        for tid, n in _rows(session, select(counts.c.tag_id, func.count()).group_by(counts.c.tag_id)):
            members[tid] = (n, list(session.scalars(live.with_only_columns(ContactTag.contact_id)
                                                    .where(ContactTag.tag_id == tid)
                                                    .order_by(ContactTag.contact_id).limit(TAG_PEOPLE_SHOWN))))
    return rows, members, names


def _listed_quiet(quiet: list[tuple[int, MessageRef]], tags: dict[int, list[str]], limit: int
                  ) -> tuple[list[tuple[int, MessageRef]], dict[str | None, int], dict[int, list[str]]]:
    """The quiet people some tag's group lists (its first ``limit`` by rules.quiet_key), how many
    more each tag's group has, and the tags of those listed."""
    groups: dict[str | None, list[tuple[int, MessageRef]]] = {}
    for cid, m in quiet:
        for tag in tags.get(cid) or (None,):
            groups.setdefault(tag, []).append((cid, m))
    keep: set[int] = set()
    for rows in groups.values():
        rows.sort(key=lambda x: quiet_key(x[1].date, x[0]))
        keep.update(cid for cid, _ in rows[:limit])
    # A person listed under one tag also shows up in their other tags' groups: only the rest is counted.
    unlisted = {tag: n for tag, rows in groups.items() if (n := sum(1 for cid, _ in rows if cid not in keep))}
    return [(c, m) for c, m in quiet if c in keep], unlisted, {c: tags[c] for c in keep if c in tags}


def last_digest_at(session: Session, user_id: int, before: dt.date | None = None) -> dt.datetime | None:
    """When the user's last digest (for a day before ``before``) went out."""
    q = select(func.max(DigestRun.sent_at)).where(DigestRun.user_id == user_id, DigestRun.status == "sent")
    if before is not None:
        q = q.where(DigestRun.local_date < before)
    return session.scalar(q)


def news_since(session: Session, w: Window) -> dt.datetime:
    """Where a digest's news (bounces) starts: when the previous digest went out to this user, or,
    before the first one, when the user was registered. A day without a digest loses nothing."""
    since = last_digest_at(session, w.user_id, before=w.today)
    if since is None:
        since = session.scalar(select(User.created_at).where(User.id == w.user_id))
    return since or w.utc(w.today - dt.timedelta(days=1))


@contextmanager
def _no_jit(session: Session) -> Iterator[None]:
    """PostgreSQL: no JIT compilation while collecting (SET LOCAL, put back afterwards).

    Every statement here is index seeks over a few thousand rows, yet the two deal queries are
    estimated near ``jit_above_cost`` (~90,000 of the default 100,000 at 2,000 open deals): a few
    more deals and each is compiled before it runs, which costs more than running it (forcing the
    optimising JIT onto both added 240 ms to a 460 ms digest).  On an error the transaction's end
    drops the setting anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.execute(text("SELECT current_setting('jit', true)")).scalar()
    if before is not None:  # absent before PostgreSQL 11
        session.execute(text("SELECT set_config('jit', 'off', true)"))
    yield
    if before is not None:
        session.execute(text("SELECT set_config('jit', :value, true)"), {"value": before})


def collect(session: Session, w: Window) -> Snapshot:
    """Read everything one user's digest for one local day needs (read-only)."""
    with _no_jit(session):
        return _collect(session, w)


def _collect(session: Session, w: Window) -> Snapshot:
    # Lines snoozed from a digest reply ("2 snooze 3d") stay away until their day.
    snoozed = session.execute(select(Activity.deal_id, Activity.contact_id).where(
        Activity.kind == "snooze", Activity.due > w.today)).all()
    snoozed_deals = {d for d, _ in snoozed if d is not None}
    snoozed_people = {c for d, c in snoozed if d is None and c is not None}
    deals = [d for d in _deals(session, w) if d.id not in snoozed_deals]
    waiting = [(c, m) for c, m in _waiting(session, w) if c not in snoozed_people]
    # Only the people a section lists are read (rules orders them the same way); the rest is counted.
    waiting.sort(key=lambda x: waiting_key(x[1].date, x[0]), reverse=True)
    unlisted = {"waiting": max(0, len(waiting) - w.limits["waiting"])}
    waiting = waiting[:w.limits["waiting"]]
    quiet, quiet_unlisted, tags = _listed_quiet(*_quiet(session, w), w.limits["quiet"])
    date_rows, tag_members, tag_names = _dates(session, w)
    # Bounces that arrived (were ingested) since the previous digest, whatever their Date header
    # says; a history import is not news.
    since = news_since(session, w)
    bounces = session.execute(
        select(BounceEvent.address, EmailAddress.contact_id, BounceEvent.hard, BounceEvent.reason, BounceEvent.at)
        .join(Message, Message.id == BounceEvent.message_id)
        .outerjoin(EmailAddress, EmailAddress.id == BounceEvent.address_id)
        .where(Message.ingested_at >= since, not_(Message.source.like("import:%")),
               BounceEvent.effect.in_(("bounced", "scored")))).all()
    # Contacts with addresses, none of them live: from the few dead addresses (ix_email_address_status),
    # one seek each for a live one.  A suspect address may still be live: it is listed under "check
    # this address" instead.  (A grouped pass over every address cost 27 ms at 60,000 addresses.)
    live = aliased(EmailAddress)
    dead = (select(EmailAddress.contact_id).where(EmailAddress.status.in_(DEAD_STATUSES), ~(
        select(live.id).where(live.contact_id == EmailAddress.contact_id, live.status.in_(LIVE_STATUSES)).exists())))
    no_address = sorted(set(session.scalars(select(Contact.id).where(
        Contact.status == "active", Contact.needs_new_address.is_(True)))) | set(session.scalars(
        select(Contact.id).where(Contact.status == "active", Contact.id.in_(dead)))))
    suspect = session.execute(
        select(EmailAddress.address, EmailAddress.contact_id, EmailAddress.status_reason)
        .where(EmailAddress.status == "suspect").order_by(EmailAddress.address).limit(w.limits["suspect"])).all()
    if len(suspect) == w.limits["suspect"]:
        unlisted["suspect"] = (session.scalar(select(func.count()).select_from(EmailAddress)
                                              .where(EmailAddress.status == "suspect")) or 0) - len(suspect)
    autoreplies = session.execute(select(Activity.contact_id, Activity.due, Activity.text).where(
        Activity.kind == "autoreply", Activity.due == w.today, Activity.contact_id.is_not(None))).all()

    ids = {c for c, _ in waiting} | {c for c, _ in quiet} | {r.contact_id for r in date_rows if r.contact_id}
    ids |= {c for _, shown in tag_members.values() for c in shown} | {b[1] for b in bounces if b[1]}
    ids |= set(no_address) | {a[0] for a in autoreplies} | {x[1] for x in suspect if x[1]}
    follow = follow_ups.due(session, w.user_id, w.today)
    ids |= {c for f in follow for c in f.contact_ids}
    touch = touches.due(session, w.utc(w.today + dt.timedelta(days=1)))
    ids |= {t.contact_id for t in touch}
    persons = people(session, ids)
    dates = []
    for r in date_rows:
        spec = DateSpec(r.month, r.day, r.year, r.rule)
        if r.contact_id is not None and r.contact_id in persons:
            dates.append(SpecialDateSnap(r.label, spec, person=persons[r.contact_id]))
        elif r.tag_id is not None:
            count, shown = tag_members.get(r.tag_id, (0, []))
            dates.append(SpecialDateSnap(r.label, spec, tag=tag_names.get(r.tag_id), tag_count=count,
                                         tag_people=tuple(persons[c] for c in shown if c in persons)))
    return Snapshot(
        user_email=w.user_email, user_name=w.user_name, deals=tuple(deals),
        waiting=tuple(WaitingSnap(persons[c], m) for c, m in waiting if c in persons),
        dates=tuple(dates),
        bounces=tuple(BounceSnap(a, persons.get(cid) if cid else None, bool(hard), reason, at)
                      for a, cid, hard, reason, at in bounces),
        no_address=tuple(persons[c] for c in no_address if c in persons),
        autoreplies=tuple(AutoreplySnap(persons[c], due or w.today, text)  # the query asks due == today
                          for c, due, text in autoreplies if c in persons),
        quiet=tuple(QuietSnap(persons[c], m, tuple(tags.get(c, ()))) for c, m in quiet if c in persons),
        suspect=tuple(SuspectSnap(a, persons.get(cid) if cid else None, why) for a, cid, why in suspect),
        follow_ups=tuple(FollowUpSnap(f.id, f.due, f.always, MessageRef(f.subject, f.date), f.recipients,
                                      tuple(persons[c] for c in f.contact_ids if c in persons)) for f in follow),
        touches=tuple(TouchSnap(persons[t.contact_id], t.every_days, t.last_touch, t.tag)
                      for t in touch if t.contact_id in persons),
        unlisted={k: v for k, v in unlisted.items() if v}, quiet_unlisted=quiet_unlisted,
    )
