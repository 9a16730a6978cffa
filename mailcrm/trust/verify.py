"""Verify a message's sender: DKIM (RFC 6376, dkimpy), SPF for the envelope sender and HELO
(RFC 7208, pyspf), DMARC identifier alignment with the organisational domain (RFC 7489
section 3.1; the public suffix list bundled with authheaders) and ARC (RFC 8617, dkimpy).

Every DNS failure ends as ``temperror`` for the check that needed it; ``verify`` never raises
on a message, whatever its bytes.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import functools
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mailcrm.trust.results import newest_arc_sealer, trusted_arc, trusted_results

# dkimpy, pyspf and dnspython load with the first verification (in the functions below): the
# importer and the ingest worker only read verdicts recorded earlier (``aligned``), and loading
# them cost ~70 ms of CPU a start.
if TYPE_CHECKING:
    from mailcrm.trust.dns import Lookup

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass
class Verdict:
    """What the checks found; stored on the message row and shown as ``auth``."""

    dkim: str = "none"  # pass | fail | none | temperror | permerror
    spf: str = "none"  # pass | fail | softfail | neutral | none | temperror | permerror (envelope sender)
    helo_spf: str = "none"
    dmarc: str = "none"  # pass | fail | none | temperror
    arc: str = "none"  # pass | fail | none | temperror
    aligned: bool = False  # an aligned DKIM or SPF pass for the From domain
    from_domain: str | None = None
    dkim_domains: list[str] = field(default_factory=list)  # d= of the signatures that verified
    spf_domain: str | None = None
    authres: str | None = None  # "pass" when a trusted Authentication-Results header proves the From domain
    arc_sealer: str | None = None  # d= of the newest ARC-Seal of a chain that validated
    arc_trusted: bool = False  # that sealer is trusted and its ARC-Authentication-Results prove the From domain
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return asdict(self)


@functools.lru_cache(maxsize=1)
def _suffix_list() -> Any:
    """The public suffix list authheaders ships, read once per process.

    authheaders' ``get_org_domain`` reads and builds it again on every call (0.3 s each: with the
    lru_cache below, once per new domain, which was most of the worker's CPU on mail from many
    domains, issue 26).  Same file, same lookup.
    """
    import importlib.resources

    from publicsuffix2 import PublicSuffixList

    try:
        from authheaders.findpsl import location  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:
        ref = importlib.resources.files("authheaders") / "public_suffix_list.txt"
        with importlib.resources.as_file(ref) as path, open(path, encoding="utf-8") as fh:
            return PublicSuffixList(fh)
    with open(location, encoding="utf-8") as fh:
        return PublicSuffixList(fh)


@functools.lru_cache(maxsize=4096)
def org_domain(domain: str) -> str:
    """The organisational domain (RFC 7489 section 3.2) from the public suffix list."""
    try:
        return str(_suffix_list().get_public_suffix(domain.lower().rstrip("."))).lower()
    except Exception:  # noqa: BLE001 - a name the list cannot read: itself
        return domain.lower()


def aligned(a: str | None, b: str | None, strict: bool = False) -> bool:
    """RFC 7489 alignment: same domain (strict) or same organisational domain (relaxed)."""
    if not a or not b:
        return False
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b if strict else org_domain(a) == org_domain(b)


def _from_domain(raw: bytes) -> tuple[str | None, list[str]]:
    """The domain of the single From address (RFC 7489 section 6.6.1), and the headers' problems."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw[:262144] else raw.split(b"\n\n", 1)[0]
    try:
        msg = _HEADER_PARSER.parsebytes(head[:262144])
        values = [str(v) for v in msg.get_all("From") or []]
    except Exception:  # noqa: BLE001 - unreadable headers: no From domain
        return None, ["unreadable headers"]
    addrs = [a for _, a in email.utils.getaddresses(values) if "@" in a]
    if len(addrs) != 1:
        return None, [f"{len(addrs)} From addresses"]
    return addrs[0].rpartition("@")[2].lower().rstrip(">"), []


def _dkim(raw: bytes, lookup: Lookup) -> tuple[str, list[str], list[str]]:
    """Verify every DKIM-Signature; (result, d= of those that passed, errors)."""
    import dkim
    try:
        d = dkim.DKIM(raw, timeout=int(max(1, lookup.timeout)))
        sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
    except Exception as exc:  # noqa: BLE001 - the message's bytes, not ours
        return "permerror", [], [f"dkim: {type(exc).__name__}"]
    if not sigs:
        return "none", [], []
    passed: list[str] = []
    errors: list[str] = []
    temp = False
    for idx in range(len(sigs)):
        failed_before = len(lookup.failed)
        try:
            if d.verify(idx=idx, dnsfunc=lookup.dkim_txt):
                passed.append((d.domain or b"").decode("ascii", "replace").lower())
            elif len(lookup.failed) > failed_before:
                temp = True
                errors.append(f"dkim: key lookup failed: {lookup.failed[-1]}")
        except dkim.DnsTimeoutError as exc:
            temp = True
            errors.append(f"dkim: {exc}")
        except Exception as exc:  # noqa: BLE001 - a malformed signature fails, it does not crash
            errors.append(f"dkim: {type(exc).__name__}: {str(exc)[:100]}")
    if passed:
        return "pass", passed, errors
    return ("temperror" if temp else "fail"), [], errors


def _spf(ip: str, sender: str, helo: str, lookup: Lookup) -> tuple[str, list[str]]:
    import spf

    from mailcrm.trust.dns import spf_through
    try:
        with spf_through(lookup):
            result, _explanation = spf.check2(i=ip, s=sender, h=helo or "unknown",
                                              timeout=lookup.timeout, querytime=3 * lookup.timeout)
    except Exception as exc:  # noqa: BLE001 - pyspf on odd input: an error verdict, not a crash
        return "permerror", [f"spf: {type(exc).__name__}"]
    return str(result), []


def _dmarc_record(domain: str, lookup: Lookup) -> dict[str, str] | None:
    """The DMARC record of the From domain, else of its organisational domain (RFC 7489 section 6.6.3)."""
    for name in dict.fromkeys([domain, org_domain(domain)]):
        for txt in lookup.txt(f"_dmarc.{name}"):
            text = txt.decode("utf-8", "replace").strip()
            if text.lower().startswith("v=dmarc1"):
                tags = {}
                for part in text.split(";"):
                    k, sep, v = part.partition("=")
                    if sep:
                        tags[k.strip().lower()] = v.strip()
                return tags
    return None


def _arc(raw: bytes, lookup: Lookup) -> tuple[str, list[str]]:
    import dkim
    if b"arc-seal:" not in raw.lower()[: raw.find(b"\n\n") if b"\n\n" in raw else len(raw)] \
            and b"arc-seal:" not in raw.lower()[: raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw else len(raw)]:
        return "none", []
    failed_before = len(lookup.failed)
    try:
        cv, _results, comment = dkim.arc_verify(raw, dnsfunc=lookup.dkim_txt, timeout=int(max(1, lookup.timeout)))
    except dkim.DnsTimeoutError as exc:
        return "temperror", [f"arc: {exc}"]
    except Exception as exc:  # noqa: BLE001
        return "fail", [f"arc: {type(exc).__name__}"]
    value = cv.decode("ascii", "replace") if isinstance(cv, bytes) else str(cv)
    if value == "fail" and len(lookup.failed) > failed_before:
        return "temperror", [f"arc: key lookup failed: {lookup.failed[-1]}"]
    return value, []


def verify(raw: bytes, lookup: Lookup, *, ip: str | None = None, helo: str | None = None,
           mail_from: str | None = None, trusted_authserv_ids: frozenset[str] = frozenset(),
           trusted_arc_sealers: frozenset[str] = frozenset()) -> Verdict:
    """Run every check on one message; SPF needs the SMTP client's ``ip`` (skipped without it).

    An ARC pass is recorded (``arc``, ``arc_sealer``) but proves the author only through
    ``arc_trusted``: newest seal by one of ``trusted_arc_sealers`` with an aligned pass in its results.
    """
    from mailcrm.trust.dns import DnsFailure
    v = Verdict()
    v.from_domain, v.errors = _from_domain(raw)
    v.dkim, v.dkim_domains, errs = _dkim(raw, lookup)
    v.errors += errs
    if ip:
        sender = mail_from or ""
        helo_name = helo or ""
        v.helo_spf, errs = _spf(ip, f"postmaster@{helo_name}", helo_name, lookup) if helo_name else ("none", [])
        v.errors += errs
        if sender:
            v.spf, errs = _spf(ip, sender, helo_name, lookup)
            v.spf_domain = sender.rpartition("@")[2].lower()
        else:
            # The null sender: SPF checks the HELO identity (RFC 7208 section 2.4).
            v.spf, v.spf_domain = v.helo_spf, helo_name.lower() or None
        v.errors += errs
    v.arc, errs = _arc(raw, lookup)
    v.errors += errs
    if v.arc == "pass":
        newest = newest_arc_sealer(raw)
        v.arc_sealer = newest[1] if newest else None
    if v.from_domain:
        try:
            record = _dmarc_record(v.from_domain, lookup)
        except DnsFailure as exc:
            record, v.dmarc = None, "temperror"
            v.errors.append(f"dmarc: {exc}")
        strict_dkim = bool(record and record.get("adkim", "r").lower() == "s")
        strict_spf = bool(record and record.get("aspf", "r").lower() == "s")
        dkim_ok = any(aligned(d, v.from_domain, strict_dkim) for d in v.dkim_domains)
        spf_ok = v.spf == "pass" and aligned(v.spf_domain, v.from_domain, strict_spf)
        v.aligned = dkim_ok or spf_ok
        if v.dmarc != "temperror":
            if record is None:
                v.dmarc = "none"
            elif v.aligned:
                v.dmarc = "pass"
            elif v.dkim == "temperror" or v.spf == "temperror":
                v.dmarc = "temperror"
            else:
                v.dmarc = "fail"
        if trusted_authserv_ids and trusted_results(raw, trusted_authserv_ids, v.from_domain):
            v.authres = "pass"
        if v.arc == "pass" and trusted_arc_sealers:
            v.arc_trusted = trusted_arc(raw, trusted_arc_sealers, v.from_domain) is not None
    return v


def verify_spooled(raw: bytes, mail_from: str | None, evidence: dict[str, Any], lookup: Lookup,
                   trusted_authserv_ids: frozenset[str],
                   trusted_arc_sealers: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The verdict of a spooled message from its sidecar's evidence, as a JSON-friendly dict.

    All of one message's lookups share a budget of ``MESSAGE_BUDGET`` timeouts, so a silent DNS
    server holds the worker for seconds per message, not for every lookup's full timeout.
    """
    with lookup.budget(MESSAGE_BUDGET * lookup.timeout):
        return verify(raw, lookup, ip=evidence.get("client_ip"), helo=evidence.get("helo"), mail_from=mail_from,
                      trusted_authserv_ids=trusted_authserv_ids, trusted_arc_sealers=trusted_arc_sealers).to_json()


MESSAGE_BUDGET = 2  # one message's lookups together: at most this many dns_timeouts


def summary(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``auth`` document shown by inspect and show: {dkim, spf, dmarc, arc, aligned}."""
    if verdict is None:
        return None
    return {k: verdict.get(k) for k in ("dkim", "spf", "dmarc", "arc", "aligned")}
