"""`mailcrm import imap ACCOUNT --folder NAME`: one pass over a folder, the same pipeline as live mail.

ACCOUNT is a configured [[imap]] name or a URL: ``imaps://user@host:993/Sent`` (implicit
TLS), ``imap://user@host/Sent`` (STARTTLS) or ``imap+plain://user@127.0.0.1:1143/Sent``
(loopback only), with ``--password-file``.  The folder is opened read-only (EXAMINE,
RFC 3501 6.3.2) so nothing on the server changes; the checkpoint is the last UID committed.
A checkpoint made with ``--since D`` covers only mail since D: a later run reaching further
back (an earlier date, or none) starts the folder over, and the identity key keeps it harmless.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.app import checkpoints as imap_state
from mailcrm.config import Config, ImapConfig
from mailcrm.errors import ConfigError, Invalid, NotFound
from mailcrm.ingest.import_runner import ImportReport, ImportSession, Progress
from mailcrm.sources.imap_fetch import FolderSync, connect

_SCHEMES = {"imaps": ("tls", 993), "imap": ("starttls", 143), "imap+plain": ("plain", 143)}
_SENT_NAMES = ("sent", "отправленные", "sent items", "sent messages", "[gmail]/sent mail")


def resolve_account(cfg: Config, account: str, folder: str | None, password_file: Path | None,
                    role: str | None, create_contacts: bool | None) -> tuple[ImapConfig, str, str]:
    """(account config, folder, role) from a configured name or a URL; Refused on bad input."""
    if "://" not in account:
        acct = next((a for a in cfg.imap if a.name == account), None)
        if acct is None:
            names = ", ".join(a.name for a in cfg.imap) or "none configured"
            raise NotFound(f"no [[imap]] account named {account!r} ({names}); or give a URL imaps://user@host/Folder")
        if folder is None:
            raise Invalid("--folder is required with a configured account")
        if password_file is not None:
            acct = acct.model_copy(update={"password_file": str(password_file), "password_env": None})
        if create_contacts is not None:
            acct = acct.model_copy(update={"create_contacts": create_contacts})
        return acct, folder, role or acct.folders.get(folder) or _default_role(folder)
    url = urllib.parse.urlsplit(account)
    if url.scheme not in _SCHEMES or not url.hostname or not url.username:
        raise Invalid(f"{account}: expected imaps://user@host[:port]/Folder (or imap://, imap+plain://)")
    security, default_port = _SCHEMES[url.scheme]
    folder = folder or urllib.parse.unquote(url.path.lstrip("/")) or None
    if folder is None:
        raise NotFound(f"{account}: no folder: add /Folder to the URL or --folder")
    if password_file is None:
        raise Invalid("--password-file is required with an IMAP URL")
    role = role or _default_role(folder)
    try:
        port = url.port or default_port
        acct = ImapConfig.model_validate(dict(
            name=f"{urllib.parse.unquote(url.username)}@{url.hostname}:{port}", host=url.hostname, port=port,
            security=security, username=urllib.parse.unquote(url.username), password_file=str(password_file),
            folders={folder: role}, create_contacts=True if create_contacts is None else create_contacts,
        ))
    except ValidationError as exc:
        raise Invalid(f"{account}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    except ValueError as exc:
        raise Invalid(f"{account}: {exc}") from None
    return acct, folder, role


def _default_role(folder: str) -> str:
    # A Sent folder feeds contacts; anything else is read with the inbox privacy filter.
    return "sent" if folder.casefold() in _SENT_NAMES or folder.casefold().endswith("/sent") else "inbox"


def import_imap(cfg: Config, factory: sessionmaker[Session], account: str, folder: str | None = None, *,
                since: dt.date | None = None, password_file: Path | None = None, role: str | None = None,
                create_contacts: bool | None = None, progress: Progress | None = None) -> ImportReport:
    """Copy a folder into the store through the worker, batch by batch; resumable and idempotent."""
    if role is not None and role not in ("dropbox", "inbox", "sent"):
        raise Invalid(f"--role {role!r}: expected dropbox, inbox or sent")
    acct, folder, role = resolve_account(cfg, account, folder, password_file, role, create_contacts)
    name = imap_state.folder_key(acct.name, folder, prefix="import:imap")
    resumed = imap_state.load(factory, name)
    done_since = resumed.state.get("since")  # ISO date the checkpoint was made with, or None (everything)
    if resumed.last_uid and done_since is not None and (since is None or since.isoformat() < done_since):
        imap_state.reset(factory, name)  # older mail below the checkpoint was never read
        resumed = imap_state.load(factory, name)
    report = ImportReport(source=f"import:imap:{acct.name}", checkpoint=name,
                          resumed_from=resumed.last_uid or None)
    try:
        client = connect(acct)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback (and never the password)
        raise Invalid(f"{acct.host}:{acct.port}: cannot log in: {type(exc).__name__}: {exc}") from None
    session = ImportSession(cfg, factory, report)
    try:
        if not client.folder_exists(folder):
            raise NotFound(f"{acct.name}: no folder {folder!r}")

        sync = FolderSync(client, acct, folder, role, session.spool, factory, report.source, name, since=since,
                          readonly=True, progress=progress, on_batch=session.drain, read_ahead=True)
        res = sync.run()
        if not resumed.last_uid or done_since is None:
            # Remember how far back this checkpoint reaches (a --since run after a full one stays full).
            imap_state.save(factory, name, state={"since": since.isoformat() if since and not resumed.last_uid
                                                   else done_since})
        report.found = res.spooled
        report.private = res.private
    finally:
        session.close()
        try:
            client.logout()
        except Exception:  # noqa: BLE001
            pass
    return report
