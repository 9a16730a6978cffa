"""An IMAP dropbox folder on a real Dovecot needs a proven author; the Sent folder does not."""

from __future__ import annotations

from pathlib import Path

from conftest import free_port, make_config_text
from dovecot import PROVIDER_AUTHSERV_ID, Dovecot, Harness, imap_block, make_message
from sqlalchemy import select
from test_imap_source import server  # noqa: F401 - the fixture

from mailcrm.store.models import EmailAddress, Message


def _strip_stamp(raw: bytes) -> bytes:
    return raw.split(b"\r\n", 1)[1]  # make_message puts the provider's stamp first


def test_dropbox_folder_needs_a_trusted_stamp(server: Dovecot, tmp_path: Path) -> None:  # noqa: F811
    stamped = make_message(1, to="Ivan <ivan@theatre.example>")
    assert stamped.startswith(f"Authentication-Results: {PROVIDER_AUTHSERV_ID};".encode())
    bare = _strip_stamp(make_message(2, to="Olga <olga@film.example>"))  # no stamp, no DKIM: unproven
    other = (b"Authentication-Results: mx.attacker.example; dmarc=pass header.from=example.org\r\n"
             + _strip_stamp(make_message(3, to="Mark <mark@victim.example>")))
    failed = (f"Authentication-Results: {PROVIDER_AUTHSERV_ID}; dmarc=fail header.from=example.org\r\n".encode()
              + _strip_stamp(make_message(4, to="Anna <anna@agency.example>")))
    server.append("INBOX", [stamped, bare, other, failed])
    server.append("Sent", [_strip_stamp(make_message(5, to="Petr <petr@studio.example>"))])
    blocks = imap_block(server, folders='{ "INBOX" = "dropbox", "Sent" = "sent" }', extra="create_contacts = true\n")
    text = make_config_text(tmp_path, f"sqlite:///{tmp_path / 'crm.sqlite3'}", free_port(), extra=blocks)
    h = Harness(text, tmp_path)
    try:
        h.wait_for(lambda: h.count(Message) == 2 and h.spool.quarantine_count() == 3, timeout=30)
        assert h.count(Message) == 2 and h.spool.quarantine_count() == 3
        reasons = {i.meta.reason for i in h.spool.quarantined()}
        assert all("unauthenticated_author" in (r or "") for r in reasons)
        with h.engine.connect() as c:
            stored = set(c.execute(select(EmailAddress.address)).scalars())
        assert stored == {"ivan@theatre.example", "petr@studio.example"}
    finally:
        h.close()
