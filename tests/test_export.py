"""`mailcrm export contacts`: Mailchimp CSV, XLSX per tag (round trip through import), vCard 4.0."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
from conftest import free_port, make_config_text
from sqlalchemy import select

from mailcrm.app.sheet_import import import_rows
from mailcrm.store import db, migrate
from mailcrm.store.models import EmailAddress
from mailcrm.transfer.export import (
    CSV_STATUS_COLUMN,
    MAILCHIMP_COLUMNS,
    XLSX_STATUS_COLUMN,
    ExportContact,
    split_name,
    to_vcard,
)
from mailcrm.transfer.sheets import SheetRow, read_file


def _setup(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    config = tmp_path / "config.toml"
    config.write_text(make_config_text(tmp_path, url, free_port()))
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    factory = db.session_factory(engine)
    rows = [
        SheetRow("Театры", 2, ["ivan@mht.ru", "press@mht.ru"], name="Иванов Иван Иванович", company="МХТ",
                 phones=["+74951234567"], title="Завлит", notes="звонить; утром, после 11", tags=["театры"]),
        SheetRow("Театры", 3, ["olga@lenkom.ru"], name="Ольга Ким", tags=["театры", "vip"]),
        SheetRow("Кино", 2, ["anna@mosfilm.ru"], name="Anna Smirnova", company="Mosfilm", tags=["кино"]),
    ]
    import_rows(factory, rows, [])
    with db.transaction(factory) as s:
        addr = s.scalar(select(EmailAddress).where(EmailAddress.address == "olga@lenkom.ru"))
        assert addr is not None
        addr.status = "bounced"
    engine.dispose()
    return config


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MAILCRM_CONFIG=str(config))
    return subprocess.run([sys.executable, "-m", "mailcrm", *args], env=env, capture_output=True, text=True, timeout=60)


def test_split_name() -> None:
    assert split_name("Иванов Иван Иванович") == ("Иван", "Иванов")
    assert split_name("Мария Петрова") == ("Мария", "Петрова")
    assert split_name("Anna Smirnova") == ("Anna", "Smirnova")
    assert split_name("Smith, John") == ("John", "Smith")
    assert split_name("Cher") == ("Cher", "")
    assert split_name("ООО «Ромашка»") == ("ООО «Ромашка»", "")  # not a person: kept whole, no guessed surname
    assert split_name(None) == ("", "")


def _content_lines(card_text: str) -> list[str]:
    """Unfold (RFC 6350 3.2: CRLF followed by one space or tab) and split into content lines."""
    return re.sub(r"\r\n[ \t]", "", card_text).split("\r\n")


def test_vcard_rfc6350_escaping_and_folding() -> None:
    note = "Звонить; утром, после 11\\до 12\nвторая строка " + "очень длинное примечание " * 6
    c = ExportContact(7, "Ольга Ким", "Театр \"Ленком\", Москва; филиал", None, ["+74951234567"], "Москва", None, note,
                      ["olga@lenkom.ru", "o.kim@example.org"], ["театры", "a,b"])
    text = to_vcard([c, ExportContact(8, None, None, None, [], None, None, None, ["x@y.example"])])
    assert text.endswith("\r\n") and re.search(r"(?<!\r)\n", text) is None  # CRLF only
    physical = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in physical)  # octets, never inside a UTF-8 sequence
    assert any(line.startswith(" ") for line in physical)  # the long NOTE was folded
    cards = text.split("END:VCARD\r\n")[:-1]
    assert len(cards) == 2
    for card in cards:
        lines = _content_lines(card)
        assert lines[0] == "BEGIN:VCARD" and lines[1] == "VERSION:4.0"  # RFC 6350 6.7.9: right after BEGIN
        assert any(line.startswith("FN:") for line in lines)  # FN is required
    lines = _content_lines(cards[0])
    assert "NOTE:" + note.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n") in lines
    assert 'ORG:Театр "Ленком"\\, Москва\\; филиал' in lines
    assert "CATEGORIES:театры,a\\,b" in lines  # the comma inside a value is escaped, the separator is not
    assert "N:Ким;Ольга;;;" in lines and "EMAIL;PREF=1:olga@lenkom.ru" in lines and "EMAIL:o.kim@example.org" in lines
    assert "FN:x@y.example" in _content_lines(cards[1])  # no name: FN falls back to the address


def test_csv_mailchimp_layout_excludes_bounced(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    res = _cli(config, "export", "contacts", "--format", "csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert tuple(rows[0]) == MAILCHIMP_COLUMNS
    emails = {r[0]: r for r in rows[1:]}
    assert set(emails) == {"ivan@mht.ru", "press@mht.ru", "anna@mosfilm.ru"}  # olga bounced
    assert emails["ivan@mht.ru"][1:] == ["Иван", "Иванов", "МХТ", "театры"]
    with_bounced = _cli(config, "export", "contacts", "--format", "csv", "--include-bounced", "--tag", "vip")
    assert [r[0] for r in csv.reader(io.StringIO(with_bounced.stdout))][1:] == ["olga@lenkom.ru"]
    assert json.loads(_cli(config, "export", "contacts", "--format", "csv", "-o", str(tmp_path / "a.csv"),
                           "--json").stdout)["addresses"] == 3
    bad = _cli(config, "export", "contacts", "--format", "pdf")
    assert bad.returncode == 2 and "--format" in bad.stderr and "Traceback" not in bad.stderr


def test_xlsx_one_sheet_per_tag_round_trips(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    out = tmp_path / "out.xlsx"
    res = _cli(config, "export", "contacts", "--format", "xlsx", "--output", str(out), "--include-bounced")
    assert res.returncode == 0, res.stderr
    wb = openpyxl.load_workbook(out)
    assert set(wb.sheetnames) == {"театры", "кино", "vip"}
    rows, bad = read_file(out)
    assert not bad
    by_email = {r.emails[0]: r for r in rows}
    ivan = by_email["ivan@mht.ru"]
    assert ivan.emails == ["ivan@mht.ru", "press@mht.ru"] and ivan.company == "МХТ" and ivan.title == "Завлит"
    assert ivan.notes == "звонить; утром, после 11" and ivan.phones == ["+74951234567"]
    assert set(by_email["olga@lenkom.ru"].tags) == {"театры", "vip"}
    # Re-importing the export into the same store changes nothing.
    other = tmp_path / "again"
    other.mkdir()
    engine = db.make_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    result = import_rows(db.session_factory(engine), rows, bad, dry_run=True)
    engine.dispose()
    assert result["create"] == 0 and result["merge"] == 0


def test_vcard_4(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    env = dict(os.environ, MAILCRM_CONFIG=str(config))
    res = subprocess.run([sys.executable, "-m", "mailcrm", "export", "contacts", "--format", "vcard", "--tag", "театры"],
                         env=env, capture_output=True, timeout=60)  # bytes: keep the CRLFs of RFC 6350
    assert res.returncode == 0, res.stderr
    text = res.stdout.decode()
    assert text.count("BEGIN:VCARD\r\n") == 1 and "VERSION:4.0\r\n" in text  # olga is bounced
    unfolded = text.replace("\r\n ", "")
    assert "FN:Иванов Иван Иванович\r\n" in unfolded and "N:Иванов;Иван;Иванович;;\r\n" in unfolded
    assert "NOTE:звонить\\; утром\\, после 11\r\n" in unfolded
    assert "TEL;VALUE=uri:tel:+74951234567\r\n" in unfolded and "EMAIL;PREF=1:ivan@mht.ru\r\n" in unfolded
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def _make_suspect(tmp_path: Path, address: str) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    with db.transaction(db.session_factory(engine)) as s:
        addr = s.scalar(select(EmailAddress).where(EmailAddress.address == address))
        assert addr is not None
        addr.status = "suspect"
    engine.dispose()


def test_include_bounced_marks_each_address_status(tmp_path: Path) -> None:
    """Suspect addresses are left out by default; with --include-bounced every address says its status."""
    config = _setup(tmp_path)
    _make_suspect(tmp_path, "press@mht.ru")
    default = list(csv.reader(io.StringIO(_cli(config, "export", "contacts", "--format", "csv").stdout)))
    assert tuple(default[0]) == MAILCHIMP_COLUMNS  # the plain Mailchimp layout: no status column
    assert {r[0] for r in default[1:]} == {"ivan@mht.ru", "anna@mosfilm.ru"}  # suspect and bounced left out
    res = _cli(config, "export", "contacts", "--format", "csv", "--include-bounced")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert tuple(rows[0]) == (*MAILCHIMP_COLUMNS, CSV_STATUS_COLUMN)
    status = {r[0]: r[-1] for r in rows[1:]}
    assert status == {"ivan@mht.ru": "active", "press@mht.ru": "suspect", "olga@lenkom.ru": "bounced",
                      "anna@mosfilm.ru": "active"}
    assert all(len(r) == len(rows[0]) for r in rows)

    out = tmp_path / "status.xlsx"
    assert _cli(config, "export", "contacts", "--format", "xlsx", "-o", str(out), "--include-bounced").returncode == 0
    ws = openpyxl.load_workbook(out)["театры"]
    header = [c.value for c in ws[1]]
    assert header[-1] == XLSX_STATUS_COLUMN
    by_email = {r[0]: r[-1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert by_email == {"ivan@mht.ru; press@mht.ru": "active; suspect", "olga@lenkom.ru": "bounced"}
    rows_back, bad = read_file(out)  # the status column does not disturb a re-import
    assert not bad and {r.emails[0] for r in rows_back} >= {"ivan@mht.ru", "olga@lenkom.ru"}
    plain = tmp_path / "plain.xlsx"
    assert _cli(config, "export", "contacts", "--format", "xlsx", "-o", str(plain)).returncode == 0
    assert XLSX_STATUS_COLUMN not in [c.value for c in openpyxl.load_workbook(plain)["театры"][1]]

    card = subprocess.run([sys.executable, "-m", "mailcrm", "export", "contacts", "--format", "vcard",
                           "--include-bounced", "--tag", "театры"], env=dict(os.environ, MAILCRM_CONFIG=str(config)),
                          capture_output=True, timeout=60).stdout.decode().replace("\r\n ", "")
    assert "EMAIL;PREF=1:ivan@mht.ru\r\n" in card and "EMAIL;X-MAILCRM-STATUS=suspect:press@mht.ru\r\n" in card
    assert "EMAIL;PREF=1;X-MAILCRM-STATUS=bounced:olga@lenkom.ru\r\n" in card
