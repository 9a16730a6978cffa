"""`mailcrm import contacts`: xlsx/csv written by openpyxl here, Russian headers, messy cells, bad rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import free_port, make_config_text
from sqlalchemy import select

from mailcrm.app.sheet_import import import_rows
from mailcrm.store import db
from mailcrm.store.models import Contact, ContactTag, EmailAddress, Tag
from mailcrm.transfer.sheets import header_key, read_file, split_emails, split_phones


def _workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Театры"
    ws.append(["Мои театры 2024"])  # a title line above the header
    ws.append(["Название", "ФИО", "Эл. почта", "Телефон", "Должность", "Примечание", "Город"])
    ws.append(["МХТ", "Иванов Иван Иванович", "ivan@mht.ru, press@mht.ru", "8 (495) 123-45-67; +7 916 123 45 67",
               "Завлит", "звонить утром", "Москва"])
    ws.append(["Ленком", "Сидоров", "нет почты", "", "", "", ""])
    ws.append([None] * 7)
    ws.append(["Театр Х", " Петр  Петров ", "PETR@Gmail.com", 79161112233, "", "", ""])
    ws.append(["Театр Y", "Кто-то", "broken@", "12", "", "", ""])
    films = wb.create_sheet("Кинокомпании")
    films.append(["Company", "Name", "E-mail", "Phone", "Title", "Notes"])
    films.append(["Mosfilm", "Anna Smirnova", "anna@mosfilm.ru\nanna.s@gmail.com", "+7 499 000 00 00", "Producer", ""])
    films.append(["МХТ", "Иван", "ivan@mht.ru", "", "", "also does film"])  # same person: merge
    wb.create_sheet("Sheet3")  # empty default sheet: neither a tag nor a bad row
    wb.save(path)
    return path


@pytest.fixture
def factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A migrated SQLite store."""
    from mailcrm.store import migrate

    engine = db.make_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    migrate.upgrade(engine)
    yield db.session_factory(engine)
    engine.dispose()


def test_header_detection_ru_en() -> None:
    assert header_key("Эл. почта") == "email"
    assert header_key("E-mail") == "email"
    assert header_key("Почта:") == "email"
    assert header_key("Организация") == "company"
    assert header_key("ФИО") == "name"
    assert header_key("Телефон (моб.)") == "phone"
    assert header_key("Комментарий") == "notes"
    assert header_key("Город") == "city"
    assert header_key("Цена") is None


def test_messy_cells() -> None:
    good, bad = split_emails("Ivan <IVAN@mht.ru>; press@mht.ru,  broken@")
    assert good == ["ivan@mht.ru", "press@mht.ru"] and bad == ["broken@"]
    phones, unread = split_phones("8 (495) 123-45-67, +7 916 123 45 67 / 12", "RU")
    assert phones == ["+74951234567", "+79161234567"]


def test_xlsx_import_dry_run_then_real(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    rows, bad = read_file(_workbook(tmp_path / "contacts.xlsx"), "RU", tag="2024")
    assert {(b.sheet, b.row, b.reason) for b in bad} == {
        ("Театры", 4, "no email address or phone"), ("Театры", 7, "invalid email 'broken@'")}
    dry = import_rows(factory, rows, bad, dry_run=True)
    assert (dry["create"], dry["merge"], dry["skip"], dry["bad"]) == (3, 1, 0, 2)
    merged = [r for r in dry["rows"] if r["action"] == "merge"]
    assert [(r["sheet"], r["row"], r["email"]) for r in merged] == [("Кинокомпании", 3, "ivan@mht.ru")]
    assert "tags кинокомпании" in merged[0]["reason"]  # the reason says what the merge adds
    with factory() as s:
        assert s.scalar(select(Contact).limit(1)) is None  # dry run wrote nothing
    real = import_rows(factory, rows, bad)
    assert (real["create"], real["merge"], real["bad"]) == (3, 1, 2)
    with factory() as s:
        ivan = s.scalar(select(Contact).join(EmailAddress).where(EmailAddress.address == "ivan@mht.ru"))
        assert ivan is not None and ivan.name == "Иванов Иван Иванович" and ivan.title == "Завлит"
        assert ivan.phones == ["+74951234567", "+79161234567"] and ivan.city == "Москва"
        assert ivan.company is not None and ivan.company.name == "МХТ"
        assert "name" in ivan.user_fields  # typed by the user: parsers must not overwrite it
        tags = set(s.scalars(select(Tag.name).join(ContactTag).where(ContactTag.contact_id == ivan.id)))
        assert tags == {"театры", "кинокомпании", "2024"}
        petr = s.scalar(select(Contact).join(EmailAddress).where(EmailAddress.address == "petr@gmail.com"))
        assert petr is not None and petr.name == "Петр Петров" and petr.phones == ["+79161112233"]
        anna_addrs = set(s.scalars(select(EmailAddress.address).join(Contact).where(Contact.name == "Anna Smirnova")))
        assert anna_addrs == {"anna@mosfilm.ru", "anna.s@gmail.com"}
        assert "sheet3" not in set(s.scalars(select(Tag.name)))
    again = import_rows(factory, rows, bad)
    assert again["create"] == 0 and again["skip"] == 4  # idempotent


def test_csv_cp1251_semicolons_via_cli(tmp_path: Path) -> None:
    csv_path = tmp_path / "list.csv"
    csv_path.write_bytes(
        "Компания;Контакт;Почта;Телефон\r\nИздательство АСТ;Мария;maria@ast.ru;+7 (495) 111-22-33\r\n"
        ";;;\r\nОшибка;Без почты;;\r\n".encode("cp1251"))
    config = tmp_path / "config.toml"
    config.write_text(make_config_text(tmp_path, f"sqlite:///{tmp_path / 'crm.sqlite3'}", free_port()))
    env = dict(os.environ, MAILCRM_CONFIG=str(config))
    run = [sys.executable, "-m", "mailcrm", "import", "contacts", str(csv_path), "--tag", "Издательства", "--json"]
    res = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["create"], out["bad"]) == (1, 1)
    assert [r for r in out["rows"] if r["action"] == "bad"][0]["row"] == 4
    # The human --dry-run: a table of decisions with sheet/row and reasons, nothing written.
    human = subprocess.run([*run[:-1], "--dry-run"], env=dict(env, COLUMNS="200"), capture_output=True, text=True,
                           timeout=60)
    assert human.returncode == 0, human.stderr
    assert "would be created 0, merged 0, skipped 1, bad rows 1" in human.stdout
    assert "already up to date" in human.stdout and "no email address" in human.stdout
    missing = subprocess.run([sys.executable, "-m", "mailcrm", "import", "contacts", str(tmp_path / "no.xlsx")],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_rows_with_only_a_phone(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Звонки"
    ws.append(["Имя", "Телефон", "Компания"])  # no address column at all
    ws.append(["Олег", "8 903 000-00-01", "Кафе"])
    ws.append(["Нина", "+7 921 222-33-44", ""])
    ws.append(["Без телефона", "", "Х"])
    path = tmp_path / "calls.xlsx"
    wb.save(path)
    rows, bad = read_file(path, "RU")
    assert [(b.row, b.reason) for b in bad] == [(4, "no email address or phone")]
    first = import_rows(factory, rows, bad)
    assert (first["create"], first["bad"]) == (2, 1)
    assert {r["email"] for r in first["rows"] if r["action"] == "create"} == {"+79030000001", "+79212223344"}
    with factory() as s:
        oleg = s.scalar(select(Contact).where(Contact.name == "Олег"))
        assert oleg is not None and oleg.phones == ["+79030000001"] and oleg.company.name == "Кафе"
        assert s.scalar(select(EmailAddress).where(EmailAddress.contact_id == oleg.id)) is None
    again = import_rows(factory, rows, bad)  # matched by phone: nothing new
    assert again["create"] == 0 and again["skip"] == 2
