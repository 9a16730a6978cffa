"""One user's digest for one local day: collect (read-only) -> rules -> render."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcrm.config import Config, UserConfig
from mailcrm.digest.collect import Window, collect, with_deal_details
from mailcrm.digest.render import Rendered, render
from mailcrm.digest.rules import Digest, RepeatItem, build_digest, limits_with
from mailcrm.domain.cadence import rules_from_mapping
from mailcrm.errors import ConfigError, NotFound
from mailcrm.store.models import User, WorkWarning


def pick_user(cfg: Config, address: str | None) -> UserConfig:
    """The configured user owning ``address`` (the first user when None); Refused otherwise."""
    if not cfg.users:
        raise ConfigError("no [[users]] in the config; run `mailcrm init`")
    if address is None:
        return cfg.users[0]
    user = cfg.user_for_address(address.strip().lower())
    if user is None:
        raise NotFound(f"{address} is not a configured user ([[users]] email or addresses)")
    return user


def local_today(user: UserConfig, now: dt.datetime | None = None) -> dt.date:
    """The user's local date now (``now`` is aware, default the wall clock)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(ZoneInfo(user.timezone)).date()


def user_id(session: Session, user: UserConfig) -> int:
    """The store id of a configured user (users are synced at start and by the CLI)."""
    uid = session.scalar(select(User.id).where(User.email == user.email))
    if uid is None:
        raise NotFound(f"user {user.email} is not in the store yet; run `mailcrm serve` or `mailcrm status` once")
    return uid


def _repeats(session: Session, uid: int, today: dt.date, tz: ZoneInfo) -> tuple[RepeatItem, ...]:
    """Repeats recorded during the user's local yesterday (and today so far, before the digest)."""
    start = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), tz).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(today, dt.time(), tz).astimezone(dt.timezone.utc)
    q = (select(WorkWarning.data).where(WorkWarning.created_at >= start.replace(tzinfo=None),
                                        WorkWarning.created_at < end.replace(tzinfo=None),
                                        (WorkWarning.user_id == uid) | WorkWarning.user_id.is_(None))
         .order_by(WorkWarning.id))
    out = []
    for data in session.scalars(q):
        prior = (data.get("priors") or [{}])[-1]
        out.append(RepeatItem(str(data.get("title") or ""), str(data.get("to") or ""), data.get("company"),
                              dt.date.fromisoformat(str(prior.get("last_sent") or "1970-01-01")[:10]),
                              str(prior.get("answer") or "none")))
    return tuple(out)


def section_limits(cfg: Config) -> dict[str, int]:
    """Lines per digest section: ``[digest] section_limits`` by name, else ``section_limit``
    (the "quiet" section's default, 15, is per tag)."""
    return limits_with(cfg.digest.section_limits, cfg.digest.section_limit)


def make_digest(session: Session, cfg: Config, user: UserConfig, today: dt.date) -> tuple[Digest, Rendered]:
    """Collect, apply the rules and render one user's digest for their local ``today``."""
    tz = ZoneInfo(user.timezone)
    limits = section_limits(cfg)
    window = Window(user_id(session, user), user.email, user.name, today, tz, cfg.cadence.quiet_after_days, limits)
    snapshot = collect(session, window)
    digest = build_digest(snapshot, today=today, tz=tz, stages=rules_from_mapping(cfg.cadence.stages),
                          lead_stage=cfg.cadence.default_stage, repeats=_repeats(session, window.user_id, today, tz),
                          limits=limits)
    digest = with_deal_details(session, digest)
    return digest, render(digest, user.language, cfg.cadence.quiet_after_days, labels=cfg.cadence.labels(user.language),
                          public_url=cfg.web.public_url if cfg.web else "")
