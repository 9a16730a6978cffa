"""Frozen dataclasses: what the pure parser learns from one message.

Everything in ``mailcrm.parse`` turns bytes (plus explicit arguments) into these
values.  ``MessageFacts.to_json()`` is the contract of ``mailcrm inspect --json``;
its keys are fixed (see README, "inspect output").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["sent", "forward", "received", "bounce", "autoreply", "unknown"]
KINDS: tuple[str, ...] = ("sent", "forward", "received", "bounce", "autoreply", "unknown")


# Numbers written without a country code are read in this region (ISO 3166 code for phonenumbers);
# the config's users[].phone_region overrides it.  The one default for every layer.
DEFAULT_PHONE_REGION = "RU"

@dataclass(frozen=True)
class Address:
    """One mailbox: display name (may be None) and a lower-cased address."""

    name: str | None
    address: str

    def to_json(self) -> dict[str, Any]:
        """Serialise as ``{name, address}``."""
        return {"name": self.name, "address": self.address}


@dataclass(frozen=True)
class Forwarded:
    """The original message found inside a forward (innermost when nested)."""

    from_: Address | None
    date: dt.datetime | None
    subject: str | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    text: str = ""  # the original message's body text (its own reply text is derived from it)
    message_id: str | None = None  # only known for message/rfc822 attachments
    date_text: str | None = None  # the date as written in the forward header

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``inspect --json``."""
        return {
            "from": self.from_.to_json() if self.from_ else None,
            "date": self.date.isoformat() if self.date else None,
            "subject": self.subject,
            "to": [a.to_json() for a in self.to],
            "cc": [a.to_json() for a in self.cc],
        }


@dataclass(frozen=True)
class Signature:
    """A signature block and the fields read from it."""

    text: str
    name: str | None = None
    title: str | None = None
    company: str | None = None
    phones: tuple[str, ...] = ()  # E.164, extension as ";ext=NN" (RFC 3966 style)
    website: str | None = None
    emails: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``inspect --json``."""
        return {
            "text": self.text,
            "name": self.name,
            "title": self.title,
            "company": self.company,
            "phones": list(self.phones),
            "website": self.website,
        }


@dataclass(frozen=True)
class BounceRecipient:
    """One failed recipient in a delivery-failure report."""

    address: str
    hard: bool  # True only when the address itself is dead (unknown user/host, moved, no mail)
    status: str | None = None  # RFC 3463 enhanced status, e.g. "5.1.1"
    reason: str | None = None  # Sisimai's reason name: userunknown, hostunknown, mailboxfull, filtered, ... ("delayed": not yet failed)
    diagnostic: str | None = None  # the remote server's text, trimmed
    permanent: bool | None = None  # a permanent failure (not 4.x.x, not delayed); None: unknown

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``inspect --json``."""
        return {"address": self.address, "hard": self.hard, "status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class Bounce:
    """A delivery-failure report (RFC 3464 DSN or an MTA's own format)."""

    recipients: tuple[BounceRecipient, ...]
    original_message_id: str | None = None  # normalised (see identity.normalize_message_id)
    original_from: str | None = None
    original_to: tuple[str, ...] = ()
    original_subject: str | None = None
    reporting_mta: str | None = None
    # Every Message-ID the report gives for the returned original: its attached or quoted headers,
    # a text/rfc822-headers part, and the report's own In-Reply-To/References (normalised, deduplicated).
    original_message_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``inspect --json``."""
        return {
            "recipients": [r.to_json() for r in self.recipients],
            "original_message_id": self.original_message_id,
        }


@dataclass(frozen=True)
class AutoReply:
    """An automatic answer (RFC 3834 or a vacation text)."""

    until: dt.date | None = None  # "back on" date, when the text gives one
    left_company: bool = False  # "no longer works here"
    new_contacts: tuple[Address, ...] = ()  # "write to X instead"
    reason: str | None = None  # which header or phrase said so
    moved: bool = False  # only the address is gone ("no longer in use", "my new address is X"): X is the same person

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``inspect --json``."""
        return {
            "until": self.until.isoformat() if self.until else None,
            "left_company": self.left_company,
            "new_contacts": [a.to_json() for a in self.new_contacts],
            "moved": self.moved,
        }


@dataclass(frozen=True)
class AttachedFile:
    """One attached file: its name, content hash, size and (where cheap) the document's own title."""

    name: str
    sha256: str
    size: int
    doc_title: str | None = None


@dataclass(frozen=True)
class MessageFacts:
    """Everything the pure parser read from one raw message."""

    sha256: str
    identity: str  # the idempotency key: "mid:<normalised Message-ID>" or "hash:<sha256 of from/date/subject/body>"
    message_id: str | None
    kind: Kind
    from_: Address | None
    sender: Address | None  # Sender: header, when it differs
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: dt.datetime | None  # aware, as written (UTC when the header has no zone)
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    thread_key: str  # root Message-ID of the thread (first of References), else own id
    body_text: str  # best plain text of the body (HTML converted when there is no text part)
    reply_text: str  # new text without quoted history, forward header or signature
    snippet: str
    signature: Signature | None
    forwarded: Forwarded | None
    bounce: Bounce | None
    autoreply: AutoReply | None
    defects: tuple[str, ...]
    size: int
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # decoded, in order
    attachments: tuple[str, ...] = ()  # file names
    files: tuple[AttachedFile, ...] = ()  # the same files with their content hashes (works, issue 22)

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitive."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    def to_json(self) -> dict[str, Any]:
        """The ``mailcrm inspect --json`` document (keys are a public contract)."""
        return {
            "message_id": self.message_id,
            "kind": self.kind,
            "from": self.from_.to_json() if self.from_ else None,
            "to": [a.to_json() for a in self.to],
            "cc": [a.to_json() for a in self.cc],
            "date": self.date.isoformat() if self.date else None,
            "subject": self.subject,
            "forwarded": self.forwarded.to_json() if self.forwarded else None,
            "reply_text": self.reply_text,
            "signature": self.signature.to_json() if self.signature else None,
            "bounce": self.bounce.to_json() if self.bounce else None,
            "autoreply": self.autoreply.to_json() if self.autoreply else None,
            "defects": list(self.defects),
            "identity": self.identity,
            "sha256": self.sha256,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "thread_key": self.thread_key,
            "size": self.size,
        }
