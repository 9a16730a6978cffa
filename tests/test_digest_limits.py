"""Digest section limits: each section lists its most pressing lines and counts the rest ("and N more")."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from digest_fixtures import STAGES_CFG, deal, person

from mailcrm import config
from mailcrm.digest.compose import section_limits
from mailcrm.digest.render import render
from mailcrm.digest.rules import (
    DEFAULT_LIMITS,
    SECTIONS,
    MessageRef,
    QuietSnap,
    Snapshot,
    SuspectSnap,
    WaitingSnap,
    build_digest,
    numbered_lines,
)
from mailcrm.domain.cadence import StageRule
from mailcrm.errors import ConfigError

STAGES = {k: StageRule(*v) for k, v in STAGES_CFG.items()}
MSK = ZoneInfo("Europe/Moscow")
TODAY = dt.date(2025, 3, 10)
BASE = 'data_dir = "/tmp/x"\n[[users]]\nemail = "me@example.org"\ndropbox = "crm+a1b2c3d4e5f6a7b8c9d0@example.org"\n'


def _overdue_deals(n: int) -> tuple:  # type: ignore[type-arg]
    t0 = dt.datetime(2025, 2, 1, 9)
    # Deal i was last touched i hours later than deal i-1: the lower the id, the more overdue.
    return tuple(deal(i, "invoiced", t0, touched=t0 + dt.timedelta(days=i % 20, hours=i),
                      out=t0 + dt.timedelta(days=i % 20, hours=i)) for i in range(1, n + 1))


def test_call_today_lists_the_most_overdue_up_to_the_limit_and_counts_the_rest() -> None:
    snap = Snapshot("me@x", None, deals=_overdue_deals(45))
    full = build_digest(snap, today=TODAY, tz=MSK, stages=STAGES, limits={"call_today": 1000})
    d = build_digest(snap, today=TODAY, tz=MSK, stages=STAGES)
    limit = DEFAULT_LIMITS["call_today"]
    assert len(full.call_today) == 45 and full.more == {}
    assert d.call_today == full.call_today[:limit]  # the most overdue, in the same order
    assert d.more["call_today"] == 45 - limit and d.total("call_today") == 45
    assert d.summary()["call_today"] == 45
    # Numbered lines (a reply "3 won" acts on line 3) are the listed ones only.
    assert [x.ref for x in numbered_lines(d)] == [c.deal.id for c in d.call_today]
    for language, more in (("en", f"and {45 - limit} more"), ("ru", f"и ещё {45 - limit}")):
        out = render(d, language)
        assert more in out.text and more in out.html
        assert "(45)" in out.text and "(45)</h2>" in out.html
        assert out.text.count(". ") >= limit and f"{limit}. " in out.text and f"{limit + 1}. " not in out.text
        assert "45" in out.subject


def test_every_section_is_capped_and_named_limits_override_the_default() -> None:
    people = [person(i, f"Person {i:03d}", f"p{i}@x.ru") for i in range(1, 61)]
    snap = Snapshot("me@x", None,
                    no_address=tuple(people),
                    suspect=tuple(SuspectSnap(f"s{i:03d}@x.ru", None, "soft bounces") for i in range(50)),
                    waiting=tuple(WaitingSnap(p, MessageRef("Вопрос", dt.datetime(2025, 3, 9, 8) + dt.timedelta(minutes=i)))
                                  for i, p in enumerate(people)),
                    quiet=tuple(QuietSnap(p, MessageRef("Пьеса", dt.datetime(2025, 1, 20)), ("театры",)) for p in people),
                    unlisted={"suspect": 7})
    d = build_digest(snap, today=TODAY, tz=MSK, stages=STAGES,
                     limits=config_limits('[digest]\nsection_limit = 5\nsection_limits = { waiting = 3, quiet = 4 }\n'))
    assert [p.label for p in d.no_address] == [f"Person {i:03d}" for i in range(1, 6)]
    assert d.more["no_address"] == 55
    assert [s.address for s in d.suspect] == [f"s{i:03d}@x.ru" for i in range(5)]
    assert d.more["suspect"] == 45 + 7  # 7 more the store counted without reading them
    assert [w.person.contact_id for w in d.waiting] == [58, 59, 60]  # the newest three, oldest first
    assert d.more["waiting"] == 57 and d.summary()["waiting"] == 60
    assert len(d.quiet) == 1 and len(d.quiet[0].items) == 4 and d.quiet[0].more == 56
    text = render(d, "ru").text
    assert "и ещё 55" in text and "и ещё 52" in text and "и ещё 57, более давних" in text and "и ещё 56" in text
    assert "Person 006" not in text


def config_limits(section: str) -> dict[str, int]:
    return section_limits(config.parse(BASE + section, "x"))


def test_limits_from_the_config() -> None:
    assert config_limits("") == DEFAULT_LIMITS  # quiet: 15 per tag, every other section 30
    limits = config_limits("[digest]\nsection_limit = 10\nsection_limits = { bounces = 100 }\n")
    assert limits["bounces"] == 100 and limits["waiting"] == 10 and limits["quiet"] == DEFAULT_LIMITS["quiet"]
    assert set(limits) == set(SECTIONS) == set(config.DIGEST_SECTIONS)


@pytest.mark.parametrize("section, expect", [
    ("section_limits = { wating = 3 }", "unknown digest section 'wating'"),
    ("section_limits = { waiting = 0 }", "section_limits.waiting must be 1..10000"),
    ("section_limit = 0", "section_limit"),
])
def test_bad_limits_are_one_line_errors(section: str, expect: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.parse(BASE + "[digest]\n" + section + "\n", "/etc/mailcrm/config.toml")
    assert expect in str(err.value) and "\n" not in str(err.value)
