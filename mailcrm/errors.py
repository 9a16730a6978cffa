"""The exception tree; each branch is one recovery.

    MailcrmError                 base; never shown as a traceback by the CLI
    ├── ConfigError              bad/missing config or CLI input -> one line, exit 2
    ├── Refused (= UsageError)   a request is refused -> one line, exit 2 (CLI), 4xx (web)
    │   ├── NotFound             it names a contact, deal, company, suggestion... that does not exist
    │   └── Invalid              a value or a transition the rules do not allow
    ├── StoreUnavailable         database down or locked -> retry later (spool keeps the mail)
    └── IngestError              one message cannot be applied
        ├── Rejected             policy says no (unknown author) -> quarantine with the reason
        ├── Unprocessable        unreadable, unparseable, or a bug on this one message -> quarantine
        └── Transient            a retry may succeed -> release, count the attempt, back off
"""

from __future__ import annotations


class MailcrmError(Exception):
    """Base of all mailcrm errors."""


class ConfigError(MailcrmError):
    """Configuration problem; the message is one line naming file, key and problem."""


class Refused(MailcrmError):
    """A request is refused (bad input, unknown thing, forbidden transition); the message is one line."""


# The CLI's name for a refusal of its arguments; use cases raise the precise subclasses below.
UsageError = Refused


class NotFound(Refused):
    """The request names something that does not exist (a contact, deal, company, suggestion...)."""


class Invalid(Refused):
    """A value or a state transition the rules do not allow."""


class StoreUnavailable(MailcrmError):
    """The database cannot be reached now; mail stays in the spool."""


class IngestError(MailcrmError):
    """A message cannot be applied to the store."""


class Rejected(IngestError):
    """Policy refuses the message (e.g. its author is no registered user)."""


class Unprocessable(IngestError):
    """This one message cannot be read, parsed or applied (a bug on it); quarantine it with the reason."""


class Transient(IngestError):
    """A failure that a later retry may fix."""
