"""Hard vs soft: a bounce's status code and diagnostic text -> (reason name, hard).

"Hard" means only one thing here: the address itself is dead — the user or mailbox
does not exist, the host/domain does not exist, the mailbox has moved, or the domain
accepts no mail at all (RFC 7505 null MX, RFC 3463 X.3.2 "not accepting messages").
Everything else is soft, even with a 5.x.x code: a 5.7.x policy/spam/content rejection,
a blocked sender, a full or suspended mailbox, an expired queue entry, a network error.

The text beats the code when they disagree, because MTAs routinely send a generic code
("550 5.1.1 ... mailbox full", "554 5.7.1 user unknown").  Soft phrases are checked
before hard ones so that "User unknown ... or mailbox full" never kills an address.
The vocabulary is English plus Russian (Yandex, Mail.ru, Rambler) and common MTA texts;
it is a list of phrases, never knowledge of particular messages.

A "user unknown" verdict also needs its SMTP context to agree (after Sisimai's rules): a
refusal after DATA is a filter ("filtered", soft) unless an explicit X.1.x code names the
mailbox; a 5.7.x code is policy unless the refusal answered RCPT TO; and a generic phrase
with no reply code, no X.1.x code and no stage at all is doubt (soft) unless it is one of
the wordings MTAs use for their own failed mailbox lookup.
"""

from __future__ import annotations

import re

# Reason names (stable strings stored with the bounce).
USER_UNKNOWN = "user_unknown"
HOST_UNKNOWN = "host_unknown"
HAS_MOVED = "has_moved"
NOT_ACCEPT = "not_accept"
MAILBOX_FULL = "mailbox_full"
SUSPENDED = "suspended"
SPAM = "spam"
POLICY = "policy"
BLOCKED = "blocked"
SENDER_REJECTED = "sender_rejected"
AUTH_FAILURE = "auth_failure"
MESSAGE_TOO_BIG = "message_too_big"
CONTENT = "content"
EXPIRED = "expired"
NETWORK = "network"
TEMPORARY = "temporary"
SYSTEM = "system_error"
UNKNOWN = "unknown"

HARD_REASONS: frozenset[str] = frozenset({USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED, NOT_ACCEPT})


def _rx(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in phrases), re.I)


# --- soft vocabularies (checked first: any of these keeps an address alive) -------------------
_FULL = _rx(
    r"mailbox (?:is |was )?full", r"mail ?box full", r"over ?quota", r"quota (?:exceeded|exceed|full)",
    r"exceed(?:s|ed)? (?:the |their |his |her )?(?:storage|allowed size|quota|mailbox size|disk)",
    r"insufficient (?:system )?storage", r"mailfolder is full", r"mailbox size limit", r"disk quota",
    r"user(?:'s)? (?:mailbox|account) is (?:over|full)", r"too much mail", r"storage (?:space|limit)",
    r"not enough (?:disk |storage )?space", r"переполнен", r"превышен[аоы]? (?:квота|лимит|размер)", r"нет места", r"ящик заполнен",
    # other languages' reports
    r"postfach .{0,30}(?:ist )?voll", r"speicherplatz .{0,30}(?:erschöpft|überschritten)", r"boîte .{0,40}pleine",
    r"quota .{0,20}dépassé", r"buzón .{0,30}lleno", r"casella .{0,30}piena", r"skrzynka .{0,30}pełna",
    r"caixa .{0,30}cheia", r"schránka .{0,20}plná", r"postkasse .{0,20}(?:er )?fuld", r"brevlådan .{0,20}full",
    r"容量がいっぱい", r"メールボックスがいっぱい", r"邮箱已满", r"信箱已满", r"邮箱空间不足", r"скринька .{0,20}переповнен",
)
_SUSPENDED = _rx(
    r"suspended", r"disabled", r"deactivated", r"inactive", r"not active", r"account (?:is )?locked",
    r"account (?:is )?(?:frozen|blocked|closed temporarily)", r"temporarily (?:disabled|unavailable)",
    r"заблокирован", r"отключ[её]н", r"приостановлен", r"неактив",
)
_SENDER = _rx(
    r"sender (?:address )?(?:rejected|denied|refused|blocked|unknown|verify failed)", r"\[mail_from\]",
    r"after mail from", r"mail from:? ?<[^>]*> (?:rejected|denied)", r"sender domain", r"sender (?:is )?not allowed",
    r"unauthenticated senders", r"domain of sender", r"отправител[ья] (?:отклон|запрещ|заблок)",
)
_AUTH = _rx(r"dmarc", r"\bspf\b", r"dkim", r"unauthenticated", r"authentication (?:required|failed)")
_SPAM = _rx(
    r"spam", r"junk ?mail", r"bulk mail", r"unsolicited", r"blacklist", r"black list", r"blocklist", r"block list",
    r"\brbl\b", r"dnsbl", r"spamhaus", r"spamcop", r"barracuda", r"reputation", r"спам",
)
_BLOCKED = _rx(
    r"\bblocked\b", r"access denied", r"denied access", r"not allowed to send", r"refused to accept",
    r"reverse dns", r"\bptr\b", r"rdns", r"(?:invalid|bad) helo", r"helo (?:command )?rejected",
    r"refused due to", r"recipient preferences", r"refused by (?:the )?recipient", r"\bip\b.{0,40}(?:listed|rejected|blocked)",
    r"too many (?:connections|recipients|messages)", r"rate limit", r"throttl", r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited)",
    r"not a relay", r"relay not permitted", r"not permitted to relay", r"unable to relay", r"rcpthosts",
    r"доступ запрещ", r"заблокировано",
)
_POLICY = _rx(r"policy", r"prohibited", r"not permitted", r"not authorized", r"filter", r"rejected by (?:the )?recipient domain",
              r"header error", r"политик")
_CONTENT = _rx(r"virus", r"malware", r"(?:forbidden|banned|blocked|prohibited|dangerous) attachment", r"attachment (?:type )?(?:not allowed|rejected|blocked)",
               r"content (?:rejected|violation)", r"message content", r"infected", r"invalid mime", r"mime (?:error|format)",
               r"8-?bit (?:data|characters?) (?:not|rejected)", r"line too long")
_TOO_BIG = _rx(r"message (?:is )?too (?:large|big)", r"message size", r"size limit", r"exceeds (?:the )?(?:maximum )?(?:message )?size",
               r"message length exceeds", r"слишком больш")
_EXPIRED = _rx(
    r"expired", r"retry time(?:out)? (?:exceeded|reached)", r"too long in (?:the )?queue", r"in the queue too long",
    r"could not (?:be )?deliver(?:ed)? for", r"giving up", r"retry timeout", r"gave up",
    r"delivery time ?out", r"истек", r"истёк",
)
_NETWORK = _rx(
    r"timed? ?out", r"connection (?:refused|reset|closed|timed)", r"could not connect", r"unable to connect",
    r"couldn'?t connect", r"network (?:is )?unreachable", r"no route to host", r"lost connection",
    r"temporar(?:y|ily)", r"try again later", r"greylist", r"deferred", r"resources", r"tls",
)

# Local delivery agents and DNS trouble: the address may be fine.
_SYSTEM = _rx(
    r"procmail", r"maildrop", r"couldn'?t create", r"can'?t create", r"mailer error", r"command (?:died|failed)", r"pipe to",
    r"mail loop", r"loops back", r"too many hops", r"local delivery failed", r"no such file or directory",
)
_DNS_TEMP = _rx(r"malformed (?:or unexpected )?name server reply", r"servfail", r"name server (?:failure|timeout)",
                r"not found, try again", r"dns (?:timeout|temporary|lookup timed out)")

# --- hard vocabularies --------------------------------------------------------------------
_USER = _rx(
    r"user (?:is )?unknown", r"unknown (?:user|recipient|mailbox|local ?part|account|address)", r"no such (?:user|recipient|mailbox|account|address|person)",
    r"user (?:does )?not (?:exist|found)", r"user doesn'?t exist", r"(?:mailbox|account|address|recipient|user(?:name)?) (?:does not|doesn'?t) exist",
    r"(?:mailbox|account|address|recipient|user) (?:not found|unavailable or not found)", r"recipient(?:s)? not found", r"recip(?:ient)?notfound",
    r"invalid (?:recipient|mailbox|user|address|final delivery userid)", r"not a valid (?:user|mailbox|recipient|address)",
    r"no mailbox here", r"mailbox not (?:found|available)", r"no account (?:by that name|here)",
    r"(?:is|was) not (?:a )?(?:known|valid) user", r"unrouteable address", r"not listed in (?:the )?(?:domino )?(?:public )?directory",
    r"no such local user", r"addressee unknown", r"recipient (?:unknown|invalid)", r"bad (?:recipient|destination mailbox)",
    r"address unknown", r"bad[ _-]recipient", r"\bdoes ?n[o']t exist\b", r"address (?:couldn'?t|could not) be found",
    r"address not found", r"no valid recipients", r"doesn'?t have an? .{1,40} account", r"account (?:has been )?(?:removed|deleted|terminated|does not exist)",
    r"email address (?:you entered )?(?:wasn'?t|was not|couldn'?t be|could not be) found", r"not our customer",
    r"пользовател[ья] (?:не найден|не существует|нет)", r"нет такого (?:пользователя|адреса|ящика|получателя)",
    r"(?:адрес|ящик|получатель|почтовый ящик|аккаунт)[а-я ]{0,20} не существует", r"не существует", r"неверный адрес",
    r"несуществующ", r"адресат не найден", r"такого (?:ящика|адреса|пользователя) нет", r"получатель не найден",
    # "does not exist" / "unknown recipient" in other languages' reports
    r"existiert nicht", r"unbekannte[rn]? (?:empfänger|benutzer|adresse)", r"n'existe pas", r"(?:destinataire|utilisateur) inconnu",
    r"adresse (?:de messagerie )?(?:est )?introuvable", r"(?:usuario|destinatario) desconocido", r"(?:utente|destinatario) sconosciuto",
    r"bestaat niet", r"onbekende (?:ontvanger|gebruiker|geadresseerde)", r"nie istnieje", r"nieznany (?:adresat|odbiorca|użytkownik)",
    r"não existe", r"(?:usuário|destinatário) desconhecido", r"存在しません", r"宛先不明", r"不存在", r"не існує",
    r"neexistuje", r"finns inte", r"eksisterer ikke", r"ei ole olemassa", r"nem létezik", r"mevcut değil", r"존재하지 않",
    r"(?:dirección|direccion|indirizzo|endereço|adres|adresse) .{0,30}(?:no existe|non esiste|não existe|bestaat niet|n'existe pas)",
)
# The wordings MTAs use for their own failed mailbox lookup (Sisimai's per-MTA message tables:
# Domino, iMail, qmail, Exim, Dovecot, Gmail, Exchange ...).  Any other "user unknown" phrase
# is generic: without an SMTP reply code, an X.1.x code or the RCPT stage around it, it may be
# a filter's wording and Sisimai calls it "filtered" (soft).
_LOOKUP_STATEMENT = _rx(
    r"user (?:is )?unknown", r"unknown (?:user|recipient|mailbox|local ?part)", r"no such (?:user|recipient|mailbox|person)",
    r"user (?:does )?not (?:exist|found)", r"user doesn'?t exist", r"mailbox (?:does not|doesn'?t) exist", r"recipients? not found",
    r"recip(?:ient)?notfound", r"invalid (?:recipient|mailbox|final delivery userid)", r"no mailbox here", r"mailbox not found",
    r"not listed in (?:the )?(?:domino )?(?:public )?directory", r"no valid recipients", r"address (?:couldn'?t|could not) be found",
    r"address not found", r"email address (?:you entered )?(?:wasn'?t|was not|couldn'?t be|could not be) found",
    r"addressee unknown", r"unrouteable address", r"пользовател[ья] (?:не найден|не существует|нет)", r"нет такого",
    r"(?:адрес|ящик|получатель|почтовый ящик|аккаунт)[а-я ]{0,20} не существует", r"(?:адресат|получатель) не найден",
    r"такого (?:ящика|адреса|пользователя) нет", r"несуществующ",
)
_HOST = _rx(
    r"host (?:or domain name )?not found", r"host unknown", r"unknown host", r"domain (?:not found|does not exist|unknown|name not found)",
    r"no such domain", r"unknown domain", r"nxdomain", r"name or service not known", r"no (?:mx|a) record", r"mx (?:record )?not found",
    r"unrouteable domain", r"domain (?:is )?(?:invalid|not registered)", r"host name lookup failure", r"домен не (?:найден|существует)",
    r"domain [\w.-]{1,60} (?:does not|doesn'?t) exist", r"(?:domain|domäne) .{0,40}existiert nicht", r"domaine .{0,40}(?:n'existe pas|inexistant|introuvable)",
    r"dominio .{0,40}(?:no existe|inesistente|inexistente)", r"domena .{0,40}nie istnieje", r"домен .{0,40}не існує",
    r"ドメインが存在しません", r"域名不存在",
)
_MOVED = _rx(r"(?:mailbox|user|address|recipient) has moved", r"has been moved", r"no longer (?:valid|available|in use|exists|used)",
             r"moved permanently", r"address changed")
_NOT_ACCEPT = _rx(r"does not accept (?:any )?(?:e-?)?mail", r"not accepting (?:any )?(?:network )?(?:e-?)?(?:mail|messages)",
                  r"accepts no mail", r"null mx", r"domain does not receive mail")

# Stages of the SMTP dialogue that are not about the recipient (RFC 5321 §3.3): a rejection
# there says nothing about whether the address exists.
_STAGE_SENDER = _rx(r"after mail from", r"\bmail from\b.{0,60}(?:rejected|denied)", r"\[mail_from\]", r">>> mail from")
_STAGE_NOT_RCPT = _rx(r"after (?:initial connection|end of data|data|helo|ehlo|the message)", r"final data", r"failed after i sent the message",
                      r"after (?:sending|sent) (?:the )?message", r"\[data\]", r"in reply to (?:end of )?data command",
                      r"smtp command\W+data\b", r">>> data\b")
# The answer to RCPT TO, where a server looks the mailbox up (RFC 5321 §4.1.1.3).
_STAGE_RCPT = _rx(r"after rcpt(?: to)?\b", r">>> rcpt to", r"in reply to rcpt to command", r"\[rcpt_to\]",
                  r"following rcpt command", r"smtp:rcpt\b")
# Providers known to answer "User unknown" when their own per-user filter refuses a sender
# (au/KDDI ezweb.ne.jp, au.com): the address exists.
# They say so without naming the mailbox ("550 : User unknown"); a named one is a real refusal.
_FILTERING_PROVIDERS = ("ezweb.ne.jp", "au.com")
_ANONYMOUS_UNKNOWN = re.compile(r"\b5\d\d:? ?: user unknown", re.I)
_UNVERIFIED = re.compile(r"unverified address|address verification|verify (?:failed|in progress)|try again", re.I)

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\d.])([245]\d\d)(?:[ \-]|$)")


def find_status(text: str | None) -> str | None:
    """The first RFC 3463 enhanced status code (e.g. "5.1.1") in a text, or None."""
    m = _STATUS.search(text or "")
    return ".".join(m.groups()) if m else None


def find_reply_code(text: str | None) -> str | None:
    """The first RFC 5321 reply code (e.g. "550") in a text, or None."""
    m = _REPLY.search(text or "")
    return m.group(1) if m else None


def _by_code(status: str | None) -> tuple[str, bool] | None:
    """RFC 3463 subject/detail fallback when the text says nothing recognisable."""
    if not status:
        return None
    klass, subject, detail = (status.split(".") + ["", "", ""])[:3]
    if klass == "4":
        return (TEMPORARY, False)
    if klass != "5":
        return None
    if subject == "1":
        # X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax (soft: a typo'd address in our
        # own records is still worth a look), X.1.6 moved, X.1.10 null MX (RFC 7505).
        return {"1": (USER_UNKNOWN, True), "2": (HOST_UNKNOWN, True), "6": (HAS_MOVED, True),
                "10": (NOT_ACCEPT, True)}.get(detail, (UNKNOWN, False))
    if subject == "2":
        return {"2": (MAILBOX_FULL, False), "1": (SUSPENDED, False), "3": (MESSAGE_TOO_BIG, False)}.get(detail, (UNKNOWN, False))
    if subject == "3":
        return (MESSAGE_TOO_BIG, False) if detail == "4" else (SYSTEM, False)
    if subject == "4":
        return {"4": (HOST_UNKNOWN, True), "7": (EXPIRED, False)}.get(detail, (NETWORK, False))
    if subject == "6":
        return (CONTENT, False)
    if subject == "7":
        # X.7.26 multiple authentication checks failed; X.7.27 *sender* address has null MX
        # (RFC 7505): neither says anything about the recipient.
        return {"26": (AUTH_FAILURE, False), "27": (SENDER_REJECTED, False)}.get(detail, (POLICY, False))
    return (UNKNOWN, False)


def classify(status: str | None, diagnostic: str | None, *, context: str | None = None,
             recipient: str | None = None) -> tuple[str, bool]:
    """Return (reason name, hard) from an RFC 3463 status and the server's text; text beats code.

    ``context`` is the report text around the recipient (the SMTP dialogue); it can only make
    a verdict softer, except when the diagnostic itself says nothing.
    """
    diag = re.sub(r"\s+", " ", diagnostic or "").strip()
    ctx = re.sub(r"\s+", " ", context or "").strip()
    text = f"{diag} {ctx}".strip()
    status = status or find_status(diag) or find_status(ctx)
    if not text and not status:
        return (UNKNOWN, False)
    klass = status[0] if status else (find_reply_code(text) or " ")[0]
    # Not about the recipient at all: the server refused our sender or the message body.
    if _STAGE_SENDER.search(text) or _SENDER.search(text):
        return (AUTH_FAILURE if _AUTH.search(text) else SENDER_REJECTED, False)
    for vocab, reason in ((_FULL, MAILBOX_FULL), (_TOO_BIG, MESSAGE_TOO_BIG), (_SUSPENDED, SUSPENDED), (_SYSTEM, SYSTEM),
                          (_DNS_TEMP, NETWORK), (_AUTH, AUTH_FAILURE), (_SPAM, SPAM), (_CONTENT, CONTENT), (_BLOCKED, BLOCKED)):
        if vocab.search(text):
            return (reason, False)
    hard_hit: str | None = None
    for vocab, reason in ((_MOVED, HAS_MOVED), (_HOST, HOST_UNKNOWN), (_NOT_ACCEPT, NOT_ACCEPT), (_USER, USER_UNKNOWN)):
        if vocab.search(text):
            hard_hit = reason
            break
    if hard_hit is not None:
        return (hard_hit, _hard_allowed(hard_hit, status, klass, text, recipient))
    if _POLICY.search(text):
        return (POLICY, False)
    if _EXPIRED.search(text):
        return (EXPIRED, False)
    if _NETWORK.search(text):
        return (NETWORK, False)
    coded = _by_code(status)
    if coded is not None:
        reason, hard = coded
        return (reason, hard and _hard_allowed(reason, status, klass, text, recipient))
    return (UNKNOWN, False)


def soft_statement(text: str | None) -> str | None:
    """The soft reason a free-text report states about its only recipient (full, suspended, too big)."""
    flat = re.sub(r"\s+", " ", text or "")
    for vocab, reason in ((_FULL, MAILBOX_FULL), (_SUSPENDED, SUSPENDED), (_TOO_BIG, MESSAGE_TOO_BIG)):
        if vocab.search(flat):
            return reason
    return None


def _code_names_mailbox(status: str | None) -> bool:
    """True when an RFC 3463 code itself says the mailbox or domain is bad (5.1.1, 5.1.2, 5.1.6, 5.1.10)."""
    coded = _by_code(status) if status and status.startswith("5.") else None
    return bool(coded and coded[1])


def _hard_allowed(reason: str, status: str | None, klass: str, text: str, recipient: str | None) -> bool:
    """Vetoes on a "dead address" verdict: doubt keeps the address alive (soft bounces still add up)."""
    if klass == "4" and not (reason == USER_UNKNOWN and status in ("4.1.1",) and not _UNVERIFIED.search(text)):
        # RFC 3463: 4.x.x is persistent-transient.  The one exception is a report that gave up
        # on "4.1.1 user unknown" (Postfix soft_bounce / 450 alias tables): the mailbox is named bad.
        return False
    if _STAGE_NOT_RCPT.search(text) and not _code_names_mailbox(status):
        # Rejected after RCPT TO was accepted: the address exists and a filter spoke (Sisimai's
        # "filtered").  Only an explicit X.1.x mailbox code in the report overrides the stage
        # (Sendmail pipelining answers RCPT and DATA together).
        return False
    codes = {status or ""} | {".".join(m) for m in _STATUS.findall(text)}
    if (reason == USER_UNKNOWN and any(c.startswith("5.7.") for c in codes)
            and not (_STAGE_RCPT.search(text) and not _POLICY.search(text))):
        # RFC 3463 X.7.x is policy: "5.7.1 user unknown" is usually a filter speaking, unless the
        # report shows the refusal was the answer to RCPT TO itself (the mailbox lookup).
        return False
    if (reason == USER_UNKNOWN and not any(_code_names_mailbox(c) for c in codes) and not _STAGE_RCPT.search(text)
            and not (find_reply_code(text) or "").startswith("5") and not _LOOKUP_STATEMENT.search(text)):
        return False  # a generic phrase with no SMTP evidence at all: doubt keeps the address alive
    domain = (recipient or "").rpartition("@")[2].lower()
    if (reason == USER_UNKNOWN and any(domain == d or domain.endswith("." + d) for d in _FILTERING_PROVIDERS)
            and _ANONYMOUS_UNKNOWN.search(text)):
        return False
    return True
