"""Phrase families of delivery-failure reports, one per Sisimai reason (see ``bounce_reason``).

Each family is the general wording MTAs use for one cause, written after Sisimai's reason
documentation (lib/Sisimai/Reason/*: userunknown, filtered, blocked, ...), the RFC 3463 /
RFC 5248 descriptions of the status codes and the texts of common MTAs, in English and in the
languages of localised reports.  They are phrases, never knowledge of particular messages.
"""

from __future__ import annotations

import re


def _rx(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in phrases), re.I)


# --- soft vocabularies (checked first: any of these keeps an address alive) -------------------
FULL = _rx(
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
SUSPENDED = _rx(
    r"suspended", r"disabled", r"deactivated", r"inactive", r"not active", r"account (?:is )?locked",
    r"account (?:is )?(?:frozen|blocked|closed temporarily)", r"temporarily (?:disabled|unavailable)",
    r"заблокирован", r"отключ[её]н", r"приостановлен", r"неактив",
)
SENDER = _rx(
    r"sender (?:address )?(?:rejected|denied|refused|blocked|unknown|verify failed)", r"\[mail_from\]",
    r"after mail from", r"mail from:? ?<[^>]*> (?:rejected|denied)", r"sender domain", r"sender (?:is )?not allowed",
    r"unauthenticated senders", r"domain of sender", r"отправител[ья] (?:отклон|запрещ|заблок)",
)
AUTH = _rx(r"dmarc", r"\bspf\b", r"dkim", r"unauthenticated", r"authentication (?:required|failed)")
SPAM = _rx(
    r"spam", r"junk ?mail", r"bulk mail", r"unsolicited", r"blacklist", r"black list", r"blocklist", r"block list",
    r"\brbl\b", r"dnsbl", r"spamhaus", r"spamcop", r"barracuda", r"reputation", r"спам",
)
BLOCKED = _rx(
    r"\bblocked\b", r"access denied", r"denied access", r"not allowed to send", r"refused to accept",
    r"reverse dns", r"\bptr\b", r"rdns", r"(?:invalid|bad) helo", r"helo (?:command )?rejected",
    r"refused due to", r"\bip\b.{0,40}(?:listed|rejected|blocked)", r"client host .{0,40}rejected",
    r"доступ запрещ", r"заблокировано",
)
POLICY = _rx(r"policy", r"prohibited", r"not permitted", r"not authorized", r"filter",
              r"header error", r"политик")
CONTENT = _rx(r"(?:forbidden|banned|blocked|prohibited|dangerous) attachment", r"attachment (?:type )?(?:not allowed|rejected|blocked)",
               r"content (?:rejected|violation)", r"message content", r"infected", r"invalid mime", r"mime (?:error|format)",
               r"8-?bit (?:data|characters?) (?:not|rejected)", r"line too long")
TOO_BIG = _rx(r"message (?:is )?too (?:large|big)", r"message size", r"size limit", r"exceeds (?:the )?(?:maximum )?(?:message )?size",
               r"message length exceeds", r"слишком больш")
EXPIRED = _rx(
    r"expired", r"retry time(?:out)? (?:exceeded|reached)", r"too long in (?:the )?queue", r"in the queue too long",
    r"could not (?:be )?deliver(?:ed)? for", r"giving up", r"retry timeout", r"gave up",
    r"delivery time ?out", r"истек", r"истёк",
)
NETWORK = _rx(
    r"timed? ?out", r"connection (?:refused|reset|closed|timed)", r"could not connect", r"unable to connect",
    r"couldn'?t connect", r"network (?:is )?unreachable", r"no route to host", r"lost connection",
    r"temporar(?:y|ily)", r"try again later", r"greylist", r"deferred", r"resources", r"tls",
)

# Local delivery agents (Sisimai mailererror) and DNS trouble: the address may be fine.
SYSTEM = _rx(
    r"procmail", r"maildrop", r"couldn'?t create", r"can'?t create", r"mailer error", r"command (?:died|failed)", r"pipe to",
    r"local delivery failed", r"no such file or directory", r"x-unix;",
)
DNS_TEMP = _rx(r"malformed (?:or unexpected )?name server reply", r"servfail", r"name server (?:failure|timeout)",
                r"not found, try again", r"dns (?:timeout|temporary|lookup timed out)")

# --- hard vocabularies --------------------------------------------------------------------
USER = _rx(
    r"user (?:is )?unknown", r"unknown (?:user|recipient|mailbox|local ?part|account|address)",
    r"no such (?:user|recipient|mailbox|account|address|person)",
    r"user (?:does )?not (?:exist|found)", r"user doesn'?t exist",
    r"(?:mailbox|account|address|recipient|user(?:name)?) (?:does not|doesn'?t) exist",
    r"(?:mailbox|account|address|recipient|user) (?:not found|unavailable or not found)", r"recipient(?:s)? not found", r"recip(?:ient)?notfound",
    r"invalid (?:recipient|mailbox|user|address|final delivery userid)", r"not a valid (?:user|mailbox|recipient|address)",
    r"no mailbox here", r"mailbox not (?:found|available)", r"no account (?:by that name|here)",
    r"(?:is|was) not (?:a )?(?:known|valid) user", r"unrouteable address", r"not listed in (?:the )?(?:domino )?(?:public )?directory",
    r"no such local user", r"addressee unknown", r"recipient (?:unknown|invalid)", r"bad (?:recipient|destination mailbox)",
    r"address unknown", r"bad[ _-]recipient", r"\bdoes ?n[o']t exist\b", r"address (?:couldn'?t|could not) be found",
    r"address not found", r"no valid recipients", r"doesn'?t have an? .{1,40} account",
    r"account (?:has been )?(?:removed|deleted|terminated|does not exist)",
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
LOOKUP_STATEMENT = _rx(
    r"user (?:is )?unknown", r"unknown (?:user|recipient|mailbox|local ?part)", r"no such (?:user|recipient|mailbox|person)",
    r"user (?:does )?not (?:exist|found)", r"user doesn'?t exist", r"mailbox (?:does not|doesn'?t) exist", r"recipients? not found",
    r"recip(?:ient)?notfound", r"invalid (?:recipient|mailbox|final delivery userid)", r"no mailbox here", r"mailbox not found",
    r"not listed in (?:the )?(?:domino )?(?:public )?directory", r"no valid recipients", r"address (?:couldn'?t|could not) be found",
    r"address not found", r"email address (?:you entered )?(?:wasn'?t|was not|couldn'?t be|could not be) found",
    r"addressee unknown", r"unrouteable address", r"пользовател[ья] (?:не найден|не существует|нет)", r"нет такого",
    r"(?:адрес|ящик|получатель|почтовый ящик|аккаунт)[а-я ]{0,20} не существует", r"(?:адресат|получатель) не найден",
    r"такого (?:ящика|адреса|пользователя) нет", r"несуществующ",
    # Providers' own lookup wordings (Sisimai's userunknown list: Gmail, Yahoo, iCloud ...)
    r"email account that you tried to reach does not exist", r"no such person",
    r"is not a valid mailbox", r"there is no one at this address", r"no mailbox by that name",
)
HOST = _rx(
    r"host (?:or domain name )?not found", r"host unknown", r"unknown host", r"domain (?:not found|does not exist|unknown|name not found)",
    r"no such domain", r"unknown domain", r"nxdomain", r"name or service not known", r"no (?:mx|a) record", r"mx (?:record )?not found",
    r"unrouteable domain", r"domain (?:is )?(?:invalid|not registered)", r"host name lookup failure", r"домен не (?:найден|существует)",
    r"domain [\w.-]{1,60} (?:does not|doesn'?t) exist", r"(?:domain|domäne) .{0,40}existiert nicht",
    r"domaine .{0,40}(?:n'existe pas|inexistant|introuvable)",
    r"dominio .{0,40}(?:no existe|inesistente|inexistente)", r"domena .{0,40}nie istnieje", r"домен .{0,40}не існує",
    r"ドメインが存在しません", r"域名不存在",
)
MOVED = _rx(r"(?:mailbox|user|address|recipient) has moved", r"has been moved", r"no longer (?:valid|available|in use|exists|used)",
             r"moved permanently", r"address changed")
# RFC 7505 null MX, RFC 7504 556/521 and RFC 3463 X.3.2: the *domain or host* takes no mail.  A
# mailbox "not accepting mail (from you)" is the recipient's filter (Sisimai: filtered).
NOT_ACCEPT = _rx(r"(?:domain|host|server|system) (?:does not|doesn'?t) accept (?:any )?(?:e-?)?mail", r"accepts no mail",
                  r"null mx", r"domain does not receive mail", r"not accepting network messages",
                  r"(?:domain|host) (?:is )?not accepting (?:any )?(?:e-?)?mail")

# Stages of the SMTP dialogue that are not about the recipient (RFC 5321 §3.3): a rejection
# there says nothing about whether the address exists.
STAGE_SENDER = _rx(r"after mail from", r"\bmail from\b.{0,60}(?:rejected|denied)", r"\[mail_from\]", r">>> mail from")
STAGE_NOT_RCPT = _rx(r"after (?:initial connection|end of data|data|helo|ehlo|the message)", r"final data", r"failed after i sent the message",
                      r"after (?:sending|sent) (?:the )?message", r"\[data\]", r"in reply to (?:end of )?data command",
                      r"smtp command\W+data\b", r">>> data\b")
# The answer to RCPT TO, where a server looks the mailbox up (RFC 5321 §4.1.1.3).
STAGE_RCPT = _rx(r"after rcpt(?: to)?\b", r">>> rcpt to", r"in reply to rcpt to command", r"\[rcpt_to\]",
                  r"following rcpt command", r"smtp:rcpt\b")
# Japanese mobile carriers answer "User unknown" when the recipient's own reception filter refuses
# a sender (Sisimai's "filtered" documentation): the address exists.  They say so without naming
# the mailbox ("550 : User unknown"); a named one is a real refusal.
FILTERING_PROVIDERS = ("ezweb.ne.jp", "au.com", "docomo.ne.jp", "softbank.ne.jp", "i.softbank.jp", "vodafone.ne.jp",
                       "disney.ne.jp", "pdx.ne.jp", "willcom.com", "emnet.ne.jp", "ymobile.ne.jp")
ANONYMOUS_UNKNOWN = re.compile(r"\b5\d\d:? ?: user unknown", re.I)
UNVERIFIED = re.compile(r"unverified address|address verification|verify (?:failed|in progress)|try again", re.I)


# --- families split out after Sisimai's taxonomy ------------------------------------------
# filtered: the recipient's own (or the carrier's per-recipient) filter refused the sender; the
# mailbox exists (Sisimai Reason::Filtered; X.2.0/X.2.1/X.2.4 in its code table).
FILTERED = _rx(
    r"user ?reject", r"refuses? to (?:receive|accept) (?:this |your |the )?(?:mail|e-?mail|message)", r"message filtered",
    r"rejected (?:due to|by) (?:the )?(?:user|recipient)(?:'s)? (?:rules|preferences|filters?|settings)",
    r"(?:due to|by) (?:the )?recipient(?:'s)? (?:preferences|filters?|settings|rules)", r"blocked by (?:the )?recipient",
    r"(?:only|exclusively) accept(?:s|ing)? (?:e-?)?mail from", r"not accepting (?:any )?(?:e-?)?mail from",
    r"(?:mailbox|user|recipient|account) (?:is )?not accepting (?:any )?(?:e-?)?(?:mail|messages)",
    r"account is protected", r"restricted (?:sms )?e-?mail", r"(?:domain|address|sender|mail) (?:filter|block) (?:setting|list)",
    r"recipient (?:id )?refuses?", r"Empfänger (?:lehnt|verweigert)", r"destinataire refuse", r"получатель (?:запретил|отказ)",
    r"受信拒否", r"拒收",
)
# norelaying: the server is not the recipient domain's MX and refuses to relay (RFC 5321 §3.6.2).
RELAY = _rx(r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)", r"not a relay", r"not permitted to relay",
             r"unable to relay", r"we do not relay", r"rcpthosts", r"relaying (?:is )?not (?:allowed|permitted)")
# toomanyconn / speeding: the server limits our connections or our sending rate (RFC 3463 X.5.3, X.4.5).
TOO_MANY_CONN = _rx(r"too many (?:simultaneous |concurrent |open )?connections", r"connection limit", r"too many recipients",
                     r"too many sessions")
SPEEDING = _rx(r"rate limit", r"rate-limit", r"throttl", r"too many (?:messages|mails|emails)", r"sending (?:too fast|rate)",
                r"(?:message|sending|connection) rate", r"slow down", r"too fast")
# virusdetected: a virus scanner refused the message (Sisimai Reason::VirusDetected).
VIRUS = _rx(r"virus", r"malware", r"infected", r"trojan", r"\bworm\b", r"вирус", r"Virus gefunden")
# exceedlimit: X.2.3 "message length exceeds administrative limit" (per-mailbox limit).
EXCEED = _rx(r"exceeds? (?:the )?(?:administrative|per[- ]user|per[- ]mailbox|mailbox) (?:message )?(?:size |length )?limit",
              r"message length exceeds administrative limit")
# systemfull: X.3.1 the whole mail system, not one mailbox, is out of storage.
SYSTEM_FULL = _rx(r"mail system (?:is )?full", r"insufficient system storage", r"system storage", r"disk (?:is )?full",
                   r"no space left on device")
# systemerror (not mailererror): loops and the remote system's own faults (RFC 3463 X.3.0, X.4.6).
SYSTEM_FAULT = _rx(r"mail loop", r"loops back", r"too many hops", r"routing loop", r"local error in processing",
                    r"internal (?:server )?error", r"system (?:error|failure)")
# syntaxerror: the dialogue itself failed (RFC 5321 500-504, RFC 3463 X.5.x).
SYNTAX = _rx(r"syntax error", r"command (?:not )?(?:unrecognized|recognized)", r"bad sequence of commands",
              r"command not implemented", r"invalid command")
# securityerror: encryption or certificates (RFC 3463 X.7.3-X.7.11).
SECURITY = _rx(r"encryption (?:required|needed)", r"tls (?:is )?required", r"must issue a starttls", r"certificate",
                r"authentication mechanism is too weak", r"credentials invalid")
