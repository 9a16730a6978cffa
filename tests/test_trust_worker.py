"""The author check in the worker (SQLite and PostgreSQL): the sidecar's evidence and the
verifier's verdict (DNS from a loopback stub) decide; the user's own paths need no proof."""

from __future__ import annotations

from pathlib import Path

import pytest
from dns_stub import DnsStub, dns_stub  # noqa: F401 - the fixture
from sqlalchemy import select

from mailcrm import config
from mailcrm.ingest.parse_pool import ParsePool
from mailcrm.ingest.worker import Worker
from mailcrm.outcomes import Outcome
from mailcrm.spool import Spool, SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import EmailAddress, Message


def cfg_text(stub: DnsStub, policy: str = "require") -> str:
    return (f'[security]\nauthor_auth = "{policy}"\ntrusted_networks = []\ntrusted_authserv_ids = ["mx.example.org"]\n'
            f'dns_server = "{stub.address}"\ndns_timeout = 0.5\n'
            '[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\n')


def mail(mid: str, to: str, headers: str = "") -> bytes:
    return (f"{headers}From: Me <me@example.org>\r\nTo: {to}\r\nSubject: About the play\r\n"
            f"Date: Tue, 03 Nov 2026 09:00:00 +0000\r\nMessage-ID: <{mid}>\r\n\r\nHello\r\n").encode()


AR_TRUSTED = ("Authentication-Results: mx.example.org; dkim=pass header.d=example.org;\r\n"
              " spf=pass smtp.mailfrom=me@example.org; dmarc=pass header.from=example.org\r\n")
AR_OTHER = "Authentication-Results: mx.attacker.example; dmarc=pass header.from=example.org\r\n"
IMAP_DROPBOX = dict(source="imap:work", role="dropbox", evidence={"imap": "work"})


@pytest.fixture
def make_worker(store, tmp_path: Path, dns_stub: DnsStub):  # type: ignore[no-untyped-def]  # noqa: F811
    engine, factory = store

    def build(policy: str = "require") -> Worker:
        cfg = config.parse(cfg_text(dns_stub, policy), "test")
        with db.transaction(factory) as s:
            repository.sync_users(s, cfg)
        return Worker(cfg, factory, Spool(tmp_path / f"spool-{policy}"), ParsePool(0))

    return build, factory


def run(w: Worker, raw: bytes, meta: SpoolMeta) -> Outcome:
    item_id = w.spool.put(raw, meta)
    [item] = w.spool.claim(limit=1)
    assert item.id == item_id
    return w.process_batch([item])[item_id]


def proof_of(factory, mid: str) -> tuple[str | None, dict | None]:  # type: ignore[no-untyped-def,type-arg]
    with factory() as s:
        row = s.execute(select(Message.author_proof, Message.auth).where(Message.message_id == mid)).one()
        return row[0], row[1]


def known(factory, address: str) -> bool:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(EmailAddress.id).where(EmailAddress.address == address)) is not None


def test_imap_dropbox_with_trusted_authentication_results(make_worker) -> None:  # type: ignore[no-untyped-def]
    build, factory = make_worker
    w = build()
    # No DKIM signature and no SMTP client to check SPF against: only the user's MX vouches for it.
    assert run(w, mail("ar-1@example.org", "ivan@theatre.example", AR_TRUSTED), SpoolMeta(**IMAP_DROPBOX)) \
        == Outcome.STORED
    proof, auth = proof_of(factory, "ar-1@example.org")
    assert proof == "authentication-results" and auth is not None and auth["authres"] == "pass"
    assert known(factory, "ivan@theatre.example")
    # The same claim from an authserv-id nobody trusts is what the sender wrote: quarantined.
    assert run(w, mail("ar-2@example.org", "olga@film.example", AR_OTHER), SpoolMeta(**IMAP_DROPBOX)) \
        == Outcome.QUARANTINED
    [q] = list(w.spool.quarantined())
    assert "unauthenticated_author" in (q.meta.reason or "")
    assert not known(factory, "olga@film.example")


def test_a_trusted_header_below_a_forged_one_does_not_count(make_worker) -> None:  # type: ignore[no-untyped-def]
    build, factory = make_worker
    w = build()
    forged_first = ("Authentication-Results: mx.example.org; dmarc=fail header.from=example.org\r\n" + AR_TRUSTED)
    assert run(w, mail("ar-3@example.org", "ivan@theatre.example", forged_first), SpoolMeta(**IMAP_DROPBOX)) \
        == Outcome.QUARANTINED


def test_the_users_own_paths_are_proof_by_themselves(make_worker) -> None:  # type: ignore[no-untyped-def]
    build, factory = make_worker
    w = build()
    assert run(w, mail("sent-1@example.org", "ivan@theatre.example"),
               SpoolMeta(source="imap:work", role="sent", source_ref={"create_contacts": True})) == Outcome.STORED
    assert proof_of(factory, "sent-1@example.org")[0] == "source"
    assert run(w, mail("imp-1@example.org", "olga@film.example"),
               SpoolMeta(source="import:mbox", role="dropbox")) == Outcome.STORED
    assert proof_of(factory, "imp-1@example.org") == ("source", None)  # no DNS for the user's own history


def test_smtp_evidence_auth_and_untrusted_peer(make_worker) -> None:  # type: ignore[no-untyped-def]
    build, factory = make_worker
    w = build()
    ev = {"client_ip": "198.51.100.7", "helo": "laptop", "authenticated": True, "trusted_network": False}
    assert run(w, mail("auth-1@example.org", "ivan@theatre.example"),
               SpoolMeta(source="smtp", mail_from="me@example.org", evidence=ev)) == Outcome.STORED
    assert proof_of(factory, "auth-1@example.org")[0] == "smtp-auth"
    ev = {**ev, "authenticated": False}
    assert run(w, mail("anon-1@example.org", "olga@film.example"),
               SpoolMeta(source="smtp", mail_from="me@example.org", evidence=ev)) == Outcome.QUARANTINED
    # A sidecar from before sender authentication (no evidence) is handled as it was then.
    assert run(w, mail("old-1@example.org", "olga@film.example"),
               SpoolMeta(source="smtp", mail_from="me@example.org")) == Outcome.STORED
    assert proof_of(factory, "old-1@example.org") == (None, None)


def test_off_stores_unproven_mail_unchecked(make_worker) -> None:  # type: ignore[no-untyped-def]
    build, factory = make_worker
    w = build("off")
    ev = {"client_ip": "198.51.100.7", "helo": "laptop", "authenticated": False, "trusted_network": False}
    assert run(w, mail("off-1@example.org", "ivan@theatre.example"),
               SpoolMeta(source="smtp", mail_from="me@example.org", evidence=ev)) == Outcome.STORED
    assert proof_of(factory, "off-1@example.org")[0] == "unchecked"
    assert known(factory, "ivan@theatre.example")  # as before: the contact is created


FORWARDED_REPORT = (
    "\r\n---------- Forwarded message ---------\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.theatre.example>\r\n"
    "Date: Wed, 4 Nov 2026 at 10:00\r\nSubject: Undelivered Mail Returned to Sender\r\nTo: <me@example.org>\r\n\r\n"
    "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n"
    "<olga@theatre.example>: host mx.theatre.example[192.0.2.1] said: 550 5.1.1\r\n"
    "    <olga@theatre.example>: Recipient address rejected: User unknown\r\n")


def _status(factory, address: str) -> str | None:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(EmailAddress.status).where(EmailAddress.address == address))


def _report(mid: str) -> bytes:
    return (f"From: Me <me@example.org>\r\nTo: crm+secret@example.org\r\nSubject: Fwd: Undelivered Mail\r\n"
            f"Date: Wed, 04 Nov 2026 11:00:00 +0000\r\nMessage-ID: <{mid}>\r\n\r\n{FORWARDED_REPORT}").encode()


@pytest.mark.parametrize("policy, outcome, after", [
    ("mark", Outcome.STORED, "active"),  # stored and flagged: it kills (or doubts) nothing
    ("require", Outcome.QUARANTINED, "active"),
    ("off", Outcome.STORED, "suspect"),  # as before issue 20's author check
])
def test_an_unproven_forwarded_report_changes_no_address(make_worker, policy: str, outcome: Outcome,  # type: ignore[no-untyped-def]
                                                         after: str) -> None:
    build, factory = make_worker
    w = build(policy)
    assert run(w, mail("to-olga@example.org", "Olga <olga@theatre.example>"),
               SpoolMeta(source="imap:work", role="sent", source_ref={"create_contacts": True})) == Outcome.STORED
    assert _status(factory, "olga@theatre.example") == "active"
    ev = {"client_ip": "198.51.100.7", "helo": "laptop", "authenticated": False, "trusted_network": False}
    assert run(w, _report("fwd-report@example.org"),
               SpoolMeta(source="smtp", mail_from="me@example.org", evidence=ev)) == outcome
    assert _status(factory, "olga@theatre.example") == after


def test_a_login_proves_only_its_own_users_addresses(store, tmp_path: Path, dns_stub: DnsStub) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, factory = store
    text = cfg_text(dns_stub) + '[[users]]\nemail = "anna@example.org"\ndropbox = "crm+anna@example.org"\n'
    cfg = config.parse(text, "test")
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
    w = Worker(cfg, factory, Spool(tmp_path / "spool"), ParsePool(0))
    ev = {"client_ip": "198.51.100.7", "helo": "laptop", "authenticated": True, "trusted_network": False}
    # Anna logged in but writes as me@example.org: her login proves her addresses, not mine.
    assert run(w, mail("cross-1@example.org", "ivan@theatre.example"),
               SpoolMeta(source="smtp", mail_from="me@example.org", auth_user="anna@example.org", evidence=ev)) \
        == Outcome.QUARANTINED
    assert run(w, mail("own-1@example.org", "ivan@theatre.example"),
               SpoolMeta(source="smtp", mail_from="me@example.org", auth_user="me@example.org", evidence=ev)) \
        == Outcome.STORED


def test_mail_forwarded_through_a_trusted_arc_sealer(store, tmp_path: Path, dns_stub: DnsStub) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The user's mail re-signed by a mailing service: proven by ARC only when that sealer is trusted."""
    import dkim
    from dkim_keys import keypair, sign

    _, factory = store
    dns_stub.add_txt("s1._domainkey.example.org", keypair()[1])
    dns_stub.add_txt("arc._domainkey.lists.example", keypair("list")[1])
    dns_stub.add_txt("_dmarc.example.org", "v=DMARC1; p=reject")

    def forwarded(mid: str, to: str) -> bytes:
        msg = ("Authentication-Results: lists.example; dkim=pass header.d=example.org\r\n".encode()
               + sign(mail(mid, to), "example.org").replace(b"Subject: About", b"Subject: [team] About"))
        return b"".join(dkim.arc_sign(msg, b"arc", b"lists.example", keypair("list")[0], b"lists.example",
                                      include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])) + msg

    ev = {"client_ip": "198.51.100.7", "helo": "mx.lists.example", "authenticated": False, "trusted_network": False}
    meta = dict(source="smtp", mail_from="bounces@lists.example", evidence=ev)
    for trusted, outcome in (("", Outcome.QUARANTINED), ('"lists.example"', Outcome.STORED)):
        cfg = config.parse(cfg_text(dns_stub).replace("[security]\n", f"[security]\ntrusted_arc_sealers = [{trusted}]\n"),
                           "test")
        with db.transaction(factory) as s:
            repository.sync_users(s, cfg)
        w = Worker(cfg, factory, Spool(tmp_path / f"spool-{bool(trusted)}"), ParsePool(0))
        mid = f"arc-{bool(trusted)}@example.org"
        assert run(w, forwarded(mid, f"p{bool(trusted)}@theatre.example"), SpoolMeta(**meta)) == outcome
    proof, auth = proof_of(factory, "arc-True@example.org")
    assert proof == "arc" and auth is not None
    assert (auth["dkim"], auth["arc"], auth["arc_sealer"], auth["arc_trusted"]) == ("fail", "pass", "lists.example", True)
    assert known(factory, "ptrue@theatre.example") and not known(factory, "pfalse@theatre.example")


TILDA = ("From: Tilda <robot@tilda.ws>\r\nTo: crm+secret@example.org\r\nReply-To: anna@client.example\r\n"
         "Subject: New lead from site.example\r\nMessage-ID: <{mid}>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0300\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\nName: Anna\r\nPhone: +7 921 111-22-33\r\n")


def _leads(factory) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    from mailcrm.store.models import Lead

    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Lead)) or 0)


@pytest.mark.parametrize("policy", ["require", "mark", "off"])
def test_form_notification_mail_needs_the_form_senders_proof(store, tmp_path: Path, dns_stub: DnsStub,  # type: ignore[no-untyped-def]  # noqa: F811
                                                             policy: str) -> None:
    """[[forms]] from = ... is no longer proof by itself: a forged robot is refused, a signed one is a lead."""
    from dkim_keys import keypair, sign

    _, factory = store
    dns_stub.add_txt("s1._domainkey.tilda.ws", keypair("tilda")[1])
    dns_stub.add_txt("_dmarc.tilda.ws", "v=DMARC1; p=none")
    cfg = config.parse(cfg_text(dns_stub, policy) + '[[forms]]\nname = "tilda"\nfrom = "robot@tilda.ws"\n', "test")
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
    w = Worker(cfg, factory, Spool(tmp_path / "spool"), ParsePool(0))
    ev = {"client_ip": "198.51.100.7", "helo": "mx.attacker.example", "authenticated": False, "trusted_network": False}
    meta = dict(source="smtp", mail_from="robot@tilda.ws", rcpt_tos=["crm+secret@example.org"], evidence=ev)
    forged = TILDA.format(mid="t-forged@tilda.ws").encode()
    expected = Outcome.STORED if policy == "off" else Outcome.QUARANTINED  # a lead cannot be stored powerless
    assert run(w, forged, SpoolMeta(**meta)) == expected
    if policy != "off":
        [q] = list(w.spool.quarantined())
        assert "unauthenticated_form_sender" in (q.meta.reason or "")
        assert _leads(factory) == 0 and not known(factory, "anna@client.example")
    # Signed by tilda.ws (aligned with From: robot@tilda.ws), from the same untrusted peer: a lead.
    signed = sign(TILDA.format(mid="t-signed@tilda.ws").encode(), "tilda.ws", key="tilda")
    assert run(w, signed, SpoolMeta(**meta)) == Outcome.STORED
    assert _leads(factory) == (2 if policy == "off" else 1) and known(factory, "anna@client.example")
    # Signed by another domain: not the form sender's proof.
    dns_stub.add_txt("s1._domainkey.attacker.example", keypair("tilda")[1])
    other = sign(TILDA.format(mid="t-other@tilda.ws").encode(), "attacker.example", key="tilda")
    assert run(w, other, SpoolMeta(**meta)) == expected


def test_a_users_unproven_forward_of_form_mail_is_no_lead(store, tmp_path: Path, dns_stub: DnsStub) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, factory = store
    cfg = config.parse(cfg_text(dns_stub, "mark") + '[[forms]]\nname = "tilda"\nfrom = "robot@tilda.ws"\n', "test")
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
    w = Worker(cfg, factory, Spool(tmp_path / "spool"), ParsePool(0))
    fwd = ("From: Me <me@example.org>\r\nTo: crm+secret@example.org\r\nSubject: Fwd: New lead\r\n"
           "Message-ID: <fwd-lead@example.org>\r\nDate: Sun, 06 Dec 2026 11:00:00 +0300\r\n\r\n"
           "---------- Forwarded message ---------\r\nFrom: Tilda <robot@tilda.ws>\r\n"
           "Date: Sun, 6 Dec 2026 at 10:00\r\nSubject: New lead\r\nTo: <me@example.org>\r\n\r\n"
           "Name: Anna\r\nEmail: anna@client.example\r\nPhone: +7 921 111-22-33\r\n").encode()
    ev = {"client_ip": "198.51.100.7", "helo": "laptop", "authenticated": False, "trusted_network": False}
    # Under "mark" the forward is stored flagged, as any unproven mail of the user's: it makes no lead.
    assert run(w, fwd, SpoolMeta(source="smtp", mail_from="me@example.org", evidence=ev)) == Outcome.STORED
    assert _leads(factory) == 0 and not known(factory, "anna@client.example")
    assert proof_of(factory, "fwd-lead@example.org")[0] == "none"
    # Logged in (SMTP AUTH): the same forward is the user's, and a lead.
    ev = {**ev, "authenticated": True}
    assert run(w, fwd.replace(b"fwd-lead@", b"fwd-lead-2@"),
               SpoolMeta(source="smtp", mail_from="me@example.org", auth_user="me@example.org", evidence=ev)) \
        == Outcome.STORED
    assert _leads(factory) == 1 and known(factory, "anna@client.example")
