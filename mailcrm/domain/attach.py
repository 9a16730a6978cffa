"""Pure rules: which people a message concerns, in which role, and whom it may create.

Input: MessageFacts + the ingest context (folder role, users' addresses).  Output: a Plan
that the store applies in one transaction.  No database, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailcrm.parse.addresses import is_automated_sender
from mailcrm.parse.facts import Address, MessageFacts
from mailcrm.parse.subaddress import subaddress_of

DIRECTION_OUT = "out"
DIRECTION_IN = "in"


@dataclass(frozen=True)
class Context:
    """What the rules need to know besides the message itself."""

    user_addresses: frozenset[str]
    dropbox_addresses: frozenset[str]
    role: str = "dropbox"  # dropbox | inbox | sent (IMAP folder role; SMTP and imports are dropbox)
    create_contacts: bool = True  # may unknown recipients become contacts (sent role: per config)
    envelope_from: str | None = None


@dataclass(frozen=True)
class PersonRef:
    """One person on a message: address, display name, role and direction."""

    address: str
    name: str | None
    role: str  # from | to | cc | original_from | original_to | original_cc | bounced | autoreply
    direction: str  # out: the user wrote to them; in: they wrote to the user
    create: bool  # may this reference create a new contact


@dataclass(frozen=True)
class Plan:
    """What to record for one message."""

    kind: str
    direction: str  # out | in | none
    date: dt.datetime  # naive UTC
    people: tuple[PersonRef, ...]
    user_address: str | None  # the registered user this message belongs to
    signature_owner: str | None  # address whose contact learns from the signature
    skip_reason: str | None = None  # set: do not store the message at all (privacy rules)
    reject_reason: str | None = None  # set: policy refuses it -> quarantine


def to_naive_utc(value: dt.datetime | None, fallback: dt.datetime) -> dt.datetime:
    """Aware datetime -> naive UTC (the store's convention); None -> fallback."""
    if value is None:
        return fallback
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _others(addrs: tuple[Address, ...], ctx: Context) -> list[Address]:
    return [
        a for a in addrs
        if a.address not in ctx.user_addresses and a.address not in ctx.dropbox_addresses
        and not _is_dropbox_sub(a.address, ctx.dropbox_addresses)
    ]


def _is_dropbox_sub(address: str, dropboxes: frozenset[str]) -> bool:
    return any(subaddress_of(address, d) for d in dropboxes)  # "" (the dropbox itself) is handled by the caller




def plan_message(facts: MessageFacts, ctx: Context, now: dt.datetime) -> Plan:
    """Decide kind, direction, people and the owning user for one parsed message."""
    date = to_naive_utc(facts.date, now)
    from_addr = facts.from_.address if facts.from_ else None
    user = from_addr if from_addr in ctx.user_addresses else None
    people: list[PersonRef] = []

    if facts.kind == "sent":
        create = ctx.create_contacts
        for role, addrs in (("to", facts.to), ("cc", facts.cc)):
            for a in _others(addrs, ctx):
                people.append(PersonRef(a.address, a.name, role, DIRECTION_OUT, create))
        if ctx.role == "sent" and not people:
            return Plan("sent", "out", date, (), user, None, skip_reason="no recipients")
        return Plan("sent", DIRECTION_OUT, date, tuple(people), user, None)

    if facts.kind == "forward":
        fwd = facts.forwarded
        if fwd is None or fwd.from_ is None or not fwd.from_.address:  # a bare "From: John Doe" names nobody
            return Plan("forward", "none", date, (), user, None,
                        reject_reason="forward without a recognisable original sender")
        fdate = to_naive_utc(fwd.date, date)
        if fwd.from_.address in ctx.user_addresses:
            # The user forwarded their own sent mail: it is a sent copy of the original.
            for role, addrs in (("to", fwd.to), ("cc", fwd.cc)):
                for a in _others(addrs, ctx):
                    people.append(PersonRef(a.address, a.name, role, DIRECTION_OUT, True))
            return Plan("sent", DIRECTION_OUT, fdate, tuple(people), fwd.from_.address, None)
        people.append(PersonRef(fwd.from_.address, fwd.from_.name, "original_from", DIRECTION_IN,
                                not is_automated_sender(fwd.from_.address)))
        for role, addrs in (("original_to", fwd.to), ("original_cc", fwd.cc)):
            for a in _others(addrs, ctx):
                people.append(PersonRef(a.address, a.name, role, DIRECTION_IN, False))
        return Plan("received", DIRECTION_IN, fdate, tuple(people), user, fwd.from_.address)

    if facts.kind == "bounce":
        bounced = facts.bounce.recipients if facts.bounce else ()
        for r in bounced:
            people.append(PersonRef(r.address, None, "bounced", "none", False))
        owner = user or _owner_from_recipients(facts, ctx)  # the user who forwarded it, or its recipient
        return Plan("bounce", "none", date, tuple(people), owner, None)

    if facts.kind == "autoreply":
        fwd = facts.forwarded
        if user is not None and fwd is not None and fwd.from_ is not None and fwd.from_.address:
            # The user forwarded an out-of-office: it answers the user, from the original's author.
            people.append(PersonRef(fwd.from_.address, fwd.from_.name, "autoreply", DIRECTION_IN, False))
            return Plan("autoreply", DIRECTION_IN, to_naive_utc(fwd.date, date), tuple(people), user, None)
        if from_addr:
            people.append(PersonRef(from_addr, facts.from_.name if facts.from_ else None, "autoreply",
                                    DIRECTION_IN, False))
        return Plan("autoreply", DIRECTION_IN, date, tuple(people), _owner_from_recipients(facts, ctx), None)

    if facts.kind == "received" and from_addr:
        # Mail written to the user by someone else.  Via the dropbox only registered users may
        # feed the CRM; via an inbox folder only known correspondents are kept (privacy first).
        if ctx.role == "dropbox":
            return Plan("received", DIRECTION_IN, date, (), None, None,
                        reject_reason=f"author {from_addr} is not a registered user")
        people.append(PersonRef(from_addr, facts.from_.name if facts.from_ else None, "from", DIRECTION_IN,
                                False))
        return Plan("received", DIRECTION_IN, date, tuple(people), _owner_from_recipients(facts, ctx), from_addr)

    return Plan(facts.kind, "none", date, (), None, None, reject_reason="message has no usable author")


def _owner_from_recipients(facts: MessageFacts, ctx: Context) -> str | None:
    for a in facts.to + facts.cc:
        if a.address in ctx.user_addresses:
            return a.address
    return None
