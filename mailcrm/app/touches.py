"""Keep in touch (issue 27): ``mailcrm touch every 90d --tag T | --contact ADDR``, ``touch list``, ``touch remove``.

A person (or everyone with a tag) not written to, called or met within the period shows up in the
digest; any such touch resets the clock.  A person never touched counts from when the rule was
made, so a new rule does not flood the next digest.  Each use case below is one transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailcrm.app import activities
from mailcrm.app.handle import Store
from mailcrm.errors import Invalid, NotFound
from mailcrm.store import repository
from mailcrm.store.db import transaction
from mailcrm.store.models import Activity, ContactTag, Participant, Tag, TouchRule, utcnow

_PERIOD = re.compile(r"^\s*(\d{1,4})\s*(d|day|days|w|week|weeks|m|month|months|д|дн|н|нед|м|мес)?\s*$", re.I)
_UNIT_DAYS = {"d": 1, "day": 1, "days": 1, "д": 1, "дн": 1, "w": 7, "week": 7, "weeks": 7, "н": 7, "нед": 7,
              "m": 30, "month": 30, "months": 30, "м": 30, "мес": 30}
TOUCH_KINDS = ("call", "event", "meeting")  # activities that count as a touch besides mail we sent


def parse_period(text: str) -> int:
    """"90d", "12w", "3m" (30-day months), "90" -> days; Invalid otherwise."""
    m = _PERIOD.match(text)
    if m is None or int(m[1]) == 0:
        raise Invalid(f"period {text!r}: write it as 90d, 12w or 3m")
    return int(m[1]) * _UNIT_DAYS[(m[2] or "d").lower()]


def add_rule(store: Store, every: str, *, tag: str | None = None, contact: str | None = None) -> dict[str, Any]:
    """Keep in touch every ``every`` with one contact or everyone tagged ``tag``."""
    if (tag is None) == (contact is None):
        raise Invalid("give exactly one of --tag or --contact")
    days = parse_period(every)
    with transaction(store.factory) as s:
        if tag is not None:
            row = activities.tag_row(s, tag, create=False)
            if row is None:
                raise NotFound(f"no tag {tag!r}; tag someone first (mailcrm tag ADDR {tag})")
            rule = TouchRule(tag_id=row.id, every_days=days, created_at=utcnow())
        else:
            c = repository.find_contact(s, contact or "")
            if c is None:
                raise NotFound(f"no contact with address {contact}")
            rule = TouchRule(contact_id=c.id, every_days=days, created_at=utcnow())
        s.add(rule)
        s.flush()
        return {"id": rule.id, "every_days": days, "tag": tag, "contact": contact}


def list_rules(store: Store) -> list[dict[str, Any]]:
    """The active rules with their target and period."""
    with transaction(store.factory) as s:
        return [_rule_dict(s, r) for r in s.scalars(select(TouchRule).where(TouchRule.status == "active")
                                                    .order_by(TouchRule.id))]


def remove_rule(store: Store, rule_id: int) -> dict[str, Any]:
    """Stop a rule (a status: the row stays)."""
    with transaction(store.factory) as s:
        rule = s.get(TouchRule, rule_id)
        if rule is None or rule.status != "active":
            raise NotFound(f"no touch rule #{rule_id}")
        rule.status = "removed"
        return _rule_dict(s, rule)


def _rule_dict(s: Session, r: TouchRule) -> dict[str, Any]:
    tag = s.get(Tag, r.tag_id).name if r.tag_id else None  # type: ignore[union-attr]
    addresses = repository.contact_addresses(s, r.contact_id) if r.contact_id else []
    return {"id": r.id, "every_days": r.every_days, "tag": tag,
            "contact": addresses[0].address if addresses else (f"#{r.contact_id}" if r.contact_id else None),
            "status": r.status}


@dataclass(frozen=True)
class DueTouch:
    """A person whose keep-in-touch period has run out."""

    contact_id: int
    every_days: int
    last_touch: dt.datetime | None
    tag: str | None


def due(session: Session, now: dt.datetime) -> list[DueTouch]:
    """Everyone a rule covers who was not written to, called or met within its period (read only)."""
    targets: dict[int, tuple[int, dt.datetime, str | None]] = {}  # contact -> shortest period, rule start, tag
    for r in session.scalars(select(TouchRule).where(TouchRule.status == "active")):
        tag = session.get(Tag, r.tag_id).name if r.tag_id else None  # type: ignore[union-attr]
        ids = ([r.contact_id] if r.contact_id else
               list(session.scalars(select(ContactTag.contact_id).where(ContactTag.tag_id == r.tag_id))))
        for cid in ids:
            if cid is not None and (cid not in targets or r.every_days < targets[cid][0]):
                targets[cid] = (r.every_days, r.created_at, tag)
    out = []
    for cid, (days, start, tag) in sorted(targets.items()):
        mail = session.scalar(select(func.max(Participant.date)).where(
            Participant.contact_id == cid, Participant.direction == "out"))
        met = session.scalar(select(func.max(Activity.at)).where(
            Activity.contact_id == cid, Activity.kind.in_(TOUCH_KINDS)))
        last = max((t for t in (mail, met) if t is not None), default=None)
        if (last or start) < now - dt.timedelta(days=days):
            out.append(DueTouch(cid, days, last, tag))
    return out

