"""Contact sheets (xlsx/csv) -> rows: header detection in Russian and English, messy cells.

Reading only; ``contacts.py`` next to it decides and writes.  Every sheet of a workbook is read;
a sheet's name becomes a tag ("Театры" -> ``театры``) unless it is a default name such as
"Sheet1"/"Лист1".  Rows without any data are ignored; rows with data but no usable address
become ``BadRow`` with sheet and row number (never dropped silently).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from mailcrm.errors import Invalid, NotFound
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.transfer.export import NEEDS_QUOTE

# Header synonyms, compared after _norm(): lower case, ё->е, punctuation and extra spaces removed.
HEADERS: dict[str, tuple[str, ...]] = {
    "company": ("название", "организация", "компания", "company", "organization", "organisation", "org",
                "фирма", "учреждение", "company name", "название организации", "наименование"),
    "name": ("контакт", "фио", "имя", "name", "full name", "contact", "контактное лицо", "contact name",
             "имя фамилия", "фамилия имя", "фамилия имя отчество", "представитель"),
    "first_name": ("first name", "given name", "firstname"),
    "last_name": ("фамилия", "last name", "surname", "lastname", "family name"),
    "email": ("email", "e mail", "почта", "эл почта", "электронная почта", "email address", "e mail address",
              "mail", "адрес электронной почты", "емейл", "имейл", "емайл", "e-mail"),
    "phone": ("телефон", "телефоны", "phone", "phones", "тел", "мобильный", "mobile", "phone number",
              "номер телефона", "моб", "сотовый"),
    "title": ("должность", "title", "position", "job title", "role"),
    "notes": ("примечание", "примечания", "notes", "note", "комментарий", "комментарии", "comment", "comments",
              "заметки"),
    "city": ("город", "city", "town"),
    "website": ("сайт", "website", "web", "url", "веб сайт", "site"),
    "tags": ("теги", "тег", "tags", "tag", "метки"),
}
_LOOKUP = {syn: key for key, syns in HEADERS.items() for syn in syns}
_DEFAULT_SHEETS = re.compile(r"^(sheet|лист|list|page|страница)\s*\d*$", re.I)
_EMAIL_RE = re.compile(r"[^\s,;<>()\"'\[\]:]+@[^\s,;<>()\"'\[\]:]+")
_PHONE_SPLIT = re.compile(r"[,;\n/]|\s{2,}")


def _norm(text: str) -> str:
    t = text.casefold().replace("ё", "е").replace("-", " ").replace("_", " ")
    t = re.sub(r"[^\w\s]", " ", t)
    return " ".join(t.split())


def header_key(cell: Any) -> str | None:
    """The field a header cell names ("Эл. почта" -> "email"), or None."""
    if cell is None:
        return None
    t = _norm(str(cell))
    if not t:
        return None
    if t in _LOOKUP:
        return _LOOKUP[t]
    if "почт" in t or "email" in t.replace(" ", "") or "e mail" in t:
        return "email"
    if "телефон" in t or "phone" in t:
        return "phone"
    return None


def csv_cell(value: str) -> str:
    """A CSV cell with the ``'`` our own export put before a formula trigger (OWASP) taken off again."""
    if value[:1] == "'" and NEEDS_QUOTE.match(value[1:]):
        return value[1:]
    return value


def cell_text(value: Any) -> str:
    """A cell as text; whole floats (phones typed as numbers) lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class SheetRow:
    """One usable row."""

    sheet: str
    row: int  # 1-based, as the spreadsheet shows it
    emails: list[str]
    name: str | None = None
    company: str | None = None
    phones: list[str] = field(default_factory=list)
    title: str | None = None
    notes: str | None = None
    city: str | None = None
    website: str | None = None
    tags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a phone that could not be read


@dataclass(frozen=True)
class BadRow:
    """A row that could not be imported, with the reason."""

    sheet: str
    row: int
    reason: str


def sheet_tag(sheet: str) -> str | None:
    """The tag a sheet name gives its rows ("Театры" -> "театры"; "Sheet1" -> None)."""
    name = " ".join(sheet.split())
    if not name or _DEFAULT_SHEETS.match(name):
        return None
    return name.casefold()


def split_emails(text: str) -> tuple[list[str], list[str]]:
    """(valid addresses, rejected pieces) from a cell that may hold several addresses."""
    good: list[str] = []
    bad: list[str] = []
    for cand in _EMAIL_RE.findall(text.replace("mailto:", " ")):
        cand = cand.strip(".").lower()
        try:
            addr = validate_email(cand, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            bad.append(cand)
            continue
        if addr not in good:
            good.append(addr)
    leftovers = _EMAIL_RE.sub(" ", text)
    for piece in re.split(r"[,;\s]+", leftovers):
        if "@" in piece:
            bad.append(piece)
    return good, bad


def split_phones(text: str, region: str) -> tuple[list[str], list[str]]:
    """(E.164 numbers, unreadable pieces) from a cell that may hold several phones."""
    good: list[str] = []
    bad: list[str] = []
    for piece in _PHONE_SPLIT.split(text):
        piece = piece.strip()
        if not re.search(r"\d{3}", piece):
            continue
        try:
            num = phonenumbers.parse(piece, region)
        except phonenumbers.NumberParseException:
            bad.append(piece)
            continue
        if not phonenumbers.is_possible_number(num):
            bad.append(piece)
            continue
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in good:
            good.append(e164)
    return good, bad


def parse_table(sheet: str, rows: Iterable[tuple[Any, ...]], region: str, extra_tags: list[str],
                sheet_tags: bool = True) -> tuple[list[SheetRow], list[BadRow]]:
    """Find the header row (within the first 10), then turn each data row into a SheetRow or BadRow."""
    out: list[SheetRow] = []
    bad: list[BadRow] = []
    columns: dict[int, str] | None = None
    tag = sheet_tag(sheet) if sheet_tags else None
    any_data = False
    for number, values in enumerate(rows, start=1):
        cells = [cell_text(v) for v in values]
        any_data = any_data or any(cells)
        if columns is None:
            found = {i: k for i, c in enumerate(cells) if (k := header_key(c))}
            if "email" in found.values() or "phone" in found.values():  # a sheet of phone-only leads too
                columns = {}
                for i, k in found.items():
                    columns.setdefault(i, k)
            elif number >= 10:
                bad.append(BadRow(sheet, 0, "no header row with an Email/Почта or Phone/Телефон column in the first 10 rows"))
                return out, bad
            continue
        if not any(cells):
            continue
        data: dict[str, list[str]] = {}
        for i, key in columns.items():
            if i < len(cells) and cells[i]:
                data.setdefault(key, []).append(cells[i])
        if not data:
            # Text only outside the known columns: report it rather than losing it.
            bad.append(BadRow(sheet, number, "no recognised column has a value"))
            continue
        emails, bad_emails = split_emails(" ; ".join(data.get("email", [])))
        phones, bad_phones = split_phones("\n".join(data.get("phone", [])), region)
        if not emails and not phones:  # a row with only a phone is a contact (a lead that called)
            reason = (f"invalid email {bad_emails[0]!r}" if bad_emails
                      else f"phone {bad_phones[0]!r} not understood" if bad_phones else "no email address or phone")
            bad.append(BadRow(sheet, number, reason))
            continue
        name = " ".join(data.get("name", [])) or " ".join(data.get("first_name", []) + data.get("last_name", []))
        row = SheetRow(
            sheet=sheet, row=number, emails=emails, name=" ".join(name.split()) or None,
            company=_join(data.get("company")), phones=phones, title=_join(data.get("title")),
            notes=_join(data.get("notes"), "\n"), city=_join(data.get("city")), website=_join(data.get("website")),
        )
        tags = [t.strip().casefold() for t in re.split(r"[,;]", ",".join(data.get("tags", []))) if t.strip()]
        row.tags = list(dict.fromkeys([*([tag] if tag else []), *extra_tags, *tags]))
        row.warnings = [f"invalid email {e!r} ignored" for e in bad_emails] + [
            f"phone {p!r} not understood" for p in bad_phones]
        out.append(row)
    if columns is None and any_data:
        bad.append(BadRow(sheet, 0, "no header row with an Email/Почта or Phone/Телефон column"))
    return out, bad


def _join(values: list[str] | None, sep: str = " ") -> str | None:
    if not values:
        return None
    return sep.join(values)[:2000] or None


def read_file(path: Path, region: str = DEFAULT_PHONE_REGION, tag: str | None = None) -> tuple[list[SheetRow], list[BadRow]]:
    """Read every sheet of an .xlsx (or the one table of a .csv); Refused when unreadable."""
    extra = [tag.strip().casefold()] if tag and tag.strip() else []
    suffix = path.suffix.lower()
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    rows: list[SheetRow] = []
    bad: list[BadRow] = []
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - zip/xml errors of a broken file: one line
            raise Invalid(f"{path}: cannot read as xlsx: {type(exc).__name__}: {exc}") from None
        try:
            for ws in wb.worksheets:
                r, b = parse_table(ws.title, ws.iter_rows(values_only=True), region, extra)
                rows += r
                bad += b
        finally:
            wb.close()
        return rows, bad
    if suffix in (".csv", ".txt", ".tsv"):
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "cp1251"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        try:
            dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        table = csv.reader(io.StringIO(text), dialect)
        return parse_table(path.name, (tuple(csv_cell(c) for c in r) for r in table), region, extra,
                           sheet_tags=False)
    raise Invalid(f"{path}: expected a .xlsx or .csv file")
