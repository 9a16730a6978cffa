"""Keep in touch (issue 27): `mailcrm touch every|list|remove` through the real CLI (in-process, SQLite), and the
digest listing a tagged contact untouched for longer than the period, and not after a call."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cli_helpers import refused, run, write_config

from mailcrm import config
from mailcrm.app.handle import open_store
from mailcrm.digest.compose import make_digest
from mailcrm.store import db, repository
from mailcrm.store.models import Activity, utcnow


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, "en")




def test_touch_rules_and_the_digest(cfg_path: Path) -> None:
    for address, tag in (("ivan@theatre.example", "театры"), ("vera@museum.example", "театры"),
                         ("oleg@kino.example", "кино")):
        run(cfg_path, "tag", address, tag)
    tag_rule = run(cfg_path, "touch", "every", "90d", "--tag", "театры")
    assert tag_rule["every_days"] == 90
    oleg_rule = run(cfg_path, "touch", "every", "2w", "--contact", "oleg@kino.example")
    assert oleg_rule["every_days"] == 14
    assert [(r["every_days"], r["tag"], r["contact"]) for r in run(cfg_path, "touch", "list")] == [
        (90, "театры", None), (14, None, "oleg@kino.example")]
    assert "write it as 90d" in refused(cfg_path, "touch", "every", "0d", "--tag", "театры")
    assert "exactly one" in refused(cfg_path, "touch", "every", "90d")
    assert "no tag" in refused(cfg_path, "touch", "every", "90d", "--tag", "нет-такого")

    cfg = config.load(cfg_path)
    store = open_store(cfg)
    with db.transaction(store.factory) as s:
        repository.sync_users(s, cfg)
    user = cfg.users[0]
    today = dt.datetime.now(dt.timezone.utc).date()

    def listed(day: dt.date) -> list[tuple[str, int]]:
        with db.transaction(store.factory) as s:
            digest, rendered = make_digest(s, cfg, user, day)
        if digest.touches:
            assert "== Keep in touch (" in rendered.text
        return sorted((t.person.label, t.every_days) for t in digest.touches)

    try:
        assert listed(today) == []  # a new rule counts from now: nobody is late yet
        assert listed(today + dt.timedelta(days=20)) == [("oleg@kino.example", 14)]
        # Vera is called on day 60: on day 91 only Ivan (and Oleg) are past their period.
        with db.transaction(store.factory) as s:
            vera = repository.find_contact(s, "vera@museum.example")
            assert vera is not None
            s.add(Activity(contact_id=vera.id, kind="call", at=utcnow() + dt.timedelta(days=60), text="", data={}))
        assert listed(today + dt.timedelta(days=91)) == [("ivan@theatre.example", 90), ("oleg@kino.example", 14)]
        assert listed(today + dt.timedelta(days=155)) == [("ivan@theatre.example", 90), ("oleg@kino.example", 14),
                                                          ("vera@museum.example", 90)]
        assert run(cfg_path, "touch", "remove", str(oleg_rule["id"]))["status"] == "removed"
        assert listed(today + dt.timedelta(days=20)) == []
        assert "no touch rule" in refused(cfg_path, "touch", "remove", str(oleg_rule["id"]))
    finally:
        store.close()
