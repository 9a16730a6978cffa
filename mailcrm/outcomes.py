"""What became of one ingested item: the values a worker, a source's ack and an import report share."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """The fate of one spooled message (a ``str``: logs and --json print the plain word)."""

    STORED = "stored"            # applied: a new message row (and what it implies)
    DUPLICATE = "duplicate"      # its identity was stored before (re-delivery, SMTP and IMAP copies)
    SKIPPED = "skipped"          # understood, nothing to record (privacy filter, automated noise)
    QUARANTINED = "quarantined"  # kept aside with its reason; `mailcrm quarantine retry` brings it back
    RETRY = "retry"              # released to the spool; a later attempt may succeed
