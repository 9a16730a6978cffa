"""Read-only queries: the store -> a digest ``Snapshot`` for one user and one local day.

Built for size (10k contacts, 2k open deals, 1M messages): a fixed number of queries, no
per-row round trips.  Per-contact "latest touch" values are correlated ``ORDER BY date DESC
LIMIT 1`` subqueries that both SQLite and PostgreSQL answer with one backwards seek on
``ix_participant_contact_date``; windowed sections start from the ``messages.date`` index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from mailcrm.digest.rules import (
    AutoreplySnap,
    BounceSnap,
    DealSnap,
    MessageRef,
    Person,
    QuietSnap,
    Snapshot,
    SpecialDateSnap,
    WaitingSnap,
)
from mailcrm.domain.special_dates import DateSpec
from mailcrm.store.models import (
    Activity,
    BounceEvent,
    Company,
    Contact,
    ContactTag,
    Deal,
    DealContact,
    DealMessage,
    DigestRun,
    EmailAddress,
    Message,
    Participant,
    SpecialDate,
    Tag,
)

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


def people(session: Session, ids: Iterable[int]) -> dict[int, Person]:
    """Persons by contact id: name, first live address, phones, company (two queries per 500 ids)."""
    out: dict[int, Person] = {}
    for chunk in _chunks(ids):
        addrs: dict[int, str] = {}
        for cid, address, status in session.execute(
                select(EmailAddress.contact_id, EmailAddress.address, EmailAddress.status)
                .where(EmailAddress.contact_id.in_(chunk)).order_by(EmailAddress.id)):
            if cid not in addrs or (status == "active" and addrs[cid].startswith("!")):
                addrs[cid] = address if status == "active" else "!" + address
        for cid, name, phones, company in session.execute(
                select(Contact.id, Contact.name, Contact.phones, Company.name)
                .outerjoin(Company, Company.id == Contact.company_id).where(Contact.id.in_(chunk))):
            address = addrs.get(cid)
            out[cid] = Person(cid, name, address.lstrip("!") if address else None, tuple(phones or ()), company)
    return out


def _messages(session: Session, ids: Iterable[int]) -> dict[int, MessageRef]:
    out: dict[int, MessageRef] = {}
    for chunk in _chunks(ids):
        for mid, subject, date in session.execute(select(Message.id, Message.subject, Message.date)
                                                  .where(Message.id.in_(chunk))):
            out[mid] = MessageRef(subject or "", date)
    return out


def _calls(session: Session) -> tuple[dict[int, dt.datetime], dict[int, dt.datetime]]:
    """Latest logged call per contact and per deal (calls are few next to mail)."""
    by_contact: dict[int, dt.datetime] = {}
    by_deal: dict[int, dt.datetime] = {}
    for cid, deal_id, at in session.execute(select(Activity.contact_id, Activity.deal_id, func.max(Activity.at))
                                            .where(Activity.kind == "call")
                                            .group_by(Activity.contact_id, Activity.deal_id)):
        if cid is not None and (cid not in by_contact or by_contact[cid] < at):
            by_contact[cid] = at
        if deal_id is not None and (deal_id not in by_deal or by_deal[deal_id] < at):
            by_deal[deal_id] = at
    return by_contact, by_deal


def _max(*values: dt.datetime | None) -> dt.datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _deals(session: Session, w: Window, calls: dict[int, dt.datetime],
           deal_calls: dict[int, dt.datetime]) -> list[DealSnap]:
    mine = and_(Deal.status == "open", or_(Deal.user_id == w.user_id, Deal.user_id.is_(None)))
    deals = session.execute(select(Deal, Company.name).outerjoin(Company, Company.id == Deal.company_id)
                            .where(mine).order_by(Deal.id)).all()
    if not deals:
        return []
    members: dict[int, list[int]] = {}
    touches: dict[int, tuple[Any, Any, Any, Any]] = {}
    dc = DealContact
    rows = session.execute(
        select(dc.deal_id, dc.contact_id,
               _latest("date", OUT_ROLES, dc.contact_id), _latest("date", IN_ROLES, dc.contact_id),
               _latest("message_id", OUT_ROLES + IN_ROLES, dc.contact_id),
               _latest("date", OUT_ROLES + IN_ROLES, dc.contact_id))
        .join(Deal, Deal.id == dc.deal_id).where(mine))
    for deal_id, cid, last_out, last_in, last_mid, last_date in rows:
        members.setdefault(deal_id, []).append(cid)
        touches[cid] = (last_out, last_in, last_mid, last_date)
    # Messages in a deal's threads count too (a colleague on Cc, a forward into the thread).
    thread_last: dict[int, tuple[dt.datetime, int]] = {}
    for deal_id, mid, date in session.execute(
            select(DealMessage.deal_id, Message.id, Message.date).join(Message, Message.id == DealMessage.message_id)
            .join(Deal, Deal.id == DealMessage.deal_id).where(mine, Message.kind.in_(TOUCH_KINDS))):
        if deal_id not in thread_last or thread_last[deal_id] < (date, mid):
            thread_last[deal_id] = (date, mid)
    persons = people(session, touches)
    msg_ids = {t[2] for t in touches.values() if t[2] is not None} | {m for _, m in thread_last.values()}
    msgs = _messages(session, msg_ids)
    out = []
    for deal, company in deals:
        ids = members.get(deal.id, [])
        last_out = _max(*(touches[c][0] for c in ids), *(calls.get(c) for c in ids), deal_calls.get(deal.id))
        candidates = [(touches[c][3], touches[c][2]) for c in ids if touches[c][3] is not None]
        if deal.id in thread_last:
            candidates.append(thread_last[deal.id])
        last_msg = max(candidates)[1] if candidates else None
        last_touch = _max(last_out, *(touches[c][1] for c in ids), *(d for d, _ in candidates))
        out.append(DealSnap(
            id=deal.id, title=deal.title, stage=deal.stage, opened_at=deal.opened_at,
            stage_changed_at=deal.stage_changed_at, company=company,
            people=tuple(persons[c] for c in ids if c in persons), last_touch=last_touch, last_out=last_out,
            last_message=msgs.get(last_msg) if last_msg is not None else None))
    return out


def _mine(w: Window) -> Any:
    return or_(Message.user_id == w.user_id, Message.user_id.is_(None))


def _waiting(session: Session, w: Window) -> list[tuple[int, int]]:
    """(contact id, message id) of the latest mail received per person, answered by nothing after."""
    since = w.utc(w.today - dt.timedelta(days=WAITING_DAYS))
    latest: dict[int, tuple[dt.datetime, int]] = {}
    for cid, mid, date in session.execute(
            select(Participant.contact_id, Message.id, Message.date)
            .join(Participant, Participant.message_id == Message.id)
            .where(Message.date >= since, Message.kind.in_(("received", "forward")), Message.status == "active",
                   _mine(w), Participant.role.in_(IN_ROLES), Participant.contact_id.is_not(None))):
        if cid not in latest or latest[cid] < (date, mid):
            latest[cid] = (date, mid)
    out = []
    for chunk in _chunks(latest):
        c = aliased(Contact)
        for cid, last_out in session.execute(select(c.id, _latest("date", OUT_ROLES, c.id)).where(c.id.in_(chunk))):
            if last_out is None or last_out < latest[cid][0]:
                out.append((cid, latest[cid][1]))
    return out


def _quiet(session: Session, w: Window, calls: dict[int, dt.datetime]) -> list[tuple[int, int]]:
    """(contact id, message id) for people we last wrote to 6+ weeks ago with nothing since."""
    hi = w.utc(w.today - dt.timedelta(days=w.quiet_after_days - 1))
    lo = w.utc(w.today - dt.timedelta(days=w.quiet_after_days + QUIET_WINDOW_DAYS))
    latest: dict[int, tuple[dt.datetime, int]] = {}
    for cid, mid, date in session.execute(
            select(Participant.contact_id, Message.id, Message.date)
            .join(Participant, Participant.message_id == Message.id)
            .where(Message.date >= lo, Message.date < hi, Message.kind == "sent", Message.status == "active",
                   _mine(w), Participant.role.in_(OUT_ROLES), Participant.contact_id.is_not(None))):
        if cid not in latest or latest[cid] < (date, mid):
            latest[cid] = (date, mid)
    out = []
    for chunk in _chunks(latest):
        c = aliased(Contact)
        for cid, last_any in session.execute(select(c.id, _latest("date", OUT_ROLES + IN_ROLES, c.id))
                                             .where(c.id.in_(chunk), c.status == "active")):
            sent_at = latest[cid][0]
            if (last_any is None or last_any <= sent_at) and not (cid in calls and calls[cid] > sent_at):
                out.append((cid, latest[cid][1]))
    return out


def _tags(session: Session, ids: Iterable[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for chunk in _chunks(ids):
        for cid, name in session.execute(select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)
                                         .where(ContactTag.contact_id.in_(chunk)).order_by(Tag.name)):
            out.setdefault(cid, []).append(name)
    return out


def _dates(session: Session) -> tuple[list[Any], dict[int, tuple[int, list[int]]], dict[int, str]]:
    rows = list(session.scalars(select(SpecialDate).where(SpecialDate.status == "active")))
    tag_ids = {r.tag_id for r in rows if r.tag_id is not None}
    members: dict[int, tuple[int, list[int]]] = {}
    names: dict[int, str] = {}
    if tag_ids:
        names = dict(session.execute(select(Tag.id, Tag.name).where(Tag.id.in_(tag_ids))).all())
        for tid, cid in session.execute(select(ContactTag.tag_id, ContactTag.contact_id)
                                        .join(Contact, Contact.id == ContactTag.contact_id)
                                        .where(ContactTag.tag_id.in_(tag_ids), Contact.status == "active")
                                        .order_by(ContactTag.tag_id, ContactTag.contact_id)):
            count, shown = members.get(tid, (0, []))
            if len(shown) < TAG_PEOPLE_SHOWN:
                shown.append(cid)
            members[tid] = (count + 1, shown)
    return rows, members, names


def last_digest_at(session: Session, user_id: int) -> dt.datetime | None:
    """When the user's last digest went out (bounces are reported "since" then)."""
    return session.scalar(select(func.max(DigestRun.sent_at)).where(DigestRun.user_id == user_id,
                                                                    DigestRun.status == "sent"))


def collect(session: Session, w: Window) -> Snapshot:
    """Read everything one user's digest for one local day needs (read-only)."""
    calls, deal_calls = _calls(session)
    deals = _deals(session, w, calls, deal_calls)
    waiting = _waiting(session, w)
    quiet = _quiet(session, w, calls)
    date_rows, tag_members, tag_names = _dates(session)
    since = last_digest_at(session, w.user_id) or w.utc(w.today - dt.timedelta(days=1))
    bounces = session.execute(
        select(BounceEvent.address, EmailAddress.contact_id, BounceEvent.hard, BounceEvent.reason, BounceEvent.at)
        .outerjoin(EmailAddress, EmailAddress.id == BounceEvent.address_id)
        .where(BounceEvent.at >= since, BounceEvent.effect.in_(("bounced", "scored")))).all()
    live = exists().where(EmailAddress.contact_id == Contact.id, EmailAddress.status == "active")
    anyaddr = exists().where(EmailAddress.contact_id == Contact.id)
    no_address = list(session.scalars(select(Contact.id).where(
        Contact.status == "active", or_(Contact.needs_new_address.is_(True), and_(anyaddr, ~live)))))
    autoreplies = session.execute(select(Activity.contact_id, Activity.due, Activity.text).where(
        Activity.kind == "autoreply", Activity.due == w.today, Activity.contact_id.is_not(None))).all()

    ids = {c for c, _ in waiting} | {c for c, _ in quiet} | {r.contact_id for r in date_rows if r.contact_id}
    ids |= {c for _, shown in tag_members.values() for c in shown} | {b[1] for b in bounces if b[1]}
    ids |= set(no_address) | {a[0] for a in autoreplies}
    persons = people(session, ids)
    msgs = _messages(session, [m for _, m in waiting] + [m for _, m in quiet])
    tags = _tags(session, [c for c, _ in quiet])
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
        waiting=tuple(WaitingSnap(persons[c], msgs[m]) for c, m in waiting if c in persons and m in msgs),
        dates=tuple(dates),
        bounces=tuple(BounceSnap(a, persons.get(cid) if cid else None, bool(hard), reason, at)
                      for a, cid, hard, reason, at in bounces),
        no_address=tuple(persons[c] for c in no_address if c in persons),
        autoreplies=tuple(AutoreplySnap(persons[c], due, text) for c, due, text in autoreplies if c in persons),
        quiet=tuple(QuietSnap(persons[c], msgs[m], tuple(tags.get(c, ()))) for c, m in quiet
                    if c in persons and m in msgs),
    )
