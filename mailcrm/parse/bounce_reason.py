"""Why a recipient failed, in Sisimai's taxonomy, and whether the address itself is dead.

Reason names are Sisimai's (https://libsisimai.org/en/reason/): ``userunknown``,
``hostunknown``, ``hasmoved``, ``notaccept`` say the mailbox or domain does not exist or takes
no mail; ``filtered`` (the recipient's own filter), ``rejected`` (our sender refused),
``blocked``, ``spamdetected``, ``policyviolation``, ``securityerror``, ``authfailure``,
``virusdetected``, ``contenterror``, ``mesgtoobig``, ``exceedlimit``, ``mailboxfull``,
``suspend``, ``expired``, ``toomanyconn``, ``speeding``, ``norelaying``, ``systemerror``,
``systemfull``, ``mailererror``, ``networkerror``, ``syntaxerror`` say something else; ``onhold``
is a temporary failure with nothing more said, ``undefined`` nothing at all.

"Hard" means only one thing here: the address itself is dead — one of the four dead reasons, in
a permanent failure, with SMTP evidence that the recipient's own mailbox lookup said so.  The
text beats the code when they disagree, because MTAs routinely send a generic code ("550 5.1.1
... mailbox full", "554 5.7.1 user unknown"); families that keep an address alive are checked
before the dead ones, so that "User unknown ... or mailbox full" never kills an address.

A "user unknown" wording also needs its SMTP context to agree (Sisimai's rules for
userunknown vs filtered): a refusal after DATA is a filter (``filtered``) unless an explicit
X.1.x code names the mailbox; a 5.7.x code is policy unless the refusal answered RCPT TO; and a
generic phrase with no reply code, no X.1.x code and no stage at all is ``filtered`` unless it is
one of the wordings MTAs use for their own failed mailbox lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailcrm.parse import bounce_vocab as v

# Reason names (Sisimai's; stable strings stored with the bounce).
USER_UNKNOWN = "userunknown"
HOST_UNKNOWN = "hostunknown"
HAS_MOVED = "hasmoved"
NOT_ACCEPT = "notaccept"
FILTERED = "filtered"
MAILBOX_FULL = "mailboxfull"
SUSPENDED = "suspend"
SPAM = "spamdetected"
POLICY = "policyviolation"
SECURITY = "securityerror"
BLOCKED = "blocked"
SENDER_REJECTED = "rejected"
AUTH_FAILURE = "authfailure"
MESSAGE_TOO_BIG = "mesgtoobig"
EXCEED_LIMIT = "exceedlimit"
CONTENT = "contenterror"
VIRUS = "virusdetected"
EXPIRED = "expired"
NETWORK = "networkerror"
NO_RELAYING = "norelaying"
TOO_MANY_CONN = "toomanyconn"
SPEEDING = "speeding"
SYNTAX = "syntaxerror"
SYSTEM = "systemerror"
SYSTEM_FULL = "systemfull"
MAILER_ERROR = "mailererror"
TEMPORARY = "onhold"  # a temporary failure that says nothing more (Sisimai: onhold)
UNKNOWN = "undefined"

HARD_REASONS: frozenset[str] = frozenset({USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED, NOT_ACCEPT})
ALL_REASONS: frozenset[str] = frozenset({
    USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED, NOT_ACCEPT, FILTERED, MAILBOX_FULL, SUSPENDED, SPAM, POLICY, SECURITY, BLOCKED,
    SENDER_REJECTED, AUTH_FAILURE, MESSAGE_TOO_BIG, EXCEED_LIMIT, CONTENT, VIRUS, EXPIRED, NETWORK, NO_RELAYING,
    TOO_MANY_CONN, SPEEDING, SYNTAX, SYSTEM, SYSTEM_FULL, MAILER_ERROR, TEMPORARY, UNKNOWN})
# The names before Sisimai's taxonomy, for events already stored (store/ may still hold them).
LEGACY_NAMES: dict[str, str] = {
    "user_unknown": USER_UNKNOWN, "host_unknown": HOST_UNKNOWN, "has_moved": HAS_MOVED, "not_accept": NOT_ACCEPT,
    "mailbox_full": MAILBOX_FULL, "suspended": SUSPENDED, "spam": SPAM, "policy": POLICY, "sender_rejected": SENDER_REJECTED,
    "auth_failure": AUTH_FAILURE, "message_too_big": MESSAGE_TOO_BIG, "content": CONTENT, "network": NETWORK,
    "temporary": TEMPORARY, "system_error": MAILER_ERROR, "unknown": UNKNOWN, "blocked": BLOCKED, "expired": EXPIRED,
}

# RFC 3463 / RFC 5248 (IANA registry) subject.detail -> reason, for either class.  The X.1.x
# codes of the recipient's address, X.2.x mailbox, X.3.x system, X.4.x network/routing,
# X.5.x protocol, X.6.x content, X.7.x security or policy.
_CODE_REASON: dict[str, str] = {
    "1.1": USER_UNKNOWN, "1.2": HOST_UNKNOWN, "1.3": SYNTAX, "1.4": FILTERED, "1.6": HAS_MOVED, "1.7": SENDER_REJECTED,
    "1.8": SENDER_REJECTED, "1.9": SYSTEM, "1.10": NOT_ACCEPT,
    "2.0": FILTERED, "2.1": FILTERED, "2.2": MAILBOX_FULL, "2.3": EXCEED_LIMIT, "2.4": FILTERED,
    # X.3.2 "system not accepting network messages" is shutdown, load or maintenance (RFC 3463
    # §3.5): nothing says the domain is gone, so alone it is a system error, not notaccept.
    "3.0": SYSTEM, "3.1": SYSTEM_FULL, "3.2": SYSTEM, "3.3": SYSTEM, "3.4": MESSAGE_TOO_BIG, "3.5": SYSTEM,
    "4.0": NETWORK, "4.1": NETWORK, "4.2": NETWORK, "4.3": SYSTEM, "4.4": HOST_UNKNOWN, "4.5": SYSTEM_FULL,
    "4.6": SYSTEM, "4.7": EXPIRED, "4.8": NETWORK,
    "5.0": SYNTAX, "5.1": SYNTAX, "5.2": SYNTAX, "5.3": TOO_MANY_CONN, "5.4": SYNTAX, "5.5": SYNTAX, "5.6": SYNTAX,
    "6.0": CONTENT, "6.1": CONTENT, "6.2": CONTENT, "6.3": CONTENT, "6.4": CONTENT, "6.5": CONTENT, "6.6": CONTENT,
    "6.7": CONTENT, "6.8": CONTENT, "6.9": CONTENT, "6.10": CONTENT,
    "7.0": SECURITY, "7.1": SECURITY, "7.2": SECURITY, "7.3": SECURITY, "7.4": SECURITY, "7.5": SECURITY,
    "7.6": SECURITY, "7.7": SECURITY, "7.8": SECURITY, "7.9": SECURITY, "7.10": SECURITY, "7.11": SECURITY,
    "7.12": SECURITY, "7.13": SUSPENDED, "7.14": SECURITY, "7.15": SECURITY, "7.16": MESSAGE_TOO_BIG,
    "7.17": HAS_MOVED, "7.18": HAS_MOVED, "7.19": SECURITY,  # RFC 7293: mailbox/domain owner has changed
    "7.20": AUTH_FAILURE, "7.21": AUTH_FAILURE, "7.22": AUTH_FAILURE, "7.23": AUTH_FAILURE, "7.24": AUTH_FAILURE,
    "7.25": BLOCKED, "7.26": AUTH_FAILURE,
    "7.27": SENDER_REJECTED,  # RFC 7505 §4.2: the *sender's* domain has a null MX
    "7.28": SPAM, "7.29": AUTH_FAILURE, "7.30": AUTH_FAILURE,  # RFC 8689 / ARC / REQUIRETLS
}
# Codes that by themselves say the mailbox or domain is gone (RFC 3463 X.1.1, X.1.2, X.1.6,
# X.4.4 "unable to route" (no MX and no address), RFC 7505 X.1.10, RFC 7293 X.7.17/X.7.18).
_DEAD_CODES = frozenset({"1.1", "1.2", "1.6", "1.10", "4.4", "7.17", "7.18"})
# RFC 7504: 521 "host does not accept mail", 556 "domain does not accept mail" (null MX).
_REPLY_REASON = {"521": NOT_ACCEPT, "556": NOT_ACCEPT}

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\d.])([245]\d\d)(?:[ \-]|$)")


@dataclass(frozen=True)
class Assessment:
    """One failed recipient's reason, whether the failure is permanent, and whether the address is dead."""

    reason: str
    permanent: bool
    hard: bool


def find_status(text: str | None) -> str | None:
    """The first RFC 3463 enhanced status code (e.g. "5.1.1") in a text, or None."""
    m = _STATUS.search(text or "")
    return ".".join(m.groups()) if m else None


def find_reply_code(text: str | None) -> str | None:
    """The first RFC 5321 reply code (e.g. "550") in a text, or None."""
    m = _REPLY.search(text or "")
    return m.group(1) if m else None


def reason_of_code(status: str | None) -> str | None:
    """The reason an RFC 3463 code names by its subject and detail (X.0.0 and unknown codes: None)."""
    if not status:
        return None
    parts = status.split(".")
    return _CODE_REASON.get(".".join(parts[1:3])) if len(parts) == 3 else None


def legacy_reason(name: str | None) -> str | None:
    """A reason name as stored before the Sisimai taxonomy, mapped onto it (other names unchanged)."""
    return LEGACY_NAMES.get(name, name) if name else name


def _by_code(status: str | None) -> str | None:
    """RFC 3463 fallback when the text says nothing recognisable: a 4.x.x with no known detail is onhold."""
    reason = reason_of_code(status)
    if reason is None and status and status.startswith("4."):
        return TEMPORARY
    return reason


# The text families, in the order they are tried: families that keep an address alive come
# before the dead ones (a text naming both is doubt); then the dead ones; then the generic ones.
_SOFT_FIRST: tuple[tuple[object, str], ...] = (
    (v.FULL, MAILBOX_FULL), (v.EXCEED, EXCEED_LIMIT), (v.TOO_BIG, MESSAGE_TOO_BIG), (v.SUSPENDED, SUSPENDED),
    (v.SYSTEM, MAILER_ERROR), (v.SYSTEM_FAULT, SYSTEM), (v.SYSTEM_FULL, SYSTEM_FULL), (v.DNS_TEMP, NETWORK),
    (v.AUTH, AUTH_FAILURE), (v.VIRUS, VIRUS), (v.SPAM, SPAM), (v.CONTENT, CONTENT), (v.RELAY, NO_RELAYING),
    (v.FILTERED, FILTERED), (v.TOO_MANY_CONN, TOO_MANY_CONN), (v.SPEEDING, SPEEDING), (v.BLOCKED, BLOCKED),
    (v.POLICY, POLICY),
)
_DEAD: tuple[tuple[object, str], ...] = ((v.MOVED, HAS_MOVED), (v.HOST, HOST_UNKNOWN), (v.NOT_ACCEPT, NOT_ACCEPT),
                                         (v.USER, USER_UNKNOWN))
_SOFT_LAST: tuple[tuple[object, str], ...] = ((v.SECURITY, SECURITY), (v.EXPIRED, EXPIRED),
                                              (v.NETWORK, NETWORK), (v.SYNTAX, SYNTAX))


def assess(status: str | None, diagnostic: str | None, *, context: str | None = None,
           recipient: str | None = None) -> Assessment:
    """Reason, permanence and deadness of one failed recipient from its status code and the server's text.

    ``context`` is the report text around the recipient (the SMTP dialogue); it can only make
    a verdict softer, except when the diagnostic itself says nothing.
    """
    diag = re.sub(r"\s+", " ", diagnostic or "").strip()
    ctx = re.sub(r"\s+", " ", context or "").strip()
    text = f"{diag} {ctx}".strip()
    status = status or find_status(diag) or find_status(ctx)
    reply = find_reply_code(text)
    klass = status[0] if status else (reply or " ")[0]
    # RFC 3463 §3.1: 4.x.x is persistent-transient; a report with no code at all gave up (it is a
    # failure report), so it counts as permanent.
    permanent = klass != "4"
    if not text and not status:
        return Assessment(UNKNOWN, permanent, False)
    # Not about the recipient at all: the server refused our sender (RFC 5321 MAIL FROM stage).
    if v.STAGE_SENDER.search(text) or v.SENDER.search(text):
        return Assessment(AUTH_FAILURE if v.AUTH.search(text) else SENDER_REJECTED, permanent, False)
    for vocab, reason in _SOFT_FIRST:
        if vocab.search(text):  # type: ignore[attr-defined]
            return Assessment(reason, permanent, False)
    for vocab, reason in _DEAD:
        if vocab.search(text):  # type: ignore[attr-defined]
            return _dead(reason, status, klass, text, recipient, permanent)
    for vocab, reason in _SOFT_LAST:
        if vocab.search(text):  # type: ignore[attr-defined]
            return Assessment(reason, permanent, False)
    coded = _by_code(status) or (_REPLY_REASON.get(reply or "") if not status or status.endswith(".0.0") else None)
    if coded in HARD_REASONS:
        return _dead(coded, status, klass, text, recipient, permanent)
    if coded is not None:
        return Assessment(coded, permanent, False)
    if status and status.startswith("5.7"):
        return Assessment(SECURITY, permanent, False)
    return Assessment(UNKNOWN if permanent else TEMPORARY, permanent, False)


def _dead(reason: str, status: str | None, klass: str, text: str, recipient: str | None, permanent: bool) -> Assessment:
    """A dead-reason wording or code, subject to the SMTP-context vetoes; a vetoed unknown user is ``filtered``."""
    veto = _veto(reason, status, klass, text, recipient)
    if veto == "filtered":
        return Assessment(FILTERED, permanent, False)
    hard = veto is None
    # The one 4.x.x exception (see _veto) gave up on a named-bad mailbox: permanent in effect.
    return Assessment(reason, permanent or hard, hard)


def classify(status: str | None, diagnostic: str | None, *, context: str | None = None,
             recipient: str | None = None) -> tuple[str, bool]:
    """Return (reason name, hard) from an RFC 3463 status and the server's text; text beats code."""
    a = assess(status, diagnostic, context=context, recipient=recipient)
    return (a.reason, a.hard)


def soft_statement(text: str | None) -> str | None:
    """The soft reason a free-text report states about its only recipient (full, suspended, too big)."""
    flat = re.sub(r"\s+", " ", text or "")
    for vocab, reason in ((v.FULL, MAILBOX_FULL), (v.SUSPENDED, SUSPENDED), (v.TOO_BIG, MESSAGE_TOO_BIG)):
        if vocab.search(flat):
            return reason
    return None


def _code_names_mailbox(status: str | None) -> bool:
    """True when an RFC 3463 5.x.x code itself says the mailbox or domain is bad (5.1.1, 5.1.2, 5.1.6, 5.1.10, 5.7.17/18)."""
    if not status or not status.startswith("5."):
        return False
    return ".".join(status.split(".")[1:3]) in _DEAD_CODES


def _veto(reason: str, status: str | None, klass: str, text: str, recipient: str | None) -> str | None:
    """Why a "dead address" verdict is vetoed ("transient", "filtered"), or None: doubt keeps the address alive."""
    if klass == "4" and not (reason == USER_UNKNOWN and status in ("4.1.1",) and not v.UNVERIFIED.search(text)):
        # RFC 3463: 4.x.x is persistent-transient.  The one exception is a report that gave up
        # on "4.1.1 user unknown" (Postfix soft_bounce / 450 alias tables): the mailbox is named bad.
        return "transient"
    if v.STAGE_NOT_RCPT.search(text) and not _code_names_mailbox(status):
        # Rejected after RCPT TO was accepted: the address exists and a filter spoke (Sisimai's
        # "filtered").  Only an explicit X.1.x mailbox code in the report overrides the stage
        # (Sendmail pipelining answers RCPT and DATA together).
        return "filtered" if reason == USER_UNKNOWN else "transient"
    if reason != USER_UNKNOWN:
        return None
    codes = {status or ""} | {".".join(m) for m in _STATUS.findall(text)}
    if any(c.startswith("5.7.") for c in codes) and not (v.STAGE_RCPT.search(text) and not v.POLICY.search(text)):
        # RFC 3463 X.7.x is policy: "5.7.1 user unknown" is usually a filter speaking, unless the
        # report shows the refusal was the answer to RCPT TO itself (the mailbox lookup).
        return "filtered"
    if (not any(_code_names_mailbox(c) for c in codes) and not v.STAGE_RCPT.search(text)
            and not v.LOOKUP_STATEMENT.search(text)):
        # No SMTP evidence at all: a generic phrase is Sisimai's "filtered"; a bare 4.1.1 code
        # stays an unknown user that is not (yet) proven.
        return "transient" if klass == "4" else "filtered"
    domain = (recipient or "").rpartition("@")[2].lower()
    if (any(domain == d or domain.endswith("." + d) for d in v.FILTERING_PROVIDERS)
            and v.ANONYMOUS_UNKNOWN.search(text)):
        return "filtered"
    return None
