"""The use cases the skins call (CLI today, web next): each one function, each one transaction.

A skin parses its input, calls one function here with an opened ``Store`` and renders the plain
data it returns.  Refusals are ``errors.Refused`` subclasses (``NotFound``, ``Invalid``) whose
message is one line; the skin decides how to show it.  The steps these compose (deals,
activities, contacts, companies, bounces) take a session and never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcrm.app import activities, companies, contacts, deals
from mailcrm.app.contact_refs import contact_card_ref, find_contact_ref
from mailcrm.app.handle import Store
from mailcrm.config import Config, UserConfig
from mailcrm.domain.special_dates import DateSpec
from mailcrm.errors import Invalid, NotFound
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.store import repository
from mailcrm.store.db import transaction
from mailcrm.store.models import Company, Contact, ContactTag, EmailAddress, Message, RawMessage, Tag, User

if TYPE_CHECKING:

    from mailcrm.digest.render import Rendered
    from mailcrm.digest.rules import Digest
    from mailcrm.transfer.export import ExportContact


# -- users -------------------------------------------------------------------------------------
def sync_users(store: Store, cfg: Config) -> dict[str, int]:
    """Make the store's user rows match the config; returns email -> user id."""
    with transaction(store.factory) as s:
        return repository.sync_users(s, cfg)


def _user_id(s: Session, cfg: Config) -> int | None:
    """The acting user's id (the first configured user), creating the row if needed."""
    if not cfg.users:
        return None
    uid = s.scalar(select(User.id).where(User.email == cfg.users[0].email))
    if uid is None:
        uid = repository.sync_users(s, cfg).get(cfg.users[0].email)
    return uid


# -- contacts and companies ----------------------------------------------------------------------
def list_contacts(store: Store, search: str | None, limit: int | None,
                  region: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Contacts matching ``search`` (all without one), at most ``limit``, and how many match in all.

    ``region``: the phone region a phone-number query without a country code is read in.
    """
    with transaction(store.factory) as s:
        return repository.list_contacts(s, search, limit, region)


def contact_card(store: Store, address: str, limit: int | None, region: str = DEFAULT_PHONE_REGION,
                 before: str | None = None) -> dict[str, Any]:
    """A contact's card and timeline, newest first (``address`` may be a phone number, read in ``region``);
    ``before``: a page's keyset cursor (``repository.cursor_of`` of the last item shown), for the items older than it."""
    from mailcrm.app.outreach import works_of_contacts

    cursor = repository.parse_cursor(before) if before else None
    with transaction(store.factory) as s:
        card = contact_card_ref(s, address, limit, region, before=cursor)  # by address or phone
        ids = [card["id"], *s.scalars(select(Contact.id).where(Contact.merged_into_id == card["id"]))]
        card["works"] = works_of_contacts(s, ids)  # what they received, with answers (issue 22)
        card["dates"] = activities.dates_of_contacts(s, ids)
        contact = s.get(Contact, card["id"])
        card["edited"] = sorted(contact.user_fields or []) if contact is not None else []  # typed, not learned
        return card


def raw_message(store: Store, message_id: int) -> bytes:
    """The bytes of a stored message as received (the evidence a dispute is settled with)."""
    with transaction(store.factory) as s:
        message = s.get(Message, message_id)
        raw = s.get(RawMessage, message.sha256) if message is not None and message.sha256 else None
        if raw is None:
            raise NotFound(f"no stored message #{message_id}")
        return bytes(raw.data)


def timeline_cursor(item: dict[str, Any]) -> str:
    """The keyset cursor after a timeline item (``contact_card(..., before=)`` of the next page)."""
    return repository.cursor_of(item)


def edit_contact(store: Store, address: str, *, name: str | None, title: str | None, company: str | None,
                 phones: list[str] | None, region: str) -> dict[str, Any]:
    """Set typed fields of a contact (never overwritten by parsed signatures later)."""
    with transaction(store.factory) as s:
        return contacts.edit_contact(s, address, name=name, title=title, company=company, phones=phones,
                                     region=region)


def merge_contacts(store: Store, keep: str, drop: str) -> dict[str, Any]:
    """Merge the contact of ``drop`` into the contact of ``keep``."""
    with transaction(store.factory) as s:
        return contacts.merge_contacts(s, keep, drop)


def list_companies(store: Store) -> list[dict[str, Any]]:
    """Every company with its people count."""
    with transaction(store.factory) as s:
        return companies.list_companies(s)


def list_suggestions(store: Store) -> list[dict[str, Any]]:
    """Grouping suggestions waiting for a decision."""
    with transaction(store.factory) as s:
        return companies.list_suggestions(s)


def decide_suggestion(store: Store, suggestion_id: int, accept: bool) -> dict[str, Any]:
    """Accept (apply) or reject a grouping suggestion."""
    with transaction(store.factory) as s:
        return companies.decide_suggestion(s, suggestion_id, accept=accept)


def company_card(store: Store, name: str, limit: int | None = None) -> dict[str, Any]:
    """A company's people and combined timeline (newest first; at most ``limit`` items)."""
    from mailcrm.app.outreach import works_of_contacts

    with transaction(store.factory) as s:
        card = companies.company_card(s, name, limit)
        card["works"] = works_of_contacts(s, [p["id"] for p in card["people"]])  # anyone there received (issue 22)
        return card


# -- bounces -------------------------------------------------------------------------------------
def list_bounces(store: Store, since: dt.datetime) -> list[dict[str, Any]]:
    """Bounces recorded since ``since`` (naive UTC)."""
    from mailcrm.app import bounces  # its parsers cost `show` and `contacts` 50 ms to load

    with transaction(store.factory) as s:
        return bounces.list_bounces(s, since)


def reactivate_address(store: Store, address: str) -> dict[str, Any]:
    """Mark a bounced address active again."""
    from mailcrm.app import bounces  # its parsers cost `show` and `contacts` 50 ms to load

    with transaction(store.factory) as s:
        return bounces.reactivate(s, address)


def confirm_bounced(store: Store, address: str) -> dict[str, Any]:
    """Mark an address dead on the user's word (a suspect one, typically)."""
    from mailcrm.app import bounces  # its parsers cost `show` and `contacts` 50 ms to load

    with transaction(store.factory) as s:
        return bounces.confirm_bounced(s, address)


# -- deals ---------------------------------------------------------------------------------------
def check_stage(cfg: Config, stage: str) -> str:
    """``stage`` if the config knows it; refuses it otherwise."""
    known = list(dict.fromkeys([*cfg.cadence.stages, *cfg.cadence.closed_stages]))
    if stage not in known:
        raise Invalid(f"unknown stage {stage!r}; stages: {', '.join(known)} (see [cadence.stages])")
    return stage


def add_deal(store: Store, cfg: Config, title: str, people: list[str], *, stage: str | None, company: str | None,
             amount: str | None, currency: str | None) -> dict[str, Any]:
    """Open a deal with ``people`` (addresses; unknown ones become contacts)."""
    st = check_stage(cfg, stage or cfg.cadence.default_stage)
    value = deals.parse_amount(amount)
    with transaction(store.factory) as s:
        ids = [deals.contact_for(s, a, region=cfg.phone_region()).id for a in people]
        deal = deals.create_deal(s, title=title, contact_ids=ids, stage=st, user_id=_user_id(s, cfg),
                                 company=company, amount=value,
                                 currency=currency or ("RUB" if value is not None else None))
        return deals.deal_summary(s, deal)


def move_deal(store: Store, deal_id: int, stage: str, lost_reason: str | None = None) -> dict[str, Any]:
    """Move a deal to ``stage`` (won and lost close it); the history is kept."""
    with transaction(store.factory) as s:
        return deals.deal_summary(s, deals.move_deal(s, deal_id, stage, lost_reason=lost_reason))


def reopen_deal(store: Store, deal_id: int, stage: str | None) -> dict[str, Any]:
    """Reopen a won or lost deal (into ``stage``, or the one it closed from)."""
    with transaction(store.factory) as s:
        return deals.deal_summary(s, deals.reopen_deal(s, deal_id, stage))


def list_deals(store: Store, stage: str | None, status: str | None) -> list[dict[str, Any]]:
    """Deals, newest first, optionally of one stage or status."""
    with transaction(store.factory) as s:
        return deals.list_deals(s, stage, status)


def deal_card(store: Store, deal_id: int) -> dict[str, Any]:
    """A deal: people, stage history, timeline."""
    with transaction(store.factory) as s:
        return deals.deal_card(s, deal_id)


# -- activities, tags, special dates -------------------------------------------------------------
def log_call(store: Store, cfg: Config, address: str, note: str | None, when: dt.datetime | None) -> dict[str, Any]:
    """Log a call with ``address`` (a contact is created for an unknown one: a lead can come by phone)."""
    with transaction(store.factory) as s:
        new = find_contact_ref(s, address, cfg.phone_region()) is None  # an address or a phone
        act = activities.log_call(s, address, note=note, when=when, user_id=_user_id(s, cfg), region=cfg.phone_region())
        return {"id": act.id, "contact_id": act.contact_id, "deal_id": act.deal_id, "at": act.at, "text": act.text,
                "new_contact": new}


def add_note(store: Store, cfg: Config, address: str, text: str) -> dict[str, Any]:
    """Add a note to a contact's timeline (creating the contact if needed)."""
    with transaction(store.factory) as s:
        new = find_contact_ref(s, address, cfg.phone_region()) is None  # an address or a phone
        act = activities.add_note(s, address, text, user_id=_user_id(s, cfg), region=cfg.phone_region())
        return {"id": act.id, "contact_id": act.contact_id, "at": act.at, "text": act.text, "new_contact": new}


def tag_contact(store: Store, address: str, tags: list[str], region: str = DEFAULT_PHONE_REGION) -> dict[str, Any]:
    """Add tags to a contact (creating the contact if needed); a phone number is read in ``region``."""
    with transaction(store.factory) as s:
        new = find_contact_ref(s, address, region) is None  # an address or a phone
        return {"address": address, "tags": activities.tag_contact(s, address, tags, region), "new_contact": new}


def untag_contact(store: Store, address: str, tags: list[str], region: str = DEFAULT_PHONE_REGION) -> dict[str, Any]:
    """Remove tags from a known contact."""
    with transaction(store.factory) as s:
        return {"address": address, "tags": activities.untag_contact(s, address, tags, region)}


def add_special_date(store: Store, label: str, spec: DateSpec, *, address: str | None,
                     tag: str | None, region: str = DEFAULT_PHONE_REGION) -> dict[str, Any]:
    """Remember a yearly date for a contact or for everyone with a tag."""
    with transaction(store.factory) as s:
        row = activities.add_special_date(s, label, spec, address=address, tag=tag, region=region)
        return {"id": row.id, "label": row.label, "month": row.month, "day": row.day, "year": row.year,
                "rule": row.rule, "contact_id": row.contact_id, "tag": s.get(Tag, row.tag_id).name if row.tag_id else None}  # type: ignore[union-attr]


def list_special_dates(store: Store) -> list[dict[str, Any]]:
    """Every special date with its contact or tag."""
    with transaction(store.factory) as s:
        return activities.list_special_dates(s)


# -- status --------------------------------------------------------------------------------------
def status(store: Store, cfg: Config) -> dict[str, Any]:
    """What the store says about the installation: last message, counts, sources, digests."""
    from mailcrm.store.models import DigestRun, SourceState

    sources: list[dict[str, Any]] = []
    digests: list[dict[str, Any]] = []
    with transaction(store.factory) as s:
        last = repository.last_ingested(s)
        counts = repository.counts(s)
        from mailcrm.app.proof import raw_size

        counts.update(raw_size(s))  # raw mail kept, content-addressed (issue 22)
        from mailcrm.app.answer_outbox import waiting

        counts["answers_waiting"] = waiting(s)  # answers by mail the relay has not taken yet
        for row in s.scalars(select(SourceState).order_by(SourceState.name)):
            sources.append({"name": row.name, "ok_at": row.ok_at, "error": row.error, "error_at": row.error_at,
                            "uidvalidity": row.uidvalidity, "last_uid": row.last_uid, "state": row.state})
        for u in cfg.users:
            run = s.scalars(select(DigestRun).join(User, User.id == DigestRun.user_id).where(User.email == u.email)
                            .order_by(DigestRun.local_date.desc(), DigestRun.id.desc()).limit(1)).first()
            digests.append({"user": u.email, "digest_time": u.digest_time, "timezone": u.timezone,
                            "last_date": run.local_date if run else None, "last_status": run.status if run else None,
                            "sent_at": run.sent_at if run else None, "error": run.error if run else None})
    return {"last_message": last, "counts": counts, "sources": sources, "digests": digests}


# -- digest --------------------------------------------------------------------------------------
def preview_digest(store: Store, cfg: Config, user: UserConfig, day: dt.date) -> tuple[Digest, Rendered]:
    """The digest ``user`` would get on ``day`` (read only; nothing is recorded)."""
    from mailcrm.digest.compose import make_digest

    with transaction(store.factory) as s:
        return make_digest(s, cfg, user, day)


TODAY_KINDS = ("deal", "follow_up", "contact")


def act_on_today_line(store: Store, cfg: Config, user: UserConfig, kind: str, ref: int, action: str,
                      days: int = 1, now: dt.datetime | None = None) -> dict[str, Any]:
    """"done" (logs a call; a follow-up is closed) or "snooze N days" on a line of the Today page.

    The same step as a digest reply's "3 done" / "3 snooze 2d" (``digest_replies.act_on_line``).
    """
    from zoneinfo import ZoneInfo

    from mailcrm.app.digest_replies import act_on_line
    from mailcrm.errors import NotFound
    from mailcrm.parse.digest_commands import LineCommand
    from mailcrm.store.models import Deal, FollowUp, utcnow

    if kind not in TODAY_KINDS:
        raise Invalid(f"unknown line kind {kind!r}; expected one of {', '.join(TODAY_KINDS)}")
    if action not in ("done", "snooze"):
        raise Invalid(f"unknown action {action!r}; expected done or snooze")
    if action == "snooze" and not 1 <= days <= 365:
        raise Invalid("snooze for 1 to 365 days")
    now = now or utcnow()
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(user.timezone)).date()
    command = LineCommand(0, "done" if action == "done" else "snooze", text="done (Today page)" if action == "done" else "",
                          until=today + dt.timedelta(days=days) if action == "snooze" else None)
    with transaction(store.factory) as s:
        model = {"deal": Deal, "follow_up": FollowUp, "contact": Contact}[kind]
        if s.get(model, ref) is None:
            raise NotFound(f"no {kind.replace('_', '-')} {ref}")
        uid = s.scalar(select(User.id).where(User.email == user.email))
        text = act_on_line(s, uid, {"web": "today", "day": today.isoformat()}, kind, ref, command, now)
        return {"kind": kind, "ref": ref, "action": action, "text": text}


# -- exports -------------------------------------------------------------------------------------
def export_rows(store: Store, tag: str | None = None, include_bounced: bool = False) -> list["ExportContact"]:
    """Active contacts (optionally with ``tag``) and their exportable addresses."""
    from mailcrm.transfer.export import ExportContact  # name parsing: loaded by exports only

    statuses = None if include_bounced else ("active",)
    with transaction(store.factory) as s:
        q = select(Contact).where(Contact.status == "active").order_by(Contact.name, Contact.id)
        if tag:
            tag_row = activities.carried_tag(s, tag)
            q = q.join(ContactTag, ContactTag.contact_id == Contact.id).where(ContactTag.tag_id == tag_row.id)
        contacts = list(s.scalars(q).unique())
        ids = [c.id for c in contacts]
        emails: dict[int, list[str]] = {}
        address_status: dict[int, list[str]] = {}
        tags: dict[int, list[str]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            eq = select(EmailAddress).where(EmailAddress.contact_id.in_(chunk)).order_by(EmailAddress.id)
            if statuses:
                eq = eq.where(EmailAddress.status.in_(statuses))
            for a in s.scalars(eq):
                emails.setdefault(a.contact_id, []).append(a.address)
                address_status.setdefault(a.contact_id, []).append(a.status or "active")
            tq = (select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)
                  .where(ContactTag.contact_id.in_(chunk)).order_by(Tag.name))
            for cid, name in s.execute(tq):
                tags.setdefault(cid, []).append(name)
        companies = {c.id: c.name for c in s.scalars(select(Company))}
        return [
            ExportContact(c.id, c.name, companies.get(c.company_id) if c.company_id else None, c.title,
                          list(c.phones or []), c.city, c.website, c.notes, emails[c.id], tags.get(c.id, []),
                          address_status[c.id])
            for c in contacts if emails.get(c.id)
        ]
