"""`mailcrm import maildir DIR`: a Maildir (cur/ and new/) through the pipeline, in file-name order."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from mailcrm.app import checkpoints as imap_state
from mailcrm.config import Config
from mailcrm.errors import Invalid
from mailcrm.ingest.import_runner import ImportReport, ImportSession, Progress, run_positional
from mailcrm.spool import SpoolMeta


def import_maildir(cfg: Config, factory: sessionmaker[Session], path: Path, progress: Progress | None = None,
                   role: str = "sent", create_contacts: bool = True) -> ImportReport:
    """Import a Maildir; keys sort by delivery time, so the checkpoint is the last key committed."""
    path = path.expanduser().resolve()
    if not (path / "cur").is_dir() or not (path / "new").is_dir():
        raise Invalid(f"{path}: not a Maildir (needs cur/ and new/)")
    name = f"import:maildir:{path}"
    last = imap_state.load(factory, name).state.get("position")
    box = mailbox.Maildir(str(path), factory=None, create=False)
    keys = sorted(k for k in box.keys() if last is None or k > last)
    report = ImportReport(source="import:maildir", checkpoint=name, resumed_from=last)
    session = ImportSession(cfg, factory, report)

    def items() -> Iterator[tuple[str, bytes]]:
        for key in keys:
            try:
                yield key, box.get_bytes(key)
            except KeyError:
                continue  # moved away by a mail client meanwhile

    def meta() -> SpoolMeta:
        return SpoolMeta(source="import:maildir", role=role,
                         source_ref={"dir": str(path), "create_contacts": create_contacts})

    if progress is not None:
        progress(0, len(keys))
    try:
        return run_positional(session, items(), meta, progress, len(keys))
    finally:
        session.close()
