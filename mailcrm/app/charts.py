"""The data behind the web's charts (read only, one transaction each): pitches per tag through answered,
interested and won; replies per week; deals per stage week by week.  The web draws them (pygal)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mailcrm.app.handle import Store
from mailcrm.store.db import transaction
from mailcrm.store.models import ContactTag, Deal, DealContact, DealStage, Message, Tag, WorkRecipient

WEEKS = 12


def week_starts(today: dt.date, weeks: int = WEEKS) -> list[dt.date]:
    """The Mondays of the last ``weeks`` weeks, oldest first (this week's last)."""
    monday = today - dt.timedelta(days=today.weekday())
    return [monday - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _utc(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.timezone.utc).replace(tzinfo=None)


def funnel_by_tag(store: Store) -> list[dict[str, Any]]:
    """Per tag (and untagged, tag None): works sent to its people (pitches: work x person), how many were
    answered, how many interested (interested or a deal), and how many went to a person with a won deal."""
    with transaction(store.factory) as s:
        pitches = s.execute(select(WorkRecipient.contact_id, WorkRecipient.answer)).all()
        ids = {cid for cid, _ in pitches}
        tags: dict[int, list[str]] = defaultdict(list)
        won: set[int] = set()
        if ids:
            for cid, name in s.execute(select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)):
                if cid in ids:
                    tags[cid].append(name)
            won = {cid for (cid,) in s.execute(select(DealContact.contact_id).join(Deal, Deal.id == DealContact.deal_id)
                                               .where(Deal.status == "won"))}
    rows: dict[str | None, Counter[str]] = defaultdict(Counter)
    for cid, answer in pitches:
        names: list[str | None] = list(tags.get(cid, ())) or [None]
        for tag in names:
            c = rows[tag]
            c["sent"] += 1
            c["answered"] += answer != "none"
            c["interested"] += answer in ("interested", "deal")
            c["won"] += cid in won
    order = sorted(rows, key=lambda t: (t is None, -rows[t]["sent"], t or ""))
    return [{"tag": t, **{k: rows[t][k] for k in ("sent", "answered", "interested", "won")}} for t in order]


def replies_per_week(store: Store, today: dt.date, tz: ZoneInfo, weeks: int = WEEKS) -> list[tuple[dt.date, int]]:
    """Replies received (mail in, answering a message) per local week, the last ``weeks`` weeks."""
    starts = week_starts(today, weeks)
    since = _utc(starts[0], tz)
    with transaction(store.factory) as s:
        dates = s.scalars(select(Message.date).where(Message.date >= since, Message.kind == "received",
                                                     Message.status == "active", Message.in_reply_to.is_not(None)))
        counts: Counter[dt.date] = Counter()
        for d in dates:
            local = d.replace(tzinfo=dt.timezone.utc).astimezone(tz).date()
            counts[local - dt.timedelta(days=local.weekday())] += 1
    return [(w, counts[w]) for w in starts]


def stages_per_week(store: Store, today: dt.date, tz: ZoneInfo, weeks: int = WEEKS) -> dict[str, Any]:
    """How many deals were in each stage at the end of each of the last ``weeks`` weeks (from the stage
    history): ``{"weeks": [monday, ...], "stages": {stage: [count per week]}}``."""
    starts = week_starts(today, weeks)
    ends = [_utc(w + dt.timedelta(days=7), tz) for w in starts]
    with transaction(store.factory) as s:
        history = s.execute(select(DealStage.deal_id, DealStage.stage, DealStage.at)
                            .join(Deal, Deal.id == DealStage.deal_id).where(Deal.status != "deleted")
                            .order_by(DealStage.deal_id, DealStage.at, DealStage.id)).all()
    by_deal: dict[int, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for deal_id, stage, at in history:
        by_deal[deal_id].append((at, stage))
    series: dict[str, list[int]] = {}
    for changes in by_deal.values():
        for i, end in enumerate(ends):
            current = None
            for at, stage in changes:
                if at >= end:
                    break
                current = stage
            if current is not None:
                series.setdefault(current, [0] * len(ends))[i] += 1
    return {"weeks": starts, "stages": series}
