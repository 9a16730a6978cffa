"""Follow-up cadence (PURE): per-stage rules -> the date a deal next needs a touch.

A deal entering a stage is due ``first_after`` days later (counted from the day the deal was
opened instead when the stage's ``anchor`` is "opened": a brief is due 5 days after the lead came
in, however long it sat in ``lead``); once touched in the stage (mail either way, a logged call)
it is due again ``every`` days after the last touch, where ``every`` lies in [every_min, every_max].
That gap holds whatever happened first: a touch before the deal entered the stage (or was opened)
caps the stage's first follow-up at ``every`` days after it.
The point in that window is derived from the deal id, so twenty deals opened on one morning
spread over the window instead of all falling due together — and the choice is stable from one
digest to the next.  The first follow-up of a stage is spread over the window's width too; an
"opened" deadline is kept exact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class StageRule:
    """When a deal in one stage needs a touch (all None: never, e.g. won/lost)."""

    first_after: int | None = None
    every_min: int | None = None
    every_max: int | None = None
    anchor: str = "stage"  # "stage": first_after counts from entering the stage; "opened": from the deal's opening

    @property
    def active(self) -> bool:
        """True when this stage asks for follow-ups at all."""
        return self.first_after is not None or self.every_min is not None or self.every_max is not None


@dataclass(frozen=True)
class Due:
    """A deal's cadence verdict for one local day."""

    due: dt.date
    overdue_days: int  # 0: due today; >0: days late; <0: not yet due
    days_since_touch: int | None

    @property
    def is_due(self) -> bool:
        """Due today or overdue."""
        return self.overdue_days >= 0


def local_date(when: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The user's local calendar date of a naive-UTC store timestamp."""
    return when.replace(tzinfo=dt.timezone.utc).astimezone(tz).date()


def spread(deal_id: int, low: int, high: int) -> int:
    """A stable value in [low, high] picked by the deal id (sha256, so neighbouring ids differ)."""
    if high <= low:
        return low
    h = int.from_bytes(hashlib.sha256(str(deal_id).encode()).digest()[:4], "big")
    return low + h % (high - low + 1)


def rules_from_mapping(stages: Mapping[str, object]) -> dict[str, StageRule]:
    """StageRule per stage from config-like objects (anything with the three attributes)."""
    return {
        name: StageRule(getattr(s, "first_after", None), getattr(s, "every_min", None), getattr(s, "every_max", None),
                        str(getattr(s, "anchor", "stage")))
        for name, s in stages.items()
    }


def next_due(
    rule: StageRule,
    *,
    deal_id: int,
    stage_since: dt.date,
    last_touch: dt.date | None,
    opened: dt.date | None = None,
) -> dt.date | None:
    """The next due date (local dates in, local date out); None when the stage has no cadence."""
    if not rule.active:
        return None
    lo = rule.every_min if rule.every_min is not None else rule.every_max
    hi = rule.every_max if rule.every_max is not None else lo
    deadline = rule.anchor == "opened" and opened is not None
    start = opened if deadline and opened is not None else stage_since
    # A deadline counted from the opening (the brief) is exact; a first follow-up is spread.
    jitter = spread(deal_id, 0, hi - lo) if lo is not None and hi is not None and not deadline else 0
    first = start + dt.timedelta(days=(rule.first_after or 0) + jitter)
    if lo is None or hi is None or last_touch is None:
        return first
    gap = spread(deal_id, lo, hi)
    if last_touch < stage_since:
        # Untouched since the stage began: the stage's first follow-up rule applies, but never
        # later than the stage's own gap after the last touch before it (a paid client called 5
        # days before the deal was opened is not left 13 days without a call).
        return min(first, last_touch + dt.timedelta(days=gap))
    # Touched in this stage: the touch resets the clock (the mail itself is the evidence).
    return last_touch + dt.timedelta(days=gap)


def evaluate(
    rule: StageRule,
    *,
    deal_id: int,
    stage_changed_at: dt.datetime,
    last_touch: dt.datetime | None,
    today: dt.date,
    tz: ZoneInfo,
    opened_at: dt.datetime | None = None,
) -> Due | None:
    """The cadence verdict for a deal on the user's local ``today`` (store times are naive UTC)."""
    since = local_date(stage_changed_at, tz)
    touch = local_date(last_touch, tz) if last_touch is not None else None
    opened = local_date(opened_at, tz) if opened_at is not None else None
    due = next_due(rule, deal_id=deal_id, stage_since=since, last_touch=touch, opened=opened)
    if due is None:
        return None
    return Due(due=due, overdue_days=(today - due).days,
               days_since_touch=(today - touch).days if touch is not None else None)
