"""Bounce reasons in Sisimai's taxonomy: RFC 3463 / RFC 5248 codes and the wording families of each reason.

The cases are generated from the taxonomy (the RFCs' code definitions, each reason's phrase
family written in several MTAs' reply styles and in several languages), not copied from reports.
"""

from __future__ import annotations

import pytest

from mailcrm.parse.bounce_reason import ALL_REASONS, HARD_REASONS, Assessment, assess, classify, legacy_reason, reason_of_code
from mailcrm.parse.message import parse_message

ADDR = "ivan@theatre.example"
NEUTRAL = "Requested action not taken"  # RFC 5321 §4.2.3 boilerplate: says nothing about the cause

# RFC 3463 §3 (and RFC 5248's registry) subject.detail -> the reason its definition names.
RFC3463 = {
    "1.1": "userunknown",   # Bad destination mailbox address
    "1.2": "hostunknown",   # Bad destination system address
    "1.3": "syntaxerror",   # Bad destination mailbox address syntax
    "1.6": "hasmoved",      # Destination mailbox has moved, no forwarding address
    "1.7": "rejected",      # Bad sender's mailbox address syntax
    "1.8": "rejected",      # Bad sender's system address
    "1.10": "notaccept",    # Recipient address has null MX (RFC 7505)
    "2.1": "filtered",      # Mailbox disabled, not accepting messages
    "2.2": "mailboxfull",   # Mailbox full
    "2.3": "exceedlimit",   # Message length exceeds administrative limit
    "3.1": "systemfull",    # Mail system full
    "3.2": "systemerror",   # System not accepting network messages (shutdown, load, maintenance)
    "3.4": "mesgtoobig",    # Message too big for system
    "4.1": "networkerror",  # No answer from host
    "4.4": "hostunknown",   # Unable to route
    "4.6": "systemerror",   # Routing loop detected
    "4.7": "expired",       # Delivery time expired
    "5.3": "toomanyconn",   # Too many recipients
    "6.0": "contenterror",  # Other or undefined media error
    "6.3": "contenterror",  # Conversion required but not supported
    "7.1": "securityerror", # Delivery not authorized, message refused
    "7.13": "suspend",      # User account disabled (RFC 5248)
    "7.17": "hasmoved",     # Mailbox owner has changed (RFC 7293)
    "7.23": "authfailure",  # SPF validation failed (RFC 7372)
    "7.25": "blocked",      # Reverse DNS validation failed (RFC 7372)
    "7.26": "authfailure",  # Multiple authentication checks failed
    "7.27": "rejected",     # Sender address has null MX (RFC 7505)
}
DEAD_BY_CODE = {"1.1", "1.2", "1.6", "1.10", "4.4", "7.17"}


@pytest.mark.parametrize("klass", ["4", "5"])
@pytest.mark.parametrize("subject_detail", sorted(RFC3463))
def test_the_code_names_the_reason_when_the_text_says_nothing(klass: str, subject_detail: str) -> None:
    status = f"{klass}.{subject_detail}"
    reply = "550" if klass == "5" else "450"
    a = assess(status, f"{reply} {status} {NEUTRAL}")
    assert reason_of_code(status) == RFC3463[subject_detail]
    assert a.reason == RFC3463[subject_detail]
    # RFC 3463 §3.1: class 4 is persistent-transient, class 5 permanent.  Only a permanent code
    # that itself says the mailbox or domain is gone makes the address dead.
    assert a.hard == (subject_detail in DEAD_BY_CODE and klass == "5")
    assert a.permanent == (klass == "5")


def test_a_report_that_gave_up_on_4_1_1_user_unknown_names_the_mailbox_bad() -> None:
    # Postfix soft_bounce / 450 alias tables: the report gave up on a mailbox the server named unknown.
    assert assess("4.1.1", "450 4.1.1 <a@b.example>: Recipient address rejected: User unknown") == \
        Assessment("userunknown", permanent=True, hard=True)
    assert not assess("4.1.1", "450 4.1.1 User unknown: address verification in progress").hard


@pytest.mark.parametrize("status", ["5.0.0", "4.0.0", "5.9.9", None])
def test_a_code_without_meaning_and_a_neutral_text_is_undefined_or_onhold(status: str | None) -> None:
    reply = "450" if status and status.startswith("4") else "550"
    a = assess(status, f"{reply} {NEUTRAL}")
    assert a.reason == ("onhold" if reply == "450" else "undefined")
    assert not a.hard


# One reason's wording family: a few phrasings each, English first, then other languages.
FAMILIES: dict[str, list[str]] = {
    "userunknown": ["User unknown", "No such user here", "Recipient address rejected: User unknown in local recipient table",
                    "Unknown recipient", "Mailbox not found", "The email account that you tried to reach does not exist",
                    "Пользователь не найден", "Unbekannter Empfänger", "Destinataire inconnu", "Usuario desconocido"],
    "hostunknown": ["Host or domain name not found", "Domain does not exist", "No MX record for domain", "Unrouteable domain",
                    "Домен не найден"],
    "hasmoved": ["Mailbox has moved, no forwarding address", "This address is no longer in use"],
    "notaccept": ["This domain does not accept mail (null MX)", "The host accepts no mail"],
    "mailboxfull": ["Mailbox full", "Quota exceeded", "User is over quota", "Почтовый ящик переполнен", "Das Postfach ist voll",
                    "La boîte aux lettres est pleine", "El buzón está lleno"],
    "filtered": ["Message rejected due to user rules", "User reject", "Refused due to recipient preferences",
                 "Recipient is only accepting mail from specific email addresses", "You have been blocked by the recipient"],
    "blocked": ["Client host rejected: cannot find your reverse hostname", "Your IP 192.0.2.9 is blocked", "Access denied"],
    "spamdetected": ["Message rejected as spam", "Listed at zen.spamhaus.org", "Unsolicited bulk mail refused"],
    "policyviolation": ["Message refused for policy reasons", "Attachments of this kind are prohibited here"],
    "virusdetected": ["Virus found in message", "Message contains malware"],
    "contenterror": ["Invalid MIME structure", "Forbidden attachment type"],
    "mesgtoobig": ["Message size exceeds fixed maximum message size", "Message too large"],
    "exceedlimit": ["Message length exceeds administrative limit"],
    "expired": ["Delivery time expired", "Retry timeout exceeded", "Message has been in the queue too long"],
    "suspend": ["Account suspended", "This account has been deactivated", "Account is locked"],
    "norelaying": ["Relay access denied", "Relaying denied"],
    "toomanyconn": ["Too many connections from your host", "Too many concurrent connections"],
    "speeding": ["Rate limit exceeded", "You are sending too fast, slow down"],
    "authfailure": ["Unauthenticated email is not accepted: DMARC policy", "SPF check failed", "DKIM signature is invalid"],
    "securityerror": ["Must issue a STARTTLS command first", "TLS required"],
    "systemerror": ["Mail loop detected", "Too many hops", "Local error in processing"],
    "systemfull": ["Mail system full", "No space left on device"],
    "mailererror": ["procmail: Couldn't create lock file", "Command died with status 1"],
    "networkerror": ["Connection timed out", "Network is unreachable", "No route to host"],
    "syntaxerror": ["Syntax error, command unrecognized", "Bad sequence of commands"],
}

# How MTAs report the remote server's answer to RCPT TO (the recipient's own lookup).
RCPT_STYLES = {
    "postfix": "host mx.theatre.example[192.0.2.1] said: 550 {p} (in reply to RCPT TO command)",
    "exim": "SMTP error from remote mail server after RCPT TO:<" + ADDR + ">: 550 {p}",
    "sendmail": "... while talking to mx.theatre.example.:\n>>> RCPT To:<" + ADDR + ">\n<<< 550 {p}",
}
# Styles that say nothing of the stage.
BARE_STYLES = {
    "exchange": "Remote Server returned '550 {p}'",
    "qmail": "Remote host said: 550 {p}",
}


def _cases() -> list[tuple[str, str, str, str]]:
    out = []
    for reason, phrases in FAMILIES.items():
        for phrase in phrases:
            for style, template in {**RCPT_STYLES, **BARE_STYLES}.items():
                out.append((reason, style, phrase, template.replace("{p}", phrase)))
    return out


@pytest.mark.parametrize(("reason", "style", "phrase", "text"), _cases(),
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(_cases())])
def test_each_reasons_wording_family_in_each_mta_style(reason: str, style: str, phrase: str, text: str) -> None:
    a = assess(None, text, recipient=ADDR)
    if reason == "userunknown" and style in BARE_STYLES:
        # No X.1.x code and no RCPT stage: Sisimai's "filtered" unless the wording is an MTA's own
        # mailbox lookup; either way the address is not proven dead by a generic 550.
        assert a.reason in ("userunknown", "filtered")
        assert a.hard == (a.reason == "userunknown")
    else:
        assert a.reason == reason
        assert a.hard == (reason in HARD_REASONS)
    assert a.permanent


@pytest.mark.parametrize("phrase", FAMILIES["userunknown"])
def test_unknown_user_after_data_is_filtered_and_never_dead(phrase: str) -> None:
    # Rejected after RCPT TO was accepted: the mailbox exists, a filter spoke (Sisimai: filtered).
    text = f"host mx.theatre.example[192.0.2.1] said: 550 {phrase} (in reply to end of DATA command)"
    assert classify("5.0.0", text) == ("filtered", False)
    # An explicit X.1.1 code names the mailbox bad even after pipelined DATA.
    assert classify("5.1.1", text.replace("550 ", "550 5.1.1 ")) == ("userunknown", True)


@pytest.mark.parametrize("phrase", FAMILIES["userunknown"][:4])
def test_unknown_user_under_an_x7_code_is_filtered_unless_it_answered_rcpt(phrase: str) -> None:
    assert classify("5.7.1", f"Remote host said: 550 5.7.1 {phrase}") == ("filtered", False)
    assert classify("5.7.1", f">>> RCPT To:<{ADDR}>\n<<< 550 5.7.1 {phrase}") == ("userunknown", True)


@pytest.mark.parametrize(("dead", "soft"), [("User unknown", "mailbox full"), ("No such user", "over quota"),
                                            ("Domain does not exist", "account suspended")])
def test_a_text_naming_a_dead_and_a_soft_cause_is_soft(dead: str, soft: str) -> None:
    assert not classify("5.1.1", f"550 5.1.1 {dead} or {soft} (in reply to RCPT TO command)")[1]


@pytest.mark.parametrize("status", ["4.1.1", "4.1.2", "4.2.2", "4.7.1"])
def test_a_transient_code_is_not_permanent(status: str) -> None:
    a = assess(status, f"450 {status} {NEUTRAL} (verify failed)")
    assert not a.permanent and not a.hard


def test_every_reason_given_is_a_sisimai_name() -> None:
    seen = {assess(None, text, recipient=ADDR).reason for _, _, _, text in _cases()}
    assert seen <= ALL_REASONS
    assert set(FAMILIES) <= ALL_REASONS


def test_names_stored_before_the_taxonomy_map_onto_it() -> None:
    assert legacy_reason("user_unknown") == "userunknown"
    assert legacy_reason("spam") == "spamdetected"
    assert legacy_reason("system_error") == "mailererror"
    assert legacy_reason("filtered") == "filtered"
    assert legacy_reason(None) is None


def _dsn(diag: str, status: str, headers: str = "", tail: str = "") -> bytes:
    return (f"From: MAILER-DAEMON@mx.ourfirm.example\nTo: me@ourfirm.example\nSubject: Undelivered Mail Returned to Sender\n"
            f"Message-ID: <ndr-1@mx.ourfirm.example>\n{headers}MIME-Version: 1.0\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
            "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
            "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.ourfirm.example\n\n"
            f"Final-Recipient: rfc822; {ADDR}\nAction: failed\nStatus: {status}\nDiagnostic-Code: smtp; {diag}\n\n"
            f"{tail}--B--\n").encode()


def test_inspect_json_shows_the_sisimai_reason_and_keeps_its_keys() -> None:
    b = parse_message(_dsn("550 5.2.2 Mailbox full", "5.2.2")).bounce
    assert b is not None
    assert b.to_json()["recipients"] == [{"address": ADDR, "hard": False, "status": "5.2.2", "reason": "mailboxfull"}]
    (r,) = b.recipients
    assert r.permanent is True


def test_the_report_gives_the_originals_message_ids_from_mangled_quoted_headers_and_threading() -> None:
    # The quoted headers start with a Received line whose folding was lost: no header parser reads
    # them whole, the Message-ID line is still there.
    tail = ("--B\nContent-Type: text/rfc822-headers\n\nReceived: from [192.0.2.1] by mx (via\nHTTP); Mon, 1 Jun 2026\n"
            "Message-ID: <Offer-7@OurFirm.Example>\nFrom: me@ourfirm.example\n\n")
    raw = _dsn("550 5.1.1 User unknown", "5.1.1", headers="In-Reply-To: <thread-1@ourfirm.example>\n", tail=tail)
    b = parse_message(raw).bounce
    assert b is not None
    assert b.original_message_id == "Offer-7@ourfirm.example"
    assert b.original_message_ids == ("Offer-7@ourfirm.example", "thread-1@ourfirm.example")
    bare = parse_message(_dsn("550 5.1.1 User unknown", "5.1.1")).bounce
    assert bare is not None and bare.original_message_ids == () and bare.original_message_id is None


def test_a_folded_postfix_reply_keeps_its_rcpt_stage() -> None:
    # Postfix folds a long reply; the stage comes on the last indented line.
    report = (f"<{ADDR}>: host mx.theatre.example[192.0.2.1] said: 550\n    NO_SUCH_BOX - see\n"
              "    http://mx.theatre.example/why?code=1\n    (in reply to RCPT TO command)\n")
    raw = (f"From: MAILER-DAEMON@mx.ourfirm.example\nTo: me@ourfirm.example\nSubject: Undelivered Mail Returned to Sender\n\n"
           f"I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
           f"{report}").encode()
    b = parse_message(raw).bounce
    assert b is not None
    (r,) = b.recipients
    assert r.address == ADDR
    # No unknown-user wording at all: the stage alone does not kill, but it is read (not "after DATA").
    assert not r.hard
    b2 = parse_message(raw.replace(b"NO_SUCH_BOX", b"No such user")).bounce
    assert b2 is not None and [(x.reason, x.hard) for x in b2.recipients] == [("userunknown", True)]


@pytest.mark.parametrize("policy", ["rejected for policy reasons", "prohibited by local policy", "not authorized to send"])
def test_an_unknown_user_worded_beside_a_policy_refusal_is_soft(policy: str) -> None:
    a = assess("5.1.1", f"550 5.1.1 User unknown, {policy} (in reply to RCPT TO command)")
    assert a.reason == "policyviolation" and not a.hard


def test_a_relaying_mtas_boilerplate_about_the_recipient_domain_is_not_a_policy() -> None:
    # Gmail-style wrapper text around the remote server's answer names no cause itself.
    text = ("Google tried to deliver your message, but it was rejected by the recipient domain. "
            "The error that the other server returned was: 550 5.1.1 User unknown (in reply to RCPT TO command)")
    assert classify("5.1.1", text) == ("userunknown", True)


@pytest.mark.parametrize("carrier", ["docomo.ne.jp", "softbank.ne.jp", "ezweb.ne.jp"])
def test_a_japanese_carriers_anonymous_user_unknown_is_its_reception_filter(carrier: str) -> None:
    assert assess("5.0.0", "550 : User unknown (in reply to RCPT TO command)", recipient=f"u@{carrier}").reason == "filtered"
    named = assess("5.0.0", f"550 <u@{carrier}>: User unknown (in reply to RCPT TO command)", recipient=f"u@{carrier}")
    assert named == Assessment("userunknown", True, True)


def test_looking_for_the_originals_message_id_stays_linear_on_hostile_text() -> None:
    import time

    hostile = "Message-ID: <" + "a@" * 150_000
    raw = _dsn("550 5.1.1 User unknown", "5.1.1", headers=f"References: {hostile[12:]}\n",
               tail=f"--B\nContent-Type: text/rfc822-headers\n\n{hostile}\n\n")
    start = time.perf_counter()
    assert parse_message(raw).bounce is not None
    assert time.perf_counter() - start < 5
