"""`mailcrm import mbox FILE`: a Unix mbox (Thunderbird, Google Takeout) through the pipeline."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from mailcrm.app import checkpoints as imap_state
from mailcrm.config import Config
from mailcrm.errors import Invalid, NotFound
from mailcrm.ingest.import_runner import ImportReport, ImportSession, Progress, run_positional
from mailcrm.spool import SpoolMeta


def import_mbox(cfg: Config, factory: sessionmaker[Session], path: Path, progress: Progress | None = None,
                role: str = "sent", create_contacts: bool = True) -> ImportReport:
    """Import an mbox file from the last committed position on (role "sent": your mail creates contacts)."""
    path = path.expanduser().resolve()
    if not path.is_file():
        raise NotFound(f"{path}: no such mbox file")
    name = f"import:mbox:{path}"
    start = int(imap_state.load(factory, name).state.get("position", -1)) + 1
    try:
        box = mailbox.mbox(str(path), create=False)
        keys = box.keys()  # one scan for "From " lines (the table of contents)
    except (OSError, mailbox.Error) as exc:
        raise Invalid(f"{path}: cannot read as mbox: {exc}") from None
    report = ImportReport(source="import:mbox", checkpoint=name, resumed_from=start or None)
    session = ImportSession(cfg, factory, report)

    def items() -> Iterator[tuple[int, bytes]]:
        for i, key in enumerate(keys):
            if i >= start:
                yield i, box.get_bytes(key)

    def meta() -> SpoolMeta:
        return SpoolMeta(source="import:mbox", role=role,
                         source_ref={"file": str(path), "create_contacts": create_contacts})

    if progress is not None:
        progress(0, len(keys) - start)
    try:
        return run_positional(session, items(), meta, progress, len(keys) - start)
    finally:
        session.close()
        box.close()
