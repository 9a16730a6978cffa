"""Typed SQLAlchemy 2 models.  Deleting is a status: no history row is ever removed.

Times are stored as naive UTC (``utcnow()``) so SQLite and PostgreSQL compare alike.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Naive UTC now (the store's time convention)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (for Alembic)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A registered user (from config [[users]]; synced at start)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    dropbox: Mapped[str] = mapped_column(String(320), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    digest_time: Mapped[str] = mapped_column(String(5), default="08:00")
    language: Mapped[str] = mapped_column(String(5), default="ru")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Company(Base):
    """A company that groups contacts (by corporate domain or signature company name)."""

    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(300), unique=True)  # normalised name (or domain) key
    domain: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | merged
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    source: Mapped[str] = mapped_column(String(20), default="domain")  # domain | signature | user | import
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Contact(Base):
    """A person.  ``user_fields`` lists fields the user typed: parsers never overwrite them."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    phones: Mapped[list[Any]] = mapped_column(JSON, default=list)
    website: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | merged | deleted
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)  # show: merged-in ids
    needs_new_address: Mapped[bool] = mapped_column(Boolean, default=False)
    user_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(40), default="mail")
    # Kept by store/search.py at commit: name, title, company, addresses, phones, tags, folded.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    addresses: Mapped[list["EmailAddress"]] = relationship(back_populates="contact", lazy="select")
    company: Mapped[Company | None] = relationship(lazy="select")


class EmailAddress(Base):
    """One address; status active | suspect | bounced | invalid.  History stays whatever the status."""

    __tablename__ = "email_addresses"
    # The digest's "check this address" and "no live address" start from the few non-active addresses.
    __table_args__ = (Index("ix_email_address_status", "status", "contact_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="addresses")


class Tag(Base):
    """A tag (e.g. "театры"), from import sheets or `mailcrm tag`."""

    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ContactTag(Base):
    """Contact <-> tag."""

    __tablename__ = "contact_tags"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Message(Base):
    """One stored message; ``identity`` (Message-ID or content hash) makes ingest idempotent."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(400), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(1000), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # sent | received | forward | bounce | autoreply | unknown
    direction: Mapped[str] = mapped_column(String(10))  # out | in | none
    date: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # naive UTC
    subject: Mapped[str] = mapped_column(Text, default="")
    snippet: Mapped[str] = mapped_column(Text, default="")
    thread_key: Mapped[str] = mapped_column(String(1000), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(String(100), default="smtp")
    size: Mapped[int] = mapped_column(Integer, default=0)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the inspect document
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | deleted | unverified
    # Sender authentication (migration 0005): the verdicts {dkim, spf, helo_spf, dmarc, arc, aligned, ...}
    # and how the author claiming a user's address was proven ("none": stored flagged, policy "mark").
    auth: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    author_proof: Mapped[str | None] = mapped_column(String(30), nullable=True)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Its bytes and people are plain rows written after the flush that inserts it
    # (store/message_rows.py), not relationships: the ORM tracked them for nothing.


class RawMessage(Base):
    """The raw bytes as received (evidence for disputes), content-addressed: one row per sha256.

    ``messages.sha256`` names the row; two messages with the same bytes share it (revision 0006
    moved the old per-message ``message_blobs`` here).
    """

    __tablename__ = "raw_messages"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)


MessageBlob = RawMessage  # the name older code and tests use


class Participant(Base):
    """Who a message concerns: role from | to | cc | original_from | bounced | autoreply."""

    __tablename__ = "message_participants"
    __table_args__ = (
        UniqueConstraint("message_id", "address", "role", name="uq_participant"),
        # Covering for "latest mail of this contact in these roles" (digest) and the timeline:
        # a backwards scan of the index alone, no table row per candidate (migration 0002).
        Index("ix_participant_contact_timeline", "contact_id", "date", "role", "message_id"),
        Index("ix_participant_address_date", "address", "date"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(300))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    role: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(10))  # out: we wrote to them; in: they wrote to us
    date: Mapped[dt.datetime] = mapped_column(DateTime)  # copy of messages.date for the timeline index


class Activity(Base):
    """A timeline entry that is not a message: note, call, event, status change, auto-reply."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activity_contact_at", "contact_id", "at"),
        # The digest: a contact's latest call (one seek, no table rows), snoozes and "back on" dates by day.
        Index("ix_activity_contact_kind_at", "contact_id", "kind", "at"),
        Index("ix_activity_due_kind", "due", "kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(30))  # note | call | event | status | autoreply | bounce | signature
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[dt.date | None] = mapped_column(Date)  # e.g. auto-reply "back on" date
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ContactTouch(Base):
    """A contact's latest touches, kept at write time by app/last_touch.py (migration 0016 filled
    them for older stores): the newest mail from them (roles from | original_from), the newest
    mail to them (to | cc), whatever the message's status, and the newest logged call.  The digest
    reads these instead of seeking the participant and activity indexes per person."""

    __tablename__ = "contact_touches"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    last_in: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_out: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_call: Mapped[dt.datetime | None] = mapped_column(DateTime)


class DealTouch(Base):
    """A deal's latest touches of its own, kept like ``ContactTouch``: the newest mail (sent,
    received or forward, whatever its status) among the deal's messages, and the newest call
    logged against the deal."""

    __tablename__ = "deal_touches"
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), primary_key=True)
    last_thread: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_call: Mapped[dt.datetime | None] = mapped_column(DateTime)


class SignatureSeen(Base):
    """Every parsed signature, with its date and source message (a fuller one can be proposed)."""

    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    text: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    company: Mapped[str | None] = mapped_column(String(300))
    phones: Mapped[list[Any]] = mapped_column(JSON, default=list)
    website: Mapped[str | None] = mapped_column(String(500))


class CompanySuggestion(Base):
    """An uncertain grouping, proposed to the user: pending | accepted | rejected."""

    __tablename__ = "company_suggestions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    other_company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    company_name: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30), default="contact_company")  # contact_company | merge | new_contact | new_address
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class BounceEvent(Base):
    """One failed recipient of one bounce message, verified against mail we sent or not."""

    __tablename__ = "bounce_events"
    __table_args__ = (
        UniqueConstraint("message_id", "address", name="uq_bounce_event"),
        Index("ix_bounce_address_at", "address", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    address: Mapped[str] = mapped_column(String(320))
    address_id: Mapped[int | None] = mapped_column(ForeignKey("email_addresses.id"))
    hard: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(100))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verify_note: Mapped[str | None] = mapped_column(Text)
    effect: Mapped[str | None] = mapped_column(String(30))  # bounced | suspect | delayed | none
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    permanent: Mapped[bool | None] = mapped_column(Boolean)  # None: recorded before revision 0003
    tie: Mapped[str | None] = mapped_column(String(20))  # message_id | unquoted | unrelated
    report_id: Mapped[str | None] = mapped_column(String(998))  # the report's own Message-ID


class Deal(Base):
    """A lead tracked until won or lost."""

    __tablename__ = "deals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    stage: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | won | lost | deleted
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    lost_reason: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    stage_changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    source: Mapped[str | None] = mapped_column(String(100))  # e.g. "form:site" (a lead form)


class DealContact(Base):
    """Deal <-> contact."""

    __tablename__ = "deal_contacts"
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)


class DealStage(Base):
    """Stage history of a deal."""

    __tablename__ = "deal_stages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    stage: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class DealThread(Base):
    """A thread (root Message-ID) that belongs to a deal: later replies attach automatically."""

    __tablename__ = "deal_threads"
    thread_key: Mapped[str] = mapped_column(String(1000), primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)


class DealMessage(Base):
    """Deal <-> message."""

    __tablename__ = "deal_messages"
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True, index=True)


class SpecialDate(Base):
    """A date to remember, per contact or per tag: fixed (month/day[/year]) or a recurrence rule."""

    __tablename__ = "special_dates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id"), index=True)
    label: Mapped[str] = mapped_column(String(300))
    month: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(300))  # RFC 5545 RRULE text
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SourceState(Base):
    """Per-source checkpoint and health (IMAP folder UIDVALIDITY/last UID, relay, imports)."""

    __tablename__ = "source_state"
    name: Mapped[str] = mapped_column(String(400), primary_key=True)  # e.g. "imap:crm-box:INBOX"
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ok_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class DigestRun(Base):
    """One (user, local date) digest: claimed before sending, marked after (sent at most once)."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("user_id", "local_date", name="uq_digest_user_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    local_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="sending")  # sending | sent | failed | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What a reply may refer to (issue 27): the mail's Message-ID and what each line number meant.
    message_id: Mapped[str | None] = mapped_column(String(1000), index=True)
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)



class Work(Base):
    """A play, script or pitch the user sends out; recognised from attachments and subject titles."""

    __tablename__ = "works"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | merged
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WorkAlias(Base):
    """A normalised name (parse.works.key_of) that means one work: one work per key."""

    __tablename__ = "work_aliases"
    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))  # as first written
    source: Mapped[str] = mapped_column(String(20), default="file")  # file | subject | user


class WorkFile(Base):
    """An attachment's content (sha256) and the work it carries: same bytes, same work."""

    __tablename__ = "work_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer, default=0)
    doc_title: Mapped[str | None] = mapped_column(String(500))
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WorkSend(Base):
    """One sent copy of a work to one recipient address (the ledger's facts, queryable)."""

    __tablename__ = "work_sends"
    __table_args__ = (
        UniqueConstraint("work_id", "message_id", "address", name="uq_work_send"),
        Index("ix_work_send_work_contact", "work_id", "contact_id"),
        Index("ix_work_send_work_company", "work_id", "company_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    via: Mapped[str] = mapped_column(String(20), default="file")  # file | subject
    key: Mapped[str] = mapped_column(String(500), default="")  # the name's key (work split moves sends by it)
    file_sha256: Mapped[str | None] = mapped_column(String(64))


class WorkRecipient(Base):
    """Work x contact summary: first/last sent, times, the answer (folded from the ledger)."""

    __tablename__ = "work_recipients"
    __table_args__ = (Index("ix_work_recipient_company", "work_id", "company_id"),)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    first_sent: Mapped[dt.datetime] = mapped_column(DateTime)
    last_sent: Mapped[dt.datetime] = mapped_column(DateTime)
    times: Mapped[int] = mapped_column(Integer, default=1)
    answer: Mapped[str] = mapped_column(String(20), default="none")  # none | replied | declined | interested | deal
    answer_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_by_user: Mapped[bool] = mapped_column(Boolean, default=False)  # corrected by hand: mail no longer moves it
    bounced: Mapped[bool] = mapped_column(Boolean, default=False)


class LedgerEntry(Base):
    """The append-only outreach ledger; ``hash`` = sha256(prev_hash + canonical content): a chain."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_work_contact", "work_id", "contact_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(20))  # sent | answer | bounce | deal | correction | rename | merge | split
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class WorkWarning(Base):
    """A repeat ("already sent"): mailed to the user at once, listed in the next digest."""

    __tablename__ = "work_warnings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the earlier sends and answers, for the text
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending | sent | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Form(Base):
    """A lead form posting to ``/intake/<token>`` (`mailcrm form add`); removing is a status."""

    __tablename__ = "forms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token: Mapped[str] = mapped_column(String(100), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | removed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Lead(Base):
    """One form submission turned into rows; (form, key) stores a resubmission once."""

    __tablename__ = "leads"
    __table_args__ = (UniqueConstraint("form", "key", name="uq_lead_form_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))  # a notification mail's
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    client: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    notify_error: Mapped[str | None] = mapped_column(Text)
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WebCredential(Base):
    """A user's web password as an argon2 hash (`mailcrm web password`)."""

    __tablename__ = "web_credentials"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    """One web login: the SHA-256 of the cookie's token (never the token), its user and expiry."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class WebToken(Base):
    """An API bearer token (`mailcrm web token`): its SHA-256 only; revoking is a status."""

    __tablename__ = "web_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class FollowUp(Base):
    """A reminder set by BCC to ``crm+<secret>+3d@``: shown in the digest on ``due`` unless the mail was answered.

    Whether it was answered is read when the digest is built (a later mail in from one of its
    recipients, or in its thread), so a reply ingested before or after the follow-up counts alike;
    ``always`` (``+r3d``) reminds whatever happens.  Cancelling (``+cancel``) is a status.
    """

    __tablename__ = "follow_ups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    due: Mapped[dt.date] = mapped_column(Date, index=True)
    always: Mapped[bool] = mapped_column(Boolean, default=False)
    word: Mapped[str] = mapped_column(String(100), default="")  # the sub-address as written, e.g. "3d"
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting | cancelled
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class DigestReply(Base):
    """A reply to a digest, handled once (its Message-ID, else content hash, is unique): applied or refused."""

    __tablename__ = "digest_replies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(1000), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("digest_runs.id"))
    status: Mapped[str] = mapped_column(String(20))  # applied | refused | ignored
    reason: Mapped[str | None] = mapped_column(Text)
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class TouchRule(Base):
    """"Keep in touch every N days" for one contact or everyone with a tag (``mailcrm touch every``)."""

    __tablename__ = "touch_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id"), index=True)
    every_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | removed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AnswerOutbox(Base):
    """An answer mailcrm owes by mail (a digest reply's confirmation, +find/+pending/+outreach, help).

    Written in the transaction that handled the command, so it is never lost; sent by the daemon
    after the commit and retried with a growing delay while the relay refuses or is down.  Its
    Message-ID is fixed when it is written: every attempt sends the same message.
    """

    __tablename__ = "answer_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(1000), unique=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # the whole message, as it goes to the relay
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending | sending | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
