"""Authentication-Results headers (RFC 8601) from authserv-ids the user trusts (their own MX
or IMAP provider): a pass there proves the From domain as our own checks would.

Only the topmost header of each trusted authserv-id counts: the receiving MX adds its own at
the top and must remove look-alikes below (RFC 8601 section 5); a header further down, or
from any other id, is what the sender wrote and proves nothing.
"""

from __future__ import annotations

import email.parser
import email.policy

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def trusted_results(raw: bytes, trusted: frozenset[str], from_domain: str) -> bool:
    """True when a trusted Authentication-Results header passes DMARC, or an aligned DKIM or SPF."""
    import authres

    from mailcrm.trust.verify import aligned

    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw[:262144] else raw.split(b"\n\n", 1)[0]
    try:
        values = [str(v) for v in _HEADER_PARSER.parsebytes(head[:262144]).get_all("Authentication-Results") or []]
    except Exception:  # noqa: BLE001
        return False
    seen: set[str] = set()
    for value in values:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
        except Exception:  # noqa: BLE001 - a malformed header proves nothing
            continue
        sid = str(header.authserv_id or "").lower()
        if sid in seen:
            continue
        seen.add(sid)
        if sid not in trusted:
            continue
        for r in header.results:
            method, result = str(r.method).lower(), str(r.result).lower()
            if result != "pass":
                continue
            props = {f"{p.type}.{p.name}".lower(): str(p.value).lower() for p in r.properties}
            if method == "dmarc" and props.get("header.from", from_domain) == from_domain:
                return True
            if method == "dkim" and aligned(props.get("header.d") or props.get("header.i", "").rpartition("@")[2],
                                            from_domain):
                return True
            if method == "spf" and aligned(props.get("smtp.mailfrom", "").rpartition("@")[2], from_domain):
                return True
    return False
