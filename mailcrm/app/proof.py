"""Proof for a dispute: export a contact's raw messages and ledger entries, and verify such an export.

An export directory holds ``messages/*.eml`` (the bytes as received, from ``raw_messages``),
``manifest.json`` (each message's sha256, received time, envelope, the sender-authentication
verdicts stored when it was ingested and how its author was proven (``auth``; never recomputed:
DNS keys change and rotate, the verdict of the day is the evidence), what its own headers say
(``auth_headers``), and the ledger entries with their chain hashes), ``manifest.sha256``
(the manifest's own hash) and ``summary.txt`` (the same, for people).  ``verify`` recomputes
every hash; with the store at hand it also checks that each entry is still in the ledger,
unchanged, and that the whole chain is unbroken.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailcrm.app import works as work_store
from mailcrm.app.handle import Store
from mailcrm.app.outreach import family, find_work
from mailcrm.domain import outreach as rules
from mailcrm.errors import Invalid, NotFound
from mailcrm.store.db import transaction
from mailcrm.store.models import (
    Contact,
    EmailAddress,
    LedgerEntry,
    Message,
    Participant,
    RawMessage,
    Work,
    WorkSend,
    utcnow,
)
from mailcrm.store.repository import auth_document

FORMAT = "mailcrm-proof/1"
AUTH_HEADERS = ("authentication-results", "arc-authentication-results", "received-spf", "dkim-signature")


def auth_verdicts(raw: bytes) -> dict[str, list[str]]:
    """What the message's own headers say about DKIM/SPF (recorded at receipt by the receiving servers)."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    out: dict[str, list[str]] = {}
    for name in AUTH_HEADERS:
        values = [" ".join(str(v).split()) for v in headers.get_all(name) or []]
        if name == "dkim-signature":  # only who signed, not the signature itself
            values = [";".join(p.strip() for p in v.split(";") if p.strip()[:2] in ("d=", "s=", "a="))
                      for v in values]
        if values:
            out[name] = values
    return out


# How an author was proven (Message.author_proof, trust/author.py), in words for the summary.
PROOF_WORDS = {
    "source": "proven: the user's own path (IMAP sent/inbox folder or `mailcrm import`)",
    "smtp-auth": "proven: SMTP AUTH login of the user",
    "trusted-network": "proven: sent from a trusted network",
    "dkim": "proven: aligned DKIM pass",
    "spf": "proven: aligned SPF pass",
    "authentication-results": "proven: Authentication-Results of a trusted server",
    "arc": "proven: ARC chain sealed by a trusted sealer",
    "none": "NOT proven (stored flagged, author_auth = mark)",
    "unchecked": "not checked (author_auth = off)",
}


def stored_auth(m: Message) -> dict[str, Any]:
    """The verdicts stored at ingest and how the author was proven; ``proven`` says whether it was."""
    doc = auth_document(m.auth, m.author_proof) or {k: None for k in ("dkim", "spf", "dmarc", "arc", "aligned", "proof")}
    doc["flagged"] = m.author_proof == "none"
    doc["proven"] = m.author_proof not in (None, "none", "unchecked")
    doc["how"] = PROOF_WORDS.get(m.author_proof or "", "no verdict stored (ingested before sender authentication, "
                                                        "or mail that claims no user's address)")
    if m.auth:
        doc["arc_sealer"] = m.auth.get("arc_sealer")
        doc["dkim_domains"] = m.auth.get("dkim_domains") or []
    return doc


def _entry_json(e: LedgerEntry) -> dict[str, Any]:
    ce = work_store.chain_entry(e)
    return {"seq": e.seq, "content": ce.content, "prev_hash": e.prev_hash, "hash": e.hash}


def _messages_of(s: Session, contact_ids: list[int], work_ids: list[int] | None) -> list[int]:
    if work_ids is None:
        q = select(Participant.message_id).where(Participant.contact_id.in_(contact_ids)).distinct()
        return sorted(set(s.scalars(q)))
    sent = set(s.scalars(select(WorkSend.message_id).where(WorkSend.work_id.in_(work_ids),
                                                           WorkSend.contact_id.in_(contact_ids))))
    answers = set(s.scalars(select(LedgerEntry.message_id).where(
        LedgerEntry.work_id.in_(work_ids), LedgerEntry.contact_id.in_(contact_ids),
        LedgerEntry.message_id.is_not(None))))
    return sorted(sent | {a for a in answers if a is not None})


def export(store: Store, address: str, work: str | None, out_dir: Path) -> dict[str, Any]:
    """Write the proof directory for ``address`` (optionally one work); returns the manifest."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Invalid(f"--export {out_dir}: not an empty directory; give a new one")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "messages").mkdir()
    with transaction(store.factory) as s:
        ea = s.scalar(select(EmailAddress).where(EmailAddress.address == address.strip().lower()))
        if ea is None:
            raise NotFound(f"no contact with address {address!r}")
        contact = s.get(Contact, ea.contact_id)
        assert contact is not None
        contact_ids = [contact.id, *s.scalars(select(Contact.id).where(Contact.merged_into_id == contact.id))]
        w: Work | None = find_work(s, work) if work else None
        work_ids = family(s, w) if w is not None else None
        messages = []
        for mid in _messages_of(s, contact_ids, work_ids):
            m = s.get(Message, mid)
            if m is None:
                continue
            raw = s.get(RawMessage, m.sha256)
            entry: dict[str, Any] = {"message_id": m.message_id, "sha256": m.sha256, "date": m.date.isoformat(),
                                     "received": m.ingested_at.isoformat(), "kind": m.kind, "subject": m.subject,
                                     "source": m.source, "envelope": (m.facts or {}).get("envelope"),
                                     "file": None, "size": m.size, "auth": stored_auth(m)}
            if raw is not None:
                name = f"messages/{m.date:%Y%m%dT%H%M%S}_{m.sha256[:12]}.eml"
                (out_dir / name).write_bytes(raw.data)
                entry.update(file=name, size=len(raw.data), auth_headers=auth_verdicts(raw.data))
            else:
                entry["missing"] = "raw bytes not kept for this message"
            messages.append(entry)
        lq = select(LedgerEntry).where(LedgerEntry.contact_id.in_(contact_ids))
        if work_ids is not None:
            lq = lq.where(or_(LedgerEntry.work_id.in_(work_ids)))
        ledger = [_entry_json(e) for e in s.scalars(lq.order_by(LedgerEntry.seq))]
        head = s.execute(select(LedgerEntry.seq, LedgerEntry.hash).order_by(LedgerEntry.seq.desc()).limit(1)).first()
        manifest = {
            "format": FORMAT, "created": utcnow().isoformat(),
            "contact": {"name": contact.name, "address": ea.address},
            "work": {"id": w.id, "title": w.title} if w is not None else None,
            "messages": messages, "ledger": ledger,
            "chain_head": {"seq": head[0], "hash": head[1]} if head else None,
        }
    data = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    text = summary(manifest).encode("utf-8")
    (out_dir / "manifest.json").write_bytes(data)
    (out_dir / "summary.txt").write_bytes(text)
    # sha256sum's format: `sha256sum -c manifest.sha256` checks it without mailcrm.
    (out_dir / "manifest.sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  manifest.json\n"
                                             f"{hashlib.sha256(text).hexdigest()}  summary.txt\n", encoding="ascii")
    return manifest


def summary(manifest: dict[str, Any]) -> str:
    """The manifest for people: one line per message and per ledger entry."""
    c = manifest["contact"]
    lines = [f"Proof export for {c.get('name') or ''} <{c['address']}>"
             + (f", work «{manifest['work']['title']}»" if manifest.get("work") else ""),
             f"Created {manifest['created']} UTC. Check with: mailcrm proof verify DIR", "", "Messages:"]
    for m in manifest["messages"]:
        lines.append(f"  {m['date'][:16]}  {m['kind']:<9} sha256 {m['sha256']}  {m.get('file') or '(missing)'}")
        lines.append(f"      subject: {m['subject']}")
        a = m.get("auth") or {}
        if a:
            checks = " ".join(f"{k}={a.get(k)}" for k in ("dkim", "spf", "dmarc", "arc") if a.get(k) is not None)
            lines.append(f"      author: {a.get('how')}" + (f" ({checks})" if checks else ""))
        headers = "; ".join(v for vs in (m.get("auth_headers") or {}).values() for v in vs)[:200]
        if headers:
            lines.append(f"      its headers say: {headers}")
    lines += ["", "Ledger entries (seq, time, kind, hash):"]
    for e in manifest["ledger"]:
        lines.append(f"  #{e['seq']}  {e['content']['at']}  {e['content']['kind']:<10} {e['hash']}")
    return "\n".join(lines) + "\n"


def verify(out_dir: Path, store: Store | None = None) -> list[str]:
    """Every problem found in an export (and, with ``store``, against the ledger); [] when intact."""
    problems: list[str] = []
    mpath = out_dir / "manifest.json"
    if not mpath.is_file():
        return [f"{mpath}: missing"]
    data = mpath.read_bytes()
    sums_path = out_dir / "manifest.sha256"
    sums: dict[str, str] = {}
    if sums_path.is_file():
        for line in sums_path.read_text(encoding="ascii", errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            sums[name.strip()] = digest.strip()
    for name in ("manifest.json", "summary.txt"):
        path = out_dir / name
        actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        if sums.get(name) != actual:
            problems.append(f"{name}: changed (its sha256 does not match manifest.sha256)")
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        return [*problems, f"manifest.json: not JSON ({exc})"]
    listed = set()
    for m in manifest.get("messages", []):
        name = m.get("file")
        if not name:
            continue
        listed.add(name)
        path = out_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != m.get("sha256"):
            problems.append(f"{name}: changed (sha256 differs from the manifest)")
    for path in sorted((out_dir / "messages").glob("*")) if (out_dir / "messages").is_dir() else []:
        if f"messages/{path.name}" not in listed:
            problems.append(f"messages/{path.name}: not in the manifest")
    entries = [rules.ChainEntry(int(e["seq"]), e["content"], e["prev_hash"], e["hash"])
               for e in manifest.get("ledger", [])]
    problems += rules.verify_chain(entries, complete=False)
    if store is not None:
        with transaction(store.factory) as s:
            for e in entries:
                row = s.scalar(select(LedgerEntry).where(LedgerEntry.seq == e.seq))
                if row is None:
                    problems.append(f"ledger entry {e.seq}: no longer in the store")
                elif row.hash != e.hash:
                    problems.append(f"ledger entry {e.seq}: differs from the store")
            problems += [f"store ledger: {p}" for p in work_store.verify_ledger(s)]
    return problems


def verify_store(store: Store) -> list[str]:
    """Walk the whole stored ledger chain."""
    with transaction(store.factory) as s:
        return work_store.verify_ledger(s)


def raw_size(s: Session) -> dict[str, int]:
    """Raw mail kept: distinct blobs and their bytes (for `status`)."""
    from sqlalchemy import func

    n, total = s.execute(select(func.count(), func.coalesce(func.sum(RawMessage.size), 0))).one()
    return {"raw_messages": int(n), "raw_bytes": int(total)}
