"""`mailcrm export contacts`: CSV for Mailchimp's audience import, XLSX one sheet per tag, vCard 4.0.

Bounced, suspect (and invalid) addresses are left out unless ``include_bounced``: exporting them to
a mailing tool would only produce more bounces.  With ``include_bounced`` each address's status
(active, suspect, bounced, invalid) is in a column of its own (CSV "Address Status", XLSX "Email
Status", vCard an ``X-MAILCRM-STATUS`` parameter on EMAIL) so the sheet says which ones not to mail.
A contact with no address left is not exported.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailcrm.errors import Invalid
from mailcrm.parse.names import parse_person_name
from mailcrm.private_files import touch_private, write_private

MAILCHIMP_COLUMNS = ("Email Address", "First Name", "Last Name", "Company", "Tags")
XLSX_COLUMNS = ("Email", "Name", "Company", "Title", "Phone", "City", "Website", "Notes", "Tags")
CSV_STATUS_COLUMN = "Address Status"
XLSX_STATUS_COLUMN = "Email Status"  # "; "-separated, in the order of the Email cell
UNTAGGED = "Без тега"


@dataclass
class ExportContact:
    """A contact as exported."""

    id: int
    name: str | None
    company: str | None
    title: str | None
    phones: list[str]
    city: str | None
    website: str | None
    notes: str | None
    emails: list[str]
    tags: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)  # of ``emails``, in order: active | suspect | bounced | invalid

    def status_of(self, i: int) -> str:
        """The status of ``emails[i]`` ("active" when not known)."""
        return self.statuses[i] if i < len(self.statuses) else "active"


def split_name(name: str | None) -> tuple[str, str]:
    """(first, last) for Mailchimp and vCard N: "Иванов Иван Иванович" -> (Иван, Иванов); "Anna Smirnova" -> (Anna, Smirnova)."""
    parts = split_name_parts(name)
    return parts[0], parts[2]


def split_name_parts(name: str | None) -> tuple[str, str, str]:
    """(first, middle, last); both name orders and patronymics via parse.names, else a plain split."""
    text = " ".join((name or "").split())
    if not text:
        return "", "", ""
    parsed = parse_person_name(text)
    if parsed is not None and (parsed.first or parsed.last):
        return parsed.first or "", parsed.middle or "", parsed.last or ""
    # Not recognisably a person's name (a company, a nickname): keep it whole as the first name
    # rather than guess a surname.
    return text, "", ""


# OWASP "CSV Injection": a cell starting with one of these is run as a formula by Excel,
# LibreOffice or Google Sheets (tab, CR and LF too, as some strip them before the check); the
# full-width forms are folded to ASCII by some spreadsheet locales.
FORMULA_TRIGGERS = "=+-@\t\r\n\uff1d\uff0b\uff0d\uff20"
# Quoted when it starts (after spaces) with a trigger, or with quotes before one, so that taking
# exactly one "'" off again (``sheets.csv_cell``) gives back the value, whatever it was.
NEEDS_QUOTE = re.compile("^'* *[" + re.escape(FORMULA_TRIGGERS) + "]")


def neutralise_csv(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading formula trigger gets a ``'`` before it (OWASP).

    Leading spaces are looked through, as some spreadsheets trim them before deciding.  The
    cell is also quoted by the writer (QUOTE_ALL), so separators and quotes inside stay data.
    """
    return "'" + value if NEEDS_QUOTE.match(value) else value


def to_csv(contacts: list[ExportContact], with_status: bool = False) -> str:
    """Mailchimp audience CSV: one row per address, tags comma-separated in one quoted cell; formulas neutralised.

    ``with_status`` adds the address's status as a last column (Mailchimp ignores columns it does not map).
    """
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(MAILCHIMP_COLUMNS + ((CSV_STATUS_COLUMN,) if with_status else ()))
    for c in contacts:
        first, last = split_name(c.name)
        for i, e in enumerate(c.emails):
            cells = [e, first, last, c.company or "", ",".join(c.tags)] + ([c.status_of(i)] if with_status else [])
            w.writerow([neutralise_csv(v) for v in cells])
    return buf.getvalue()


def _sheet_title(name: str, used: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "contacts"
    base, n = title, 2
    while title.casefold() in used:
        title = f"{base[:28]} {n}"
        n += 1
    used.add(title.casefold())
    return title


def write_xlsx(contacts: list[ExportContact], path: Path, only_tag: str | None = None,
               with_status: bool = False) -> None:
    """One sheet per tag (contacts without tags on "Без тега"); re-importable by `import contacts`.

    ``with_status`` adds an "Email Status" column, the statuses in the order of the Email cell.
    """
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    groups: dict[str, list[ExportContact]] = {}
    for c in contacts:
        tags = [only_tag.strip().casefold()] if only_tag else (c.tags or [UNTAGGED])
        for t in tags:
            groups.setdefault(t, []).append(c)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    columns = XLSX_COLUMNS + ((XLSX_STATUS_COLUMN,) if with_status else ())
    for tag_name in sorted(groups, key=lambda t: (t == UNTAGGED, t)):
        ws = wb.create_sheet(_sheet_title(tag_name, used))
        ws.append(columns)
        for c in groups[tag_name]:
            other = [t for t in c.tags if t != tag_name]
            row = ["; ".join(c.emails), c.name or "", c.company or "", c.title or "", "; ".join(c.phones),
                   c.city or "", c.website or "", c.notes or "", ", ".join(other)]
            if with_status:
                row.append("; ".join(c.status_of(i) for i in range(len(c.emails))))
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) for v in row])  # C0 controls make openpyxl raise
            for cell in ws[ws.max_row]:
                # openpyxl stores a str starting with "=" as a formula: every cell here is text
                # (a contact named "=HYPERLINK(...)" stays a name, not a live link).
                cell.data_type = "s"
    if not groups:
        wb.create_sheet("contacts").append(columns)
    touch_private(path)  # 0600 before openpyxl writes into it: contacts are personal data
    wb.save(path)


def _esc(value: str) -> str:
    # RFC 6350 3.4: backslash, comma, semicolon and newline are escaped in text values.  A lone
    # CR is a line break to many readers too: escaped like LF, so a value cannot start a property.
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    value = value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
    # Other C0 controls have no place in a text value (RFC 6350 3.3 allows none).
    return "".join(ch for ch in value if ch >= " " or ch == "\t")


def _fold(line: str) -> str:
    # RFC 6350 3.2: lines longer than 75 octets are folded (CRLF + one space), never inside a UTF-8 sequence.
    out: list[str] = []
    cur = ""
    size = 0
    for ch in line:
        n = len(ch.encode())
        if size + n > (75 if not out else 74):
            out.append(cur)
            cur, size = "", 0
        cur += ch
        size += n
    out.append(cur)
    return "\r\n ".join(out)


def to_vcard(contacts: list[ExportContact], with_status: bool = False) -> str:
    """vCard 4.0 (RFC 6350), one card per contact; ``with_status`` marks non-active EMAILs (X-MAILCRM-STATUS)."""
    cards: list[str] = []
    for c in contacts:
        first, middle, last = split_name_parts(c.name)
        # RFC 6350 6.2.2: N = family;given;additional;prefixes;suffixes (a patronymic is "additional").
        lines = ["BEGIN:VCARD", "VERSION:4.0", f"FN:{_esc(c.name or (c.emails or c.phones or [''])[0])}",
                 f"N:{_esc(last)};{_esc(first)};{_esc(middle)};;"]
        for i, e in enumerate(c.emails):
            # RFC 6350 6.1 allows x-name parameters; readers ignore those they do not know.
            mark = f";X-MAILCRM-STATUS={c.status_of(i)}" if with_status and c.status_of(i) != "active" else ""
            lines.append(f"EMAIL{';PREF=1' if i == 0 else ''}{mark}:{_esc(e)}")
        for p in c.phones:
            # RFC 3966: a tel URI holds digits and visual separators only; nothing else may reach the line.
            tel = re.sub(r"[^0-9+*#().\-]", "", p)
            if tel:
                lines.append(f"TEL;VALUE=uri:tel:{tel}")
        if c.company:
            lines.append(f"ORG:{_esc(c.company)}")
        if c.title:
            lines.append(f"TITLE:{_esc(c.title)}")
        if c.city:
            lines.append(f"ADR;TYPE=work:;;;{_esc(c.city)};;;")
        if c.website:
            lines.append(f"URL:{_esc(c.website)}")
        if c.tags:
            lines.append("CATEGORIES:" + ",".join(_esc(t) for t in c.tags))
        if c.notes:
            lines.append(f"NOTE:{_esc(c.notes)}")
        lines.append(f"UID:urn:mailcrm:contact:{c.id}")
        lines.append("END:VCARD")
        cards.append("".join(_fold(line) + "\r\n" for line in lines))
    return "".join(cards)


def check_format(fmt: str, output: Path | None) -> None:
    """Refuse an unknown format, or xlsx without an output file."""
    if fmt not in ("csv", "xlsx", "vcard"):
        raise Invalid(f"--format {fmt!r}: expected csv, xlsx or vcard")
    if fmt == "xlsx" and output is None:
        raise Invalid("--format xlsx needs --output FILE.xlsx")


def export_contacts(contacts: list[ExportContact], fmt: str, output: Path | None, tag: str | None = None,
                    include_bounced: bool = False) -> tuple[dict[str, Any], str | None]:
    """Write ``contacts`` (from ``cases.export_rows``); returns (summary, text for stdout without a file)."""
    check_format(fmt, output)
    summary = {"format": fmt, "contacts": len(contacts), "addresses": sum(len(c.emails) for c in contacts),
               "output": str(output) if output else None, "tag": tag, "include_bounced": include_bounced}
    if fmt == "xlsx":
        assert output is not None
        write_xlsx(contacts, output, tag, include_bounced)
        return summary, None
    text = to_csv(contacts, include_bounced) if fmt == "csv" else to_vcard(contacts, include_bounced)
    if output is None:
        return summary, text
    try:
        write_private(output, text.encode("utf-8"))  # 0600: contacts are personal data
    except OSError as exc:
        raise Invalid(f"{output}: cannot write: {exc.strerror}") from None
    return summary, None
