"""The deal, activity, date and digest commands through the real CLI (typer app, in-process, SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import RUNNER, refused, run, write_config

from mailcrm.cli import app


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, "ru")




def test_deal_commands_end_to_end(cfg_path: Path) -> None:
    deal = run(cfg_path, "deal", "add", "Спектакль", "--contact", "Ivan@Theatre.example", "--contact",
               "anna@gmail.com", "--company", "Театр «Ромэн»", "--amount", "150 000", "--currency", "rub")
    assert deal["stage"] == "lead" and deal["amount"] == "150000" and deal["currency"] == "RUB"
    assert deal["company"] == "Театр «Ромэн»"
    assert sorted(p["addresses"][0] for p in deal["people"]) == ["anna@gmail.com", "ivan@theatre.example"]
    other = run(cfg_path, "deal", "add", "Афиши", "--contact", "petr@kino.example", "--stage", "invoiced")
    assert "unknown stage" in refused(cfg_path, "deal", "add", "X", "--contact", "a@b.example", "--stage", "nope")
    assert "not an email address" in refused(cfg_path, "deal", "add", "X", "--contact", "nobody")
    run(cfg_path, "deal", "move", str(deal["id"]), "brief")
    assert run(cfg_path, "deal", "won", str(other["id"]))["status"] == "won"
    assert [d["id"] for d in run(cfg_path, "deal", "list", "--stage", "brief")] == [deal["id"]]
    assert {d["id"] for d in run(cfg_path, "deal", "list")} == {deal["id"], other["id"]}
    call = run(cfg_path, "log", "call", "ivan@theatre.example", "--note", "обещал ответить", "--when",
               "2026-03-09 10:00")
    assert call["at"] == "2026-03-09T07:00:00" and call["deal_id"] == deal["id"]  # Moscow time -> UTC
    run(cfg_path, "note", "ivan@theatre.example", "любит звонки утром")
    assert run(cfg_path, "tag", "ivan@theatre.example", "театры", "vip")["tags"] == ["vip", "театры"]
    assert run(cfg_path, "untag", "ivan@theatre.example", "vip")["tags"] == ["театры"]
    run(cfg_path, "deal", "lost", str(deal["id"]), "--reason", "дорого")
    card = run(cfg_path, "deal", "show", str(deal["id"]))
    assert [s["stage"] for s in card["stages"]] == ["lead", "brief", "lost"]
    assert all(s["at"] for s in card["stages"]) and card["lost_reason"] == "дорого"
    kinds = {i["kind"] for i in card["timeline"]}
    assert {"deal", "call", "note", "tag"} <= kinds
    third = run(cfg_path, "deal", "add", "Третья", "--contact", "x@y.example")
    assert "--reason" in refused(cfg_path, "deal", "move", str(third["id"]), "lost")
    assert "reopen it first" in refused(cfg_path, "deal", "move", str(other["id"]), "lost")  # won stays won
    # The human output renders too (rich tables), with the history.
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "deal", "show", str(deal["id"])])
    assert res.exit_code == 0 and "brief" in res.stdout and "дорого" in res.stdout
    assert "2026-03-09 10:00" in res.stdout and "Europe/Moscow" in res.stdout  # times in the user's zone


def test_date_commands_for_contacts_and_tags(cfg_path: Path) -> None:
    run(cfg_path, "tag", "olga@theatre.example", "театры")
    run(cfg_path, "tag", "new@museum.example", "театры")
    fixed = run(cfg_path, "date", "add", "olga@theatre.example", "ДР", "--on", "03-12")
    assert (fixed["month"], fixed["day"], fixed["rule"]) == (3, 12, None)
    rule = run(cfg_path, "date", "add", "--tag", "театры", "День театра", "--rule", "27 mar")
    assert rule["rule"] == "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=27" and rule["contact_id"] is None
    medic = run(cfg_path, "date", "add", "doc@clinic.example", "День медика", "--rule", "3rd sun jun")
    assert medic["rule"] == "FREQ=YEARLY;BYMONTH=6;BYDAY=+3SU"
    listed = run(cfg_path, "date", "list")
    assert [(d["label"], d["on"]) for d in listed] == [("ДР", "03-12"), ("День театра", "27 mar"),
                                                       ("День медика", "3rd sun jun")]
    assert next(d for d in listed if d["tag"])["tag"] == {"name": "театры", "contacts": 2}
    assert "exactly one" in refused(cfg_path, "date", "add", "a@b.example", "X", "--on", "01-01", "--rule", "27 mar")
    assert "no such date" in refused(cfg_path, "date", "add", "a@b.example", "X", "--on", "02-30")
    assert "cannot read rule" in refused(cfg_path, "date", "add", "a@b.example", "X", "--rule", "someday")
    # The digest of the 10th shows the birthday two days ahead ("через 2 дня").
    preview = run(cfg_path, "digest", "preview", "--date", "2026-03-10")
    assert preview["summary"]["dates"] == 1 and "через 2 дня" in preview["text"] and "ДР" in preview["html"]
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "digest", "preview", "--date", "2026-03-24", "--html"])
    assert res.exit_code == 0 and res.stdout.lstrip().startswith("<") and "День театра" in res.stdout
    assert "YYYY-MM-DD" in refused(cfg_path, "digest", "preview", "--date", "10.03.2026")


def test_note_tag_and_call_say_when_they_created_the_contact(cfg_path: Path) -> None:
    # A lead can come by phone, so an unknown address becomes a contact; but a typo must show.
    first = run(cfg_path, "note", "Olga@Kino.example", "звонила сама")
    assert first["new_contact"] is True
    assert run(cfg_path, "note", "olga@kino.example", "ещё раз")["new_contact"] is False
    assert run(cfg_path, "tag", "olga@kino.example", "кино")["new_contact"] is False
    assert run(cfg_path, "log", "call", "olga@kino.example")["new_contact"] is False
    assert run(cfg_path, "tag", "boris@kino.example", "кино")["new_contact"] is True
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "log", "call", "oleg@kino.example"])
    assert res.exit_code == 0 and "(new contact oleg@kino.example)" in res.stdout
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "note", "oleg@kino.example", "перезвонить"])
    assert res.exit_code == 0 and "new contact" not in res.stdout
    # Removing a tag never creates anyone.
    assert "no contact" in refused(cfg_path, "untag", "nobody@kino.example", "кино")
    assert run(cfg_path, "contacts", "--search", "nobody") == []


def test_closed_deals_move_only_when_reopened(cfg_path: Path) -> None:
    deal = run(cfg_path, "deal", "add", "Гастроли", "--contact", "olga@teatr.example", "--stage", "lead")
    run(cfg_path, "deal", "move", str(deal["id"]), "brief")
    assert "already in stage 'brief'" in refused(cfg_path, "deal", "move", str(deal["id"]), "brief")
    assert run(cfg_path, "deal", "won", str(deal["id"]))["status"] == "won"
    assert "it is won: reopen it first" in refused(cfg_path, "deal", "lost", str(deal["id"]), "--reason", "передумали")
    assert "it is won: reopen it first" in refused(cfg_path, "deal", "move", str(deal["id"]), "lead")
    assert "it is won" in refused(cfg_path, "deal", "won", str(deal["id"]))
    back = run(cfg_path, "deal", "reopen", str(deal["id"]))
    assert (back["status"], back["stage"]) == ("open", "brief")  # the stage it closed from
    assert "nothing to reopen" in refused(cfg_path, "deal", "reopen", str(deal["id"]))
    run(cfg_path, "deal", "lost", str(deal["id"]), "--reason", "передумали")
    assert run(cfg_path, "deal", "reopen", str(deal["id"]), "--stage", "lead")["stage"] == "lead"
    stages = [s["stage"] for s in run(cfg_path, "deal", "show", str(deal["id"]))["stages"]]
    assert stages == ["lead", "brief", "won", "brief", "lost", "lead"]


def test_deal_state_rules_are_pure() -> None:
    from mailcrm.domain.deal_states import refusal

    assert refusal("open", "lead", "brief") is None and refusal("open", "lead", "won") is None
    assert refusal("open", "lead", "lead") and refusal("won", "won", "lost") and refusal("lost", "lost", "brief")
    assert refusal("lost", "lost", "brief", reopen=True) is None
    assert refusal("open", "brief", "lead", reopen=True) and refusal("won", "won", "lost", reopen=True)


def test_a_mistyped_tag_is_refused_with_the_closest_one(cfg_path: Path) -> None:
    run(cfg_path, "tag", "olga@teatr.example", "Театры")
    run(cfg_path, "tag", "petr@kino.example", "кино")
    msg = refused(cfg_path, "date", "add", "--tag", "тиатры", "День театра", "--on", "03-27")
    assert "no contact has the tag 'тиатры'" in msg and "'Театры'" in msg
    assert run(cfg_path, "date", "add", "--tag", "ТЕАТРЫ", "День театра", "--on", "03-27")["tag"] == "Театры"  # any case
    assert "did you mean 'кино'" in refused(cfg_path, "export", "contacts", "--tag", "кинo", "--format", "csv")
