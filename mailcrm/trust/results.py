"""Authentication-Results headers (RFC 8601) from authserv-ids the user trusts (their own MX
or IMAP provider): a pass there proves the From domain as our own checks would.

Only the topmost header of each trusted authserv-id counts: the receiving MX adds its own at
the top and must remove look-alikes below (RFC 8601 section 5); a header further down, or
from any other id, is what the sender wrote and proves nothing.

ARC (RFC 8617): an ARC-Authentication-Results header is the same record, sealed by the
intermediary that wrote it (a mailing service that re-signs forwarded mail).  It proves the
author only when the whole chain validates (cv=pass, checked by the verifier), the newest seal
is by a sealer the user trusts, and that instance's results show an aligned DKIM or SPF pass.
"""

from __future__ import annotations

import email.parser
import email.policy

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def _headers(raw: bytes, name: str) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw[:262144] else raw.split(b"\n\n", 1)[0]
    try:
        return [str(v) for v in _HEADER_PARSER.parsebytes(head[:262144]).get_all(name) or []]
    except Exception:  # noqa: BLE001 - unreadable headers: none
        return []


def _tags(value: str) -> dict[str, str]:
    """``tag=value; ...`` of an ARC-Seal (RFC 8617 section 4.1.3, DKIM tag-list syntax)."""
    out: dict[str, str] = {}
    for part in "".join(value.split()).split(";"):
        k, sep, v = part.partition("=")
        if sep:
            out.setdefault(k.lower(), v)
    return out


def _aligned_pass(results: object, from_domain: str, *, dmarc: bool) -> bool:
    """Does a parsed results header show a DMARC pass (when ``dmarc``) or an aligned DKIM or SPF pass?"""
    from mailcrm.trust.verify import aligned

    for r in getattr(results, "results", []):
        method, result = str(r.method).lower(), str(r.result).lower()
        if result != "pass":
            continue
        props = {f"{p.type}.{p.name}".lower(): str(p.value).lower() for p in r.properties}
        if dmarc and method == "dmarc" and props.get("header.from", from_domain) == from_domain:
            return True
        if method == "dkim" and aligned(props.get("header.d") or props.get("header.i", "").rpartition("@")[2],
                                        from_domain):
            return True
        if method == "spf" and aligned(props.get("smtp.mailfrom", "").rpartition("@")[2], from_domain):
            return True
    return False


def newest_arc_sealer(raw: bytes) -> tuple[int, str] | None:
    """(i=, d=) of the newest ARC-Seal (the highest instance), or None without a readable one."""
    best: tuple[int, str] | None = None
    for value in _headers(raw, "ARC-Seal"):
        tags = _tags(value)
        try:
            instance = int(tags.get("i", ""))
        except ValueError:
            continue
        domain = tags.get("d", "").lower().rstrip(".")
        if domain and (best is None or instance > best[0]):
            best = (instance, domain)
    return best


def trusted_arc(raw: bytes, sealers: frozenset[str], from_domain: str) -> str | None:
    """The trusted sealer whose newest ARC instance shows an aligned DKIM/SPF pass for ``from_domain``.

    The caller must have validated the chain (cv=pass): only then are the seal's d= and the
    sealed ARC-Authentication-Results that sealer's own words.  A sealer matches a trusted
    domain or a sub-domain of one.
    """
    import authres

    newest = newest_arc_sealer(raw)
    if newest is None:
        return None
    instance, domain = newest
    if not any(domain == s or domain.endswith("." + s) for s in sealers):
        return None
    for value in _headers(raw, "ARC-Authentication-Results"):
        head, sep, rest = " ".join(value.split()).partition(";")
        k, _, v = head.strip().partition("=")
        if not sep or k.strip().lower() != "i" or v.strip() != str(instance):
            continue
        try:
            header = authres.AuthenticationResultsHeader.parse_value(rest.strip())
        except Exception:  # noqa: BLE001 - a malformed header proves nothing
            return None
        return domain if _aligned_pass(header, from_domain, dmarc=False) else None
    return None


def trusted_results(raw: bytes, trusted: frozenset[str], from_domain: str) -> bool:
    """True when a trusted Authentication-Results header passes DMARC, or an aligned DKIM or SPF."""
    import authres

    values = _headers(raw, "Authentication-Results")
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
        if _aligned_pass(header, from_domain, dmarc=True):
            return True
    return False
