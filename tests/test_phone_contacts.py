"""Phone-only contacts through the real CLI (typer app, in-process): a phone number works wherever an address does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailcrm.cli import _register, app
from mailcrm.errors import UsageError

_register()
RUNNER = CliRunner()


@pytest.fixture
def cfg_path(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{db_url}"\n[digest]\nenabled = false\n'
                    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n')
    return path


def run(cfg: Path, *args: str) -> Any:
    res = RUNNER.invoke(app, ["--config", str(cfg), *args, "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout)


def test_phone_number_wherever_an_address(cfg_path: Path) -> None:
    call = run(cfg_path, "log", "call", "+79215559999", "--note", "просил перезвонить")
    assert call["new_contact"] is True
    # The same number written locally finds the same contact (E.164 via phonenumbers).
    note = run(cfg_path, "note", "8 (921) 555-99-99", "КП отправить в среду")
    assert note["new_contact"] is False and note["contact_id"] == call["contact_id"]
    tags = run(cfg_path, "tag", "+7 921 555 99 99", "сайт")
    assert tags["tags"] == ["сайт"] and tags["new_contact"] is False
    deal = run(cfg_path, "deal", "add", "Сайт для кафе", "--contact", "89215559999")
    assert deal["people"] == [{"id": call["contact_id"], "name": None, "addresses": [], "phones": ["+79215559999"]}]
    card = run(cfg_path, "show", "+79215559999")
    assert card["id"] == call["contact_id"] and card["addresses"] == [] and card["phones"] == ["+79215559999"]
    kinds = [i["kind"] for i in card["timeline"]]
    assert "call" in kinds and "note" in kinds
    # A contact with an address and a second phone is found by either phone.
    run(cfg_path, "contact", "edit", "anna@firm.example", "--phone", "+74951234567", "--phone", "+79031112233")
    assert run(cfg_path, "show", "8 903 111-22-33")["addresses"][0]["address"] == "anna@firm.example"
    assert run(cfg_path, "note", "+74951234567", "офис")["new_contact"] is False
    run(cfg_path, "untag", "+79215559999", "сайт")
    assert run(cfg_path, "show", "+79215559999")["tags"] == []


def test_unknown_phone_and_junk(cfg_path: Path) -> None:
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "show", "+79990000000"])
    assert isinstance(res.exception, UsageError) and "no contact with phone +79990000000" in str(res.exception)
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "note", "nobody", "x"])
    assert isinstance(res.exception, UsageError) and "not an email address or phone number" in str(res.exception)


def test_local_numbers_read_in_the_users_region(tmp_path: Path, db_url: str) -> None:
    """A number typed without a country code is read in the user's `phone_region`, not a fixed RU."""
    path = tmp_path / "de.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{db_url}"\n[digest]\nenabled = false\n'
                    '[[users]]\nemail = "me@example.de"\nname = "Me"\ndropbox = "crm+secret@example.de"\n'
                    'phone_region = "DE"\n')
    call = run(path, "log", "call", "030 12345678", "--note", "Berlin")  # a Berlin number, local German form
    assert call["new_contact"] is True
    card = run(path, "show", "030 1234 5678")
    assert card["id"] == call["contact_id"] and card["phones"] == ["+493012345678"]
    assert run(path, "note", "+49 30 12345678", "Angebot")["contact_id"] == call["contact_id"]
    assert run(path, "tag", "030-12345678", "theater")["new_contact"] is False
    deal = run(path, "deal", "add", "Gastspiel", "--contact", "(030) 12345678")
    assert [p["id"] for p in deal["people"]] == [call["contact_id"]]
    assert run(path, "untag", "030 12345678", "theater")["tags"] == []
    assert run(path, "date", "add", "030 12345678", "Premiere", "--on", "05-01")["contact_id"] == call["contact_id"]
    # The same digits under the default region (RU) are no phone number at all: the region really is the user's.
    ru = path.with_name("ru.toml")
    ru.write_text(path.read_text().replace('phone_region = "DE"\n', ""))
    res = RUNNER.invoke(app, ["--config", str(ru), "note", "030 12345678", "x"])
    assert isinstance(res.exception, UsageError) and "not a phone number" in str(res.exception)
