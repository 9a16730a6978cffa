"""The exception tree; each branch is one recovery.

    MailcrmError                 base; never shown as a traceback by the CLI
    ├── ConfigError              bad/missing config or CLI input -> one line, exit 2
    ├── UsageError               bad CLI argument (unknown contact, bad date) -> one line, exit 2
    ├── StoreUnavailable         database down or locked -> retry later (spool keeps the mail)
    └── IngestError              one message cannot be applied
        ├── Rejected             policy says no (unknown author) -> quarantine with the reason
        └── Transient            a retry may succeed -> release, count the attempt, back off
"""

from __future__ import annotations


class MailcrmError(Exception):
    """Base of all mailcrm errors."""


class ConfigError(MailcrmError):
    """Configuration problem; the message is one line naming file, key and problem."""


class UsageError(MailcrmError):
    """Bad command-line input; the message is one line."""


class StoreUnavailable(MailcrmError):
    """The database cannot be reached now; mail stays in the spool."""


class IngestError(MailcrmError):
    """A message cannot be applied to the store."""


class Rejected(IngestError):
    """Policy refuses the message (e.g. its author is no registered user)."""


class Transient(IngestError):
    """A failure that a later retry may fix."""
