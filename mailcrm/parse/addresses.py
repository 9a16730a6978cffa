"""Address headers -> Address values; free-mail domains; address normalisation."""

from __future__ import annotations

import email.header
import email.utils
import re
from functools import lru_cache

from mailcrm.parse.facts import Address
from mailcrm.parse.mime import decode_bytes, decode_header_value

# Local parts of mail-system robots (RFC 5321 4.5.1 postmaster, RFC 3464 reporting MTAs' MAILER-DAEMON):
# they send reports and are never a person, a contact or a failed recipient.  One list for every layer.
MAIL_SYSTEM_LOCALS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "post_master",
                                "double-bounce"})
# Senders that say in their name that nobody reads replies.
NO_REPLY_LOCALS = frozenset({"noreply", "no-reply", "donotreply", "do-not-reply"})


def local_part(address: str) -> str:
    """The lower-cased local part of ``address``."""
    return address.partition("@")[0].lower()


def is_mail_system(address: str) -> bool:
    """True for a mail-system robot (MAILER-DAEMON, postmaster...)."""
    return local_part(address) in MAIL_SYSTEM_LOCALS


def is_automated_sender(address: str | None) -> bool:
    """A robot or a no-reply sender (or no address at all): never a contact."""
    if not address:
        return True
    local = local_part(address)
    return local in MAIL_SYSTEM_LOCALS or local in NO_REPLY_LOCALS or local.startswith("mailer-daemon")

# Free-mail providers: contacts there are never grouped into a company by domain.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    """
    gmail.com googlemail.com yandex.ru ya.ru yandex.com yandex.by yandex.kz yandex.ua yandex.net
    mail.ru bk.ru list.ru inbox.ru internet.ru xmail.ru rambler.ru lenta.ru autorambler.ru myrambler.ru ro.ru
    outlook.com hotmail.com hotmail.co.uk live.com live.ru msn.com icloud.com me.com mac.com
    yahoo.com yahoo.co.uk ymail.com rocketmail.com gmx.com gmx.de gmx.net gmx.at gmx.ch web.de
    aol.com protonmail.com proton.me pm.me zoho.com tutanota.com tuta.io mail.com qip.ru pochta.ru
    ukr.net i.ua meta.ua tut.by fastmail.com hey.com
    """.split()
)

_ADDR_OK = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9\-._]+\.[A-Za-z0-9\-]{2,}$|^[^@\s<>\"]+@\[[0-9.:a-fA-F]+\]$|^[^@\s<>\"]+@localhost$")


def normalize_address(address: str) -> str:
    """Lower-case, strip brackets and a trailing dot; the form stored and compared."""
    a = address.strip().strip("<>").strip().rstrip(".")
    if a.lower().startswith("mailto:"):
        a = a[7:]
    return a.lower()


def is_valid_address(address: str) -> bool:
    """Cheap syntactic check used by the parser (email-validator runs at the CLI edge)."""
    return bool(_ADDR_OK.match(address)) and len(address) <= 254


def domain_of(address: str) -> str:
    """The domain part of an address, lower-cased."""
    return address.rpartition("@")[2].lower()


def is_free_mail(address: str, extra: frozenset[str] = frozenset()) -> bool:
    """True for addresses at free-mail providers (gmail, yandex, mail.ru, ...)."""
    d = domain_of(address)
    return d in FREE_MAIL_DOMAINS or d in extra


def _decode_name(name: str) -> str | None:
    if not name:
        return None
    if "\udc80" <= max(name) or any("\udc80" <= c <= "\udcff" for c in name):
        name = decode_bytes(name.encode("utf-8", "surrogateescape"), None)
    if "=?" in name:
        name = decode_header_value(name)
    name = re.sub(r"\s+", " ", name).strip().strip("'\"").strip()
    return name or None


def _header_text(value: email.header.Header) -> str:
    """A compat32 Header as text that keeps raw 8-bit bytes (RFC 6532 UTF-8, or a legacy charset)
    as surrogates, for ``_decode_name`` to decode after splitting; ``str(Header)`` would turn each
    such byte into U+FFFD ("Пётр Петров" sent unencoded, as swaks and some scripts do)."""
    out = []
    for piece, charset in email.header.decode_header(value):
        if isinstance(piece, str):
            out.append(piece)
        elif charset in (None, "unknown-8bit", "us-ascii"):
            out.append(piece.decode("ascii", "surrogateescape"))
        else:
            out.append(piece.decode(charset, "replace") if _known_charset(charset) else piece.decode("ascii", "surrogateescape"))
    return "".join(out)


def _known_charset(charset: str) -> bool:
    try:
        "".encode(charset)
    except LookupError:
        return False
    return True


def parse_address_header(values: list[str]) -> tuple[Address, ...]:
    """Parse raw (undecoded) address header values; names are decoded after splitting.

    Splitting before decoding keeps an encoded "Doe, John" as one name.
    """
    if all(type(v) is str for v in values):
        # The same people write again and again: the same From/To values recur (frozen results).
        return _parse_text_values(tuple(values))
    return _parse_address_header(values)


@lru_cache(maxsize=4096)
def _parse_text_values(values: tuple[str, ...]) -> tuple[Address, ...]:
    return _parse_address_header(list(values))


def _parse_address_header(values: list[str]) -> tuple[Address, ...]:
    raw = []
    for v in values:
        if isinstance(v, email.header.Header):
            v = _header_text(v)
        raw.append(str(v).replace("\r", " ").replace("\n", " "))
    try:
        pairs = email.utils.getaddresses(raw)
    except Exception:  # noqa: BLE001 - junk headers yield no addresses
        return ()
    out: list[Address] = []
    seen: set[str] = set()
    for name, addr in pairs:
        addr = normalize_address(addr)
        if "\udc80" <= max(addr, default="a"):
            addr = decode_bytes(addr.encode("utf-8", "surrogateescape"), None).lower()
        if not is_valid_address(addr) or addr in seen:
            continue
        seen.add(addr)
        out.append(Address(_decode_name(name), addr))
    return tuple(out)
