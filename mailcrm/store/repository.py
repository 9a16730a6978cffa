"""Store operations for contacts, addresses, companies, messages and timelines.

Functions take an open Session and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from mailcrm.errors import Invalid, NotFound
from mailcrm.parse.addresses import domain_of, is_free_mail, normalize_address
from mailcrm.parse.companies import normalize_company
from mailcrm.store import db, message_rows
from mailcrm.store import search as search_rules
from mailcrm.store.models import (
    Activity,
    Company,
    Contact,
    ContactTag,
    EmailAddress,
    Message,
    Participant,
    Tag,
    User,
    utcnow,
)


class UserSpec(Protocol):
    """What the store keeps of a configured user (config.UserConfig has these)."""

    @property
    def email(self) -> str: ...
    @property
    def dropbox(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def digest_time(self) -> str: ...
    @property
    def language(self) -> str: ...

    def all_addresses(self) -> Sequence[str]: ...


class UsersSpec(Protocol):
    """The configured users (config.Config has them); the store does not import the config."""

    @property
    def users(self) -> Sequence[UserSpec]: ...


def sync_users(session: Session, cfg: UsersSpec) -> dict[str, int]:
    """Create/update User rows from config; returns {address: user_id} for every user address."""
    db.serialize(session, db.LOCK_USERS)  # several daemons may start at once on PostgreSQL
    out: dict[str, int] = {}
    for u in cfg.users:
        row = session.scalar(select(User).where(User.email == u.email))
        if row is None:
            other = session.scalar(select(User).where(User.dropbox == u.dropbox))
            if other is not None:
                other.dropbox = f"retired-{other.id}-{other.dropbox}"
                session.flush()
            row = User(email=u.email, dropbox=u.dropbox)
            session.add(row)
        row.name = u.name
        if row.dropbox != u.dropbox:
            clash = session.scalar(select(User).where(User.dropbox == u.dropbox, User.id != row.id))
            if clash is not None:
                clash.dropbox = f"retired-{clash.id}-{clash.dropbox}"
                session.flush()
            row.dropbox = u.dropbox
        row.timezone = u.timezone
        row.digest_time = u.digest_time
        row.language = u.language
        session.flush()
        for a in u.all_addresses():
            out[a] = row.id
    return out


def user_id_for(session: Session, address: str | None) -> int | None:
    """The User id whose email is ``address`` (primary address only)."""
    if not address:
        return None
    return session.scalar(select(User.id).where(User.email == address))


# -- contacts and addresses --------------------------------------------------------------
def find_address(session: Session, address: str) -> EmailAddress | None:
    """The EmailAddress row for an address (normalised), or None.

    A row ``contacts_by_address`` loaded in this transaction (the ingest batch's lookup) is
    answered from memory, as long as the session still holds it; anything else is one query.
    """
    address = normalize_address(address)
    row = session.info.get(_ADDRESS_CACHE, {}).get(address)
    if row is not None and row in session and row.address == address:
        return row  # type: ignore[no-any-return]
    return session.scalar(select(EmailAddress).where(EmailAddress.address == address))


def resolve_contact(session: Session, contact: Contact) -> Contact:
    """Follow merges to the surviving contact."""
    seen = 0
    while contact.merged_into_id is not None and seen < 20:
        nxt = session.get(Contact, contact.merged_into_id)
        if nxt is None:
            break
        contact = nxt
        seen += 1
    return contact


class KnownContacts(dict[str, Contact]):
    """Contacts of addresses looked up together (``contacts_by_address``): address -> contact.

    ``looked_up`` holds every address that lookup asked about, so one without a contact is
    known to have none and needs no second query.  That stays true while the lookup's
    transaction runs because contacts are created only by ``find_or_create_contact``, which
    adds them here (the ingest worker is the one writer; a concurrent one makes the insert
    fail, and the worker's careful retry looks up again).
    """

    def __init__(self, looked_up: Iterable[str] = ()) -> None:
        super().__init__()
        self.looked_up = set(looked_up)

    def still_in(self, session: Session) -> "KnownContacts":
        """A copy without the contacts ``session`` no longer holds (created in a rolled-back savepoint)."""
        out = KnownContacts(self.looked_up)
        out.update((a, c) for a, c in self.items() if c in session)
        return out


def find_contact(session: Session, address: str, known: dict[str, Contact] | None = None) -> Contact | None:
    """The (surviving) contact that owns ``address``, or None (one query).

    ``known``: contacts already looked up for these addresses (``contacts_by_address``); an
    address found there costs no query, nor does one a ``KnownContacts`` lookup found no contact for.
    """
    address = normalize_address(address)
    if known is not None and address in known:
        return known[address]
    if isinstance(known, KnownContacts) and address in known.looked_up:
        return None
    contact = session.scalar(select(Contact).join(EmailAddress, EmailAddress.contact_id == Contact.id)
                             .where(EmailAddress.address == address))
    return resolve_contact(session, contact) if contact is not None else None


def contacts_by_address(session: Session, addresses: Iterable[str]) -> KnownContacts:
    """The (surviving) contacts of those ``addresses`` that have one (one query per 500 addresses)."""
    keys = sorted({normalize_address(a) for a in addresses if a})
    out = KnownContacts(keys)
    rows_by_address: dict[str, EmailAddress] = session.info.setdefault(_ADDRESS_CACHE, {})
    for i in range(0, len(keys), 500):
        rows = session.execute(select(EmailAddress, Contact)
                               .join(Contact, EmailAddress.contact_id == Contact.id)
                               .where(EmailAddress.address.in_(keys[i:i + 500])))
        for row, contact in rows:
            rows_by_address[row.address] = row  # for find_address (mark_inbound): no query per message
            out[row.address] = resolve_contact(session, contact)
    return out


_ADDRESS_CACHE = "mailcrm.email_address_rows"


def find_or_create_contact(
    session: Session,
    address: str,
    name: str | None = None,
    *,
    source: str = "mail",
    free_mail_extra: frozenset[str] = frozenset(),
    known: dict[str, Contact] | None = None,
    flush: bool = True,
) -> Contact:
    """The contact owning ``address``; created (with a domain company when corporate) if unknown.

    ``known``: as for ``find_contact``; a contact created here is added to it.  ``flush=False``
    leaves a new contact pending (no id yet) for the caller's next flush: the ingest worker
    creates many in a batch and finds them again through ``known``, not by query.
    """
    address = normalize_address(address)
    existing = find_contact(session, address, known)
    if existing is not None:
        if name and not existing.name and "name" not in (existing.user_fields or []):
            existing.name = name
        return existing
    contact = Contact(name=name or None, source=source, phones=[], user_fields=[])
    if not is_free_mail(address, free_mail_extra):
        company = company_for_domain(session, domain_of(address), flush=flush)
        contact.company = company  # a new company stays pending with the contact (flush=False)
        if company.id is not None:
            contact.company_id = company.id
    # Contact and address in one flush (through the relationship): a backfill creates thousands.
    contact.addresses.append(EmailAddress(address=address, status="active"))
    session.add(contact)
    if flush:
        session.flush()
    if known is not None:
        known[address] = contact
    return contact


def company_for_domain(session: Session, domain: str, *, flush: bool = True) -> Company:
    """The company grouped by a corporate domain (created on first sight).

    Remembered for the session's life (``session.info``; a session is one transaction,
    ``db.transaction``): a batch of mail names the same few domains again and again.  After
    ``companies_by_domain`` a domain it found no company for is created without asking again.
    """
    domain = domain.lower()
    cache: dict[str, Company] = session.info.setdefault(_COMPANY_CACHE, {})
    row = cache.get(domain)
    if row is not None and row in session:
        return _resolve_company(session, row)
    row = None  # not seen, or created in a savepoint since rolled back
    if domain not in session.info.get(_COMPANY_LOOKED_UP, ()):
        with session.no_autoflush:  # pending contacts cannot change the answer; they flush with the batch
            row = session.scalar(select(Company).where(Company.domain == domain))
    if row is None:
        row = Company(name=domain, key=f"domain:{domain}", domain=domain, source="domain")
        session.add(row)
        if flush:  # else pending (no id yet) until the caller's next flush: link it through Contact.company
            session.flush()
    cache[domain] = row
    return _resolve_company(session, row)


def companies_by_domain(session: Session, domains: Iterable[str]) -> None:
    """Look up the companies of ``domains`` in one query (per 500) for ``company_for_domain``.

    Companies are grouped by domain only by ``company_for_domain``, so within this transaction a
    domain found without a company has none until that function creates it.
    """
    keys = sorted({d.lower() for d in domains if d})
    cache: dict[str, Company] = session.info.setdefault(_COMPANY_CACHE, {})
    looked_up: set[str] = session.info.setdefault(_COMPANY_LOOKED_UP, set())
    with session.no_autoflush:
        for i in range(0, len(keys), 500):
            for row in session.scalars(select(Company).where(Company.domain.in_(keys[i:i + 500]))):
                cache[row.domain or ""] = row
    looked_up.update(keys)


def load_companies(session: Session, ids: Iterable[int | None]) -> None:
    """Load the companies ``ids`` into the session in one query (per 500), so that ``session.get``
    and ``Contact.company`` find them without one query each."""
    keys = sorted({i for i in ids if i is not None})
    # The identity map holds its objects weakly: kept here, or they are gone (and asked for again,
    # one query per contact) by the time a signature compares with them.
    held: list[Company] = session.info.setdefault(_COMPANIES_HELD, [])
    with session.no_autoflush:
        for i in range(0, len(keys), 500):
            held.extend(session.scalars(select(Company).where(Company.id.in_(keys[i:i + 500]))).all())


_COMPANIES_HELD = "mailcrm.companies_loaded"


_COMPANY_CACHE = "mailcrm.company_for_domain"
_COMPANY_LOOKED_UP = "mailcrm.company_domains_looked_up"


_NAME_CACHE = "mailcrm.company_by_name"
_NAME_LOOKED_UP = "mailcrm.company_names_looked_up"


def companies_by_name(session: Session, names: Iterable[str]) -> None:
    """Look up the companies of ``names`` (normalised) in one query (per 500) for ``company_by_name``.

    The ingest batch asks once for every company its signatures name; ``company_by_name`` then
    answers from the session's memory, and within this transaction a name found without a
    company has none until ``company_by_name`` creates it (or ``remember_company_name`` names one).
    """
    keys = sorted({k for k in (normalize_company(n) for n in names if n) if k})
    cache: dict[str, Company] = session.info.setdefault(_NAME_CACHE, {})
    looked_up: set[str] = session.info.setdefault(_NAME_LOOKED_UP, set())
    with session.no_autoflush:
        for i in range(0, len(keys), 500):
            for row in session.scalars(select(Company).where(Company.key.in_(keys[i:i + 500]))):
                cache[row.key] = row
    looked_up.update(keys)


def remember_company_name(session: Session, company: Company) -> None:
    """``company`` now carries its key (a domain company renamed by a signature): later lookups find it."""
    if company.key and _NAME_CACHE in session.info:
        session.info[_NAME_CACHE][company.key] = company


def company_by_name(session: Session, name: str, *, create: bool = True, source: str = "user",
                    flush: bool = True) -> Company | None:
    """The company whose normalised name matches ``name`` (created when ``create``).

    ``flush=False`` leaves a new company pending (no id yet) for the caller's next flush; link it
    through ``Contact.company``.  Names looked up by ``companies_by_name`` in this transaction are
    answered without a query.
    """
    key = normalize_company(name)
    if not key:
        return None
    cache: dict[str, Company] | None = session.info.get(_NAME_CACHE)
    row: Company | None = None
    if cache is not None and key in cache and cache[key] in session:
        row = cache[key]
    elif key not in session.info.get(_NAME_LOOKED_UP, ()) or (cache is not None and key in cache):
        # not looked up for this batch, or created in a savepoint since rolled back: ask the store
        row = session.scalar(select(Company).where(Company.key == key))
    if row is None and create:
        row = Company(name=name.strip(), key=key, source=source)
        session.add(row)
        if flush:
            session.flush()
    if row is not None and cache is not None:
        cache[key] = row
    return _resolve_company(session, row) if row is not None else None


def _resolve_company(session: Session, company: Company) -> Company:
    seen = 0
    while company.merged_into_id is not None and seen < 20:
        nxt = session.get(Company, company.merged_into_id)
        if nxt is None:
            break
        company = nxt
        seen += 1
    return company


def contact_addresses(session: Session, contact_id: int) -> list[EmailAddress]:
    """All addresses of a contact, including those of contacts merged into it."""
    ids = [contact_id] + list(session.scalars(select(Contact.id).where(Contact.merged_into_id == contact_id)))
    return list(session.scalars(select(EmailAddress).where(EmailAddress.contact_id.in_(ids)).order_by(EmailAddress.id)))


# -- one lock order for concurrent writers ---------------------------------------------------
def lock_keys(session: Session, *, identities: Iterable[str] = (), addresses: Iterable[str] = (),
              domains: Iterable[str] = (), company_names: Iterable[str] = ()) -> int:
    """PostgreSQL: transaction advisory locks on the rows a batch may create or update; returns how many.

    Two daemons applying batches that share messages, addresses or companies used to insert and
    update those rows in different orders and deadlock (or hit a unique key the other had just
    committed).  Taking one lock per key, in one global order (sorted lock ids) and before any
    read or write of the batch, makes the later transaction wait for the earlier to commit and
    then see its rows: no deadlock, no conflict.  SQLite needs none (one writer at a time).
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    keys = {f"m:{i}" for i in identities if i}
    keys |= {f"a:{normalize_address(a)}" for a in addresses if a}
    keys |= {f"d:{d.lower()}" for d in domains if d}
    keys |= {f"c:{k}" for k in (normalize_company(n) for n in company_names if n) if k}
    ids = sorted({_lock_id(k) for k in keys})
    if ids:
        session.execute(sql_text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:ids AS bigint[])) AS k"),
                        {"ids": ids})
    return len(ids)


def _lock_id(key: str) -> int:
    """A stable signed 64-bit advisory lock id for ``key`` (hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


# -- messages -----------------------------------------------------------------------------
def message_by_identity(session: Session, identity: str) -> Message | None:
    """An already stored message with this idempotency key."""
    return session.scalar(select(Message).where(Message.identity == identity))


def stored_identities(session: Session, identities: list[str]) -> set[str]:
    """Which of these idempotency keys are stored already (one query per 500 keys)."""
    out: set[str] = set()
    keys = sorted(set(identities))
    for i in range(0, len(keys), 500):
        out.update(session.scalars(select(Message.identity).where(Message.identity.in_(keys[i:i + 500]))))
    return out


def add_message(session: Session, message: Message, raw: bytes | None) -> Message:
    """Add a message (and its raw bytes) to the session; the unique identity enforces idempotency.

    Nothing is flushed here: the next flush inserts the message, then its bytes and participants
    (``message_rows``: plain rows written with Core right after that flush).
    """
    message_rows.add(session, message, raw)
    return message


def number_messages_before_flush(session: Session) -> None:
    """This session holds the write lock: give new messages their ids at flush time (``message_rows``)."""
    message_rows.number_before_flush(session)


def add_message_activity(session: Session, message: Message, contact: Contact | None, *, kind: str,
                         at: dt.datetime, text: str, due: dt.date | None, data: dict[str, Any]) -> None:
    """A timeline entry of ``message`` on ``contact``, inserted with the message's rows (no flush: both
    may be pending; their ids are read when the row is written)."""
    message_rows.add_activity(session, message, contact, {
        "deal_id": None, "kind": kind, "at": at, "text": text, "due": due, "data": data, "created_at": utcnow()})


def add_signature(session: Session, message: Message, contact: Contact, row: dict[str, Any]) -> None:
    """Record a signature ``contact`` wrote in ``message`` (inserted with the message's rows, no flush)."""
    message_rows.add_signature(session, message, contact, row)


def add_participant(
    session: Session, message: Message, address: str, name: str | None, contact: Contact | int | None,
    role: str, direction: str,
) -> None:
    """Record that ``address`` took part in ``message`` in ``role`` (inserted with the message).

    ``contact``: the contact (its id is read when the row is written, so a new one need not be
    flushed first) or a contact id.
    """
    message_rows.add_participant(session, message, address, name, contact, role, direction)


# -- reading: lists and cards --------------------------------------------------------------
def list_contacts(session: Session, search: str | None = None, limit: int | None = 500,
                  region: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Contacts (surviving ones) with their addresses and company, optionally filtered, and how many
    match in all (the list stops at ``limit``; None: no limit).

    ``search`` matches name, title, company, addresses, phones and tags through the folded search
    column (store/search.py): Unicode case-insensitive, ё = е, ``%``/``_`` literal.
    """
    q = select(Contact).where(Contact.status == "active")
    pattern = search_rules.like_pattern(search, region) if search else None
    if pattern is not None:
        search_rules.refresh_pending(session)
        q = q.where(search_rules.matches(session, pattern))
    # One pass: the page, in name order, with the number of all matches beside each row.
    page = select(Contact.id, func.count().over().label("total")).where(q.whereclause)  # type: ignore[arg-type]
    page = page.order_by(Contact.name, Contact.id)
    if limit is not None:
        page = page.limit(limit)
    found = session.execute(page).all()
    if found:
        total = found[0].total
    else:
        total = (session.scalar(select(func.count()).select_from(q.subquery())) or 0) if limit == 0 else 0
    ids = [r.id for r in found]
    by_id: dict[int, Contact] = {}
    for i in range(0, len(ids), 500):
        by_id.update((c.id, c) for c in session.scalars(select(Contact).where(Contact.id.in_(ids[i:i + 500]))))
    return contact_summaries(session, [by_id[r.id] for r in found]), total


def contact_summaries(session: Session, contacts: list[Contact]) -> list[dict[str, Any]]:
    """``contact_summary`` of many contacts with one query per table (not per contact)."""
    if not contacts:
        return []
    ids = [c.id for c in contacts]
    owner: dict[int, int] = {i: i for i in ids}
    for i in range(0, len(ids), 500):
        for merged, into in session.execute(select(Contact.id, Contact.merged_into_id)
                                            .where(Contact.merged_into_id.in_(ids[i:i + 500]))):
            if into is not None:
                owner[merged] = into
    addrs: dict[int, list[EmailAddress]] = {}
    tags: dict[int, list[str]] = {}
    companies: dict[int, str] = {}
    every = list(owner)
    for i in range(0, len(every), 500):
        for a in session.scalars(select(EmailAddress).where(EmailAddress.contact_id.in_(every[i:i + 500]))
                                 .order_by(EmailAddress.id)):
            addrs.setdefault(owner[a.contact_id], []).append(a)
    for i in range(0, len(ids), 500):
        for cid, name in session.execute(select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)
                                         .where(ContactTag.contact_id.in_(ids[i:i + 500]))):
            tags.setdefault(cid, []).append(name)
    company_ids = sorted({c.company_id for c in contacts if c.company_id})
    for i in range(0, len(company_ids), 500):
        companies.update(session.execute(select(Company.id, Company.name).where(Company.id.in_(company_ids[i:i + 500]))).all())
    return [_summary(c, sorted(addrs.get(c.id, []), key=lambda a: a.id), sorted(tags.get(c.id, [])),
                     companies.get(c.company_id) if c.company_id else None) for c in contacts]


def contact_summary(session: Session, c: Contact) -> dict[str, Any]:
    """A contact as a JSON-friendly dict (no timeline)."""
    addrs = contact_addresses(session, c.id)
    tags = list(session.scalars(select(Tag.name).join(ContactTag, ContactTag.tag_id == Tag.id)
                                .where(ContactTag.contact_id == c.id).order_by(Tag.name)))
    return _summary(c, addrs, tags, c.company.name if c.company else None)


def _summary(c: Contact, addrs: list[EmailAddress], tags: list[str], company: str | None) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "title": c.title,
        "company": company,
        "phones": list(c.phones or []),
        "website": c.website,
        "addresses": [{"address": a.address, "status": a.status, "reason": a.status_reason} for a in addrs],
        "tags": tags,
        "city": c.city,
        "notes": c.notes,
        "needs_new_address": c.needs_new_address,
        "status": c.status,
    }


def auth_document(auth: dict[str, Any] | None, proof: str | None) -> dict[str, Any] | None:
    """A message's sender-authentication verdicts as shown: {dkim, spf, dmarc, arc, aligned, proof, flagged}."""
    if auth is None and proof is None:
        return None
    doc: dict[str, Any] = {k: (auth or {}).get(k) for k in ("dkim", "spf", "dmarc", "arc", "aligned")}
    doc["proof"] = proof
    doc["flagged"] = proof == "none"  # stored without proof under author_auth = "mark"
    return doc


Cursor = tuple[dt.datetime, str, int]  # (at, "message" | "activity", id) of the last item a page showed


def _order(item: dict[str, Any]) -> tuple[dt.datetime, int, int]:
    """The timeline's order, newest first: time, then id, a message before an activity with both equal."""
    return item["at"], item["id"], 1 if item["type"] == "message" else 0


def cursor_of(item: dict[str, Any]) -> str:
    """The text of the keyset cursor after ``item`` (``?before=`` of the next page)."""
    return f"{item['at'].isoformat()}~{item['type'][0]}{item['id']}"


def parse_cursor(text: str) -> Cursor:
    """A cursor from ``cursor_of`` (Invalid when it is not one)."""
    try:
        at, ref = text.split("~", 1)
        kind = {"m": "message", "a": "activity"}[ref[:1]]
        return dt.datetime.fromisoformat(at).replace(tzinfo=None), kind, int(ref[1:])
    except (ValueError, KeyError) as exc:
        raise Invalid(f"not a timeline position: {text[:80]!r}") from exc


def timeline(session: Session, contact_ids: list[int], limit: int | None = None,
             before: Cursor | None = None) -> list[dict[str, Any]]:
    """Messages and activities of the given contacts, newest first; ``before``: only items older
    than that cursor (keyset pagination: page 40 costs what page 1 does, one index seek)."""
    # Plain columns: the timeline needs neither ORM objects nor the (large) facts document of
    # every message, and a busy contact has thousands of rows.
    q = (
        select(Message.id, Message.date, Message.kind, Message.direction, Participant.role, Participant.address,
               Message.subject, Message.snippet, Message.message_id, Message.status, Message.auth,
               Message.author_proof)
        .join(Participant, Participant.message_id == Message.id)
        .where(Participant.contact_id.in_(contact_ids))
        .order_by(Participant.date.desc(), Message.id.desc())
    )
    aq = (select(Activity.id, Activity.at, Activity.kind, Activity.text, Activity.due, Activity.data)
          .where(Activity.contact_id.in_(contact_ids)).order_by(Activity.at.desc(), Activity.id.desc()))
    if before is not None:
        at, kind, ident = before
        # "<= at" first: the index range; the tie on the same second is settled by id (and type).
        q = q.where(Participant.date <= at, or_(Participant.date < at, Message.id < ident))
        # An activity sorts after a message of the same time and id: after a message cursor, it is next.
        same = Activity.id <= ident if kind == "message" else Activity.id < ident
        aq = aq.where(Activity.at <= at, or_(Activity.at < at, same))
    if limit:
        q = q.limit(limit)
        aq = aq.limit(limit)
    items: list[dict[str, Any]] = []
    seen: set[int] = set()
    for mid, date, kind, direction, role, address, subject, snippet, message_id, status, auth, proof in session.execute(q):
        if mid in seen:
            continue
        seen.add(mid)
        items.append({
            "type": "message", "id": mid, "at": date, "kind": kind, "direction": direction,
            "role": role, "address": address, "subject": subject, "snippet": snippet,
            "message_id": message_id, "status": status, "auth": auth_document(auth, proof),
        })
    for aid, at, kind, text, due, data in session.execute(aq):
        items.append({"type": "activity", "id": aid, "at": at, "kind": kind, "text": text, "due": due, "data": data})
    items.sort(key=_order, reverse=True)
    return items[:limit] if limit else items


def contact_card(session: Session, address: str, limit: int | None = None, before: Cursor | None = None) -> dict[str, Any]:
    """The card of the contact owning ``address`` plus its newest ``limit`` timeline items (all for
    None; older than ``before`` when given) and ``timeline_total``, the size of the whole timeline
    (NotFound if unknown)."""
    c = find_contact(session, address)
    if c is None:
        raise NotFound(f"no contact with address {normalize_address(address)}")
    ids = [c.id] + list(session.scalars(select(Contact.id).where(Contact.merged_into_id == c.id)))
    card = contact_summary(session, c)
    card["timeline"] = timeline(session, ids, limit, before)
    card["timeline_total"] = timeline_size(session, ids) if limit else len(card["timeline"])
    return card


def timeline_size(session: Session, contact_ids: list[int]) -> int:
    """How many items the whole timeline of these contacts has (messages once, and activities)."""
    messages = session.scalar(select(func.count(func.distinct(Participant.message_id)))
                              .where(Participant.contact_id.in_(contact_ids))) or 0
    activities = session.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id.in_(contact_ids))) or 0
    return messages + activities


def last_ingested(session: Session) -> dict[str, Any] | None:
    """The most recently ingested message (for `mailcrm status`)."""
    msg = session.scalar(select(Message).order_by(Message.id.desc()).limit(1))
    if msg is None:
        return None
    return {"id": msg.id, "ingested_at": msg.ingested_at, "kind": msg.kind, "subject": msg.subject,
            "source": msg.source}


def counts(session: Session) -> dict[str, int]:
    """Row counts for status output."""
    return {
        "contacts": session.scalar(select(func.count()).select_from(Contact).where(Contact.status == "active")) or 0,
        "messages": session.scalar(select(func.count()).select_from(Message)) or 0,
        "companies": session.scalar(select(func.count()).select_from(Company).where(Company.status == "active")) or 0,
    }


def mark_inbound(session: Session, address: str, when: dt.datetime, contact: Contact | None = None) -> None:
    """Remember mail received from ``address`` (resets soft-bounce scoring, reactivates bounced).

    ``contact``: the address's contact when the caller has it; a new one still pending (not
    flushed) is searched in memory, where a query would not see it.
    """
    address = normalize_address(address)
    if contact is not None and contact.id is None:
        row = next((a for a in contact.addresses if a.address == address), None)
    else:
        row = find_address(session, address)
    if row is None:
        return
    if row.last_inbound_at is None or row.last_inbound_at < when:
        row.last_inbound_at = when
    if row.status == "bounced":
        row.status = "active"
        row.status_reason = f"reactivated: mail received {when.isoformat()}"
        row.status_changed_at = utcnow()
        contact = session.get(Contact, row.contact_id)
        if contact is not None:
            contact.needs_new_address = False
