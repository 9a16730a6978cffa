"""Mail to a command sub-address of the dropbox (issue 27): ``+pending``, ``+cancel``, ``+find``, ``+outreach``,
help for unknown words.

Runs in the ingest transaction (``apply.stage_digest_reply``), like digest replies.  Only the user
owning the dropbox may ask (the trust issue's sender proof will tighten this; until it lands: the
user's address and the dropbox secret).  A query mail (``+pending``, ``+cancel``, ``+find``, ``+outreach``) is answered and
not recorded as history; a mail BCC'd to an unknown word is recorded as usual and answered with the
help text, never dropped silently.  Answers go out through ``digest/answers.py`` after the commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcrm.app import deals as deal_store
from mailcrm.app import outreach as works
from mailcrm.app.digest_replies import ReplyOutcome, may_answer, record_outcome
from mailcrm.config import Config, UserConfig
from mailcrm.errors import NotFound
from mailcrm.parse.facts import MessageFacts
from mailcrm.parse.subaddress import Command, Unknown, classify, help_text, subaddress_of
from mailcrm.store import repository
from mailcrm.store.models import FollowUp, Message, Participant, User


def addressed_word(cfg: Config, recipients: Iterable[str]) -> tuple[UserConfig, str, str] | None:
    """The first recipient that is a dropbox sub-address: its user, the word and the address."""
    for rcpt in recipients:
        for user in cfg.users:
            word = subaddress_of(rcpt, user.dropbox)
            if word:
                return user, word, rcpt
    return None


def handle_mail(session: Session, cfg: Config, rcpt_tos: list[str], facts: MessageFacts,
                now: dt.datetime) -> ReplyOutcome | None:
    """Handle a mail to ``+pending``/``+cancel``/an unknown word; None when it is none of these."""
    found = addressed_word(cfg, [*rcpt_tos, *(a.address for a in (*facts.to, *facts.cc))])
    if found is None:
        return None
    user, word, address = found
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(user.timezone)).date()
    parsed = classify(word, today)
    kind: str
    if isinstance(parsed, Command) and parsed.kind in ("pending", "cancel", "find", "outreach"):
        kind = parsed.kind
    elif isinstance(parsed, Unknown):
        kind = "help"
    else:
        return None  # dates (follow-ups), +deal, +digest, and commands not built yet: handled elsewhere
    sender = facts.from_.address.lower() if facts.from_ else ""
    names = ("auto-submitted", "list-id", "list-unsubscribe", "list-post", "precedence", "x-autoreply",
             "x-autorespond", "x-auto-response-suppress")
    headers = {n: v for n in names if (v := facts.header(n)) is not None}
    from mailcrm.parse.digest_commands import automated_reason  # loaded with the first command mail

    automated = automated_reason(headers, sender, "") or (
        "auto-reply or bounce" if facts.autoreply is not None or facts.kind == "bounce" else None)
    own = {cfg.digest.from_address.lower(), *(u.dropbox.lower() for u in cfg.users)}
    if automated or sender in own:
        return ReplyOutcome("ignored", automated or "mailcrm's own mail") if kind != "help" else None
    if cfg.user_for_address(sender) is not user or sender == "":
        if kind == "help":
            return None  # the usual author checks of ingest decide about this mail
        return ReplyOutcome("refused", f"{address} asked by {sender or 'nobody'}, not by the dropbox's user")
    key = f"{facts.identity}:{kind}"
    uid = session.scalar(select(User.id).where(User.email == user.email))
    language = user.language
    if kind == "help":
        text = help_text(address, parsed.reason if isinstance(parsed, Unknown) else "", language)
        status = "help"
    elif kind == "pending":
        text, status = _pending(session, uid, language), "applied"
    elif kind == "find":
        text, status = _find(session, _bare(facts.subject or ""), language, user.phone_region), "applied"
    elif kind == "outreach":
        text = _outreach(session, _title(facts.subject or ""), language, ZoneInfo(user.timezone), address)
        status = "applied"
    else:
        text, status = _cancel(session, uid, facts, now, language), "applied"
    out = ReplyOutcome(status, language=language, text=text)
    out.answer_to = user.email if may_answer(session, uid, now) else None
    if not record_outcome(session, key, uid, None, out, now):
        return ReplyOutcome("duplicate") if kind != "help" else None
    return out


def _pending(session: Session, uid: int | None, language: str) -> str:
    rows = session.execute(select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id).where(
        FollowUp.user_id == uid, FollowUp.status == "waiting").order_by(FollowUp.due, FollowUp.id)).all()
    ru = language == "ru"
    if not rows:
        return ("Ожидающих напоминаний нет.\n" if ru else "No follow-ups waiting.\n")
    lines = ["Ожидают напоминания:" if ru else "Follow-ups waiting:"]
    for fu, msg in rows:
        to = session.scalars(select(Participant.address).where(
            Participant.message_id == msg.id, Participant.role.in_(("to", "cc")))).all()
        flag = (" (всё равно)" if ru else " (regardless)") if fu.always else ""
        lines.append(f"{fu.due.isoformat()}{flag}: \"{msg.subject}\" {msg.date:%Y-%m-%d} -> {', '.join(sorted(set(to)))}")
    return "\n".join(lines) + "\n"


def _cancel(session: Session, uid: int | None, facts: MessageFacts, now: dt.datetime, language: str) -> str:
    """Cancel the follow-ups of the forwarded mail's thread (by Message-ID, References or thread)."""
    ids = {i for i in (facts.in_reply_to, *facts.references) if i}
    subjects: set[str] = set()
    fwd = facts.forwarded
    if fwd is not None:
        if fwd.message_id:
            ids.add(fwd.message_id)
        if fwd.subject:  # a forward quoted inline names no Message-ID: its subject and people do
            subjects.add(_bare(fwd.subject))
    matches = [fu for fu, msg in session.execute(
        select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id).where(
            FollowUp.user_id == uid, FollowUp.status == "waiting")).all()
        if msg.message_id in ids or msg.thread_key == facts.thread_key or _bare(msg.subject) in subjects]
    for fu in matches:
        fu.status, fu.cancelled_at = "cancelled", now
    ru = language == "ru"
    if not matches:
        return ("Напоминаний для этой переписки не нашлось.\n" if ru else "No follow-up found for this thread.\n")
    return (f"Отменено напоминаний: {len(matches)}.\n" if ru else f"Cancelled {len(matches)} follow-up(s).\n")


FIND_CARDS = 3  # cards answered in full; more matches are listed to narrow down
FIND_LIST = 20
TIMELINE_ITEMS = 10


def _find(session: Session, query: str, language: str, region: str | None) -> str:
    """The cards matching ``query`` (name, address, company, phone or tag), or a list to narrow down."""
    ru = language == "ru"
    if len(query.strip()) < 2:
        return ("Напишите в теме имя, адрес, компанию, телефон или тег.\n" if ru
                else "Put a name, address, company, phone or tag in the subject.\n")
    found, total = repository.list_contacts(session, query, FIND_LIST, region)
    if not found:
        return (f"По запросу «{query}» ничего не нашлось.\n" if ru else f"Nothing matches \"{query}\".\n")
    if total > FIND_CARDS:
        head = (f"По запросу «{query}» найдено {total}; уточните (добавьте компанию или адрес):" if ru
                else f"{total} contacts match \"{query}\"; narrow it down (add a company or an address):")
        rows = [head] + [f"- {c['name'] or '-'} <{', '.join(a['address'] for a in c['addresses'])}>"
                         f"{', ' + c['company'] if c['company'] else ''}" for c in found]
        if total > len(found):
            rows.append(f"… ещё {total - len(found)}" if ru else f"… and {total - len(found)} more")
        return "\n".join(rows) + "\n"
    return "\n\n".join(_card(session, c, ru) for c in found) + "\n"


def _card(session: Session, c: dict[str, Any], ru: bool) -> str:
    rows = [f"{c['name'] or '-'}" + (f", {c['title']}" if c["title"] else "") + (f", {c['company']}" if c["company"] else "")]
    for a in c["addresses"]:
        rows.append(f"  {a['address']} ({a['status']})")
    if c["phones"]:
        rows.append(("  тел.: " if ru else "  phone: ") + ", ".join(c["phones"]))
    if c["tags"]:
        rows.append(("  теги: " if ru else "  tags: ") + ", ".join(c["tags"]))
    for deal_id in deal_store.open_deals_of_contact(session, c["id"]):
        deal = deal_store.get_deal(session, deal_id)
        rows.append(("  сделка: " if ru else "  deal: ") + f"#{deal.id} {deal.title} ({deal.stage})")
    items = repository.timeline(session, [c["id"]], TIMELINE_ITEMS)
    if items:
        rows.append("  последнее:" if ru else "  latest:")
    for i in items:
        when = f"{i['at']:%Y-%m-%d}"
        if i["type"] == "message":
            arrow = "→" if i["direction"] == "out" else "←"
            rows.append(f"  {when} {arrow} \"{i['subject']}\"")
        else:
            rows.append(f"  {when} {i['kind']}: {i['text']}")
    return "\n".join(rows)


OUTREACH_LIST = 30  # people listed per section of the +outreach answer; the rest are counted
ANSWER_WORDS = {
    "ru": {"none": "нет ответа", "replied": "ответили", "declined": "отказ", "interested": "интерес",
           "deal": "сделка"},
    "en": {"none": "no answer", "replied": "replied", "declined": "declined", "interested": "interested",
           "deal": "deal"},
}


def _outreach(session: Session, title: str, language: str, tz: ZoneInfo, address: str) -> str:
    """The outreach list of the work named ``title`` (app/outreach.py's use case), or the closest titles."""
    ru = language == "ru"
    how = (f"Чтобы спросить, пришлите письмо на {address} с названием произведения в теме (как в `mailcrm works`)."
           if ru else f"To ask, mail {address} with the work's title as the subject (as `mailcrm works` lists it).")
    if len(title) < 2:
        return ("В теме нет названия произведения.\n" if ru else "The subject names no work.\n") + how + "\n"
    try:
        r = works.outreach_in(session, title)
    except NotFound:
        close = works.closest_titles(session, title)
        if close:
            head = (f"Произведение «{title}» не найдено. Может быть, одно из этих:" if ru
                    else f"No work \"{title}\". Did you mean one of these?")
        else:
            close = works.recent_titles(session)
            if ru:
                head = f"Произведение «{title}» не найдено." + (
                    " Последние произведения:" if close else " mailcrm ещё не видел ни одного произведения.")
            else:
                head = f"No work \"{title}\"." + (" The latest works:" if close else " mailcrm has seen no work yet.")
        return "\n".join([head, *(f"- {t}" for t in close), "", how]) + "\n"
    words = ANSWER_WORDS["ru" if ru else "en"]

    def day(value: dt.datetime | None) -> str:
        return value.replace(tzinfo=dt.timezone.utc).astimezone(tz).date().isoformat() if value else ""

    sent, not_sent = r["sent"], r["not_sent"]
    answered = sum(1 for x in sent if x["answer"] != "none")
    title = r["work"]["title"]
    lines = [(f"«{title}»: получили {len(sent)}, ответили {answered}, ещё не получали {len(not_sent)}." if ru
              else f"\"{title}\": sent to {len(sent)}, {answered} answered, {len(not_sent)} not sent yet."), ""]
    if sent:
        lines.append("Получили (последняя отправка, ответ):" if ru else "Sent to (last sent, answer):")
    for x in sent[:OUTREACH_LIST]:
        who = f"{x['name'] or '-'} <{x['address'] or '-'}>" + (f", {x['company']}" if x["company"] else "")
        answer = words.get(x["answer"], x["answer"]) + (f" {day(x['answer_at'])}" if x["answer_at"] else "")
        times = (f", {x['times']} раз(а)" if ru else f", {x['times']} times") if x["times"] > 1 else ""
        dead = (" (адрес не работает)" if ru else " (bounced)") if x["bounced"] else ""
        lines.append(f"- {day(x['last_sent'])} {who}{times}: {answer}{dead}")
    if len(sent) > OUTREACH_LIST:
        lines.append(f"… ещё {len(sent) - OUTREACH_LIST}" if ru else f"… and {len(sent) - OUTREACH_LIST} more")
    if not_sent:
        lines += ["", "Ещё не получали:" if ru else "Not sent yet:"]
        for x in not_sent[:OUTREACH_LIST]:
            lines.append(f"- {x['name'] or '-'} <{x['address']}>" + (f", {x['company']}" if x["company"] else ""))
        if len(not_sent) > OUTREACH_LIST:
            more = len(not_sent) - OUTREACH_LIST
            lines.append(f"… ещё {more}" if ru else f"… and {more} more")
    return "\n".join(lines) + "\n"


def _title(subject: str) -> str:
    """The work's title as written in the subject: Re:/Fwd: and quotes taken off, case kept."""
    text = re.sub(r"^(\s*(re|fwd?|aw|wg|отв|пересл|ответ)\s*(\[\d+\])?\s*:\s*)+", "", subject, flags=re.I)
    return text.strip().strip("«»\"'“”„ ").strip()


def _bare(subject: str) -> str:
    """A subject without Re:/Fwd:/Fw:/Отв:/Пересл: prefixes, case-folded."""
    return re.sub(r"^(\s*(re|fwd?|aw|wg|отв|пересл|ответ)\s*(\[\d+\])?\s*:\s*)+", "", subject, flags=re.I).strip().casefold()
