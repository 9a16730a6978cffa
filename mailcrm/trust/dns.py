"""DNS lookups for the verifiers: one dnspython resolver with short timeouts, optionally pointed at
a given server (``[security] dns_server``, used by the tests' loopback DNS server).

A lookup that fails (timeout, SERVFAIL, no server answering) raises ``DnsFailure``; the
verifiers turn it into ``temperror`` (RFC 7208 section 2.6.6, RFC 6376 section 6.1.2), never a crash.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import spf

DNS_SERVER_ENV = "MAILCRM_DNS_SERVER"  # "IP:PORT" when [security] dns_server is empty (tests)


def lookup_for(dns_server: str, timeout: float) -> "Lookup":
    """The lookup for a config: its dns_server, else $MAILCRM_DNS_SERVER, else the system resolver."""
    return Lookup(dns_server or os.environ.get(DNS_SERVER_ENV, ""), timeout)


class DnsFailure(Exception):
    """A lookup got no answer in time (a temporary error, not a verdict)."""


class Lookup:
    """A resolver with a per-lookup timeout, and the shapes dkimpy and pyspf expect."""

    def __init__(self, server: str = "", timeout: float = 3.0) -> None:
        self.timeout = timeout
        if server:
            host, _, port = server.rpartition(":")
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [host.strip("[]")]
            self.resolver.port = int(port)
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.timeout = timeout
        self.resolver.lifetime = timeout
        self.resolver.retry_servfail = False
        # Answers kept for their TTL: a day's mail comes from few domains (failures are not kept).
        self.resolver.cache = dns.resolver.LRUCache(4096)
        # Names whose key lookup failed: dkimpy logs a DnsTimeoutError and answers "not valid",
        # so the verifier reads this list to tell a temperror from a bad signature.
        self.failed: list[str] = []
        self._deadline: float | None = None

    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        """Bound the time all lookups in the block may take together (one message's checks).

        Without it a silent DNS server costs every lookup its full timeout: DKIM, SPF (several
        lookups for the envelope and again for HELO), DMARC, ARC; with it a message waits at most
        ``seconds``, and the lookups left over fail at once as temperrors.
        """
        previous = self._deadline
        self._deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self._deadline = previous

    def query(self, name: str, qtype: str) -> list[Any]:
        """The records of ``name``; [] for NXDOMAIN or no data; DnsFailure when no answer came."""
        lifetime = self.timeout
        if self._deadline is not None:
            lifetime = min(lifetime, self._deadline - time.monotonic())
            if lifetime <= 0.01:
                raise DnsFailure(f"{qtype} {name}: time budget for this message spent")
        try:
            answer = self.resolver.resolve(name, qtype, raise_on_no_answer=False, lifetime=lifetime,
                                           search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout,
                dns.resolver.NoResolverConfiguration) as exc:
            raise DnsFailure(f"{qtype} {name}: {type(exc).__name__}") from None
        except dns.exception.DNSException as exc:  # a malformed name or answer
            raise DnsFailure(f"{qtype} {name}: {type(exc).__name__}") from None
        return list(answer.rrset) if answer.rrset is not None else []

    def txt(self, name: str) -> list[bytes]:
        """Each TXT record of ``name`` with its strings joined (RFC 7208 section 3.3)."""
        return [b"".join(r.strings) for r in self.query(name, "TXT")]

    def dkim_txt(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        """dkimpy's ``dnsfunc``: the first TXT record, or None; a failure is dkim.DnsTimeoutError."""
        import dkim

        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        try:
            records = self.txt(text)
        except DnsFailure as exc:
            self.failed.append(text)
            raise dkim.DnsTimeoutError(str(exc)) from None
        return records[0] if records else None

    def spf_lookup(self, name: str, qtype: str, strict: bool = True, timeout: float = 30) -> list[Any]:
        """pyspf's ``DNSLookup`` contract: [((name, qtype), value), ...]; a failure is spf.TempError."""
        try:
            records = self.query(name, qtype)
        except DnsFailure as exc:
            raise spf.TempError(f"DNS {exc}") from None
        out: list[Any] = []
        for r in records:
            rtype = dns.rdatatype.to_text(r.rdtype)
            if rtype in ("A", "AAAA"):
                out.append(((name, rtype), r.address))
            elif rtype == "MX":
                out.append(((name, rtype), (r.preference, r.exchange)))
            elif rtype == "PTR":
                out.append(((name, rtype), r.target.to_text(True)))
            elif rtype in ("TXT", "SPF"):
                out.append(((name, rtype), r.strings))
            elif rtype == "CNAME":
                out.append(((name, rtype), r.target.to_text(True)))
        return out


# pyspf looks names up through its module-level ``DNSLookup``; route it to the lookup of the
# verifying thread (each verification sets its own), else to pyspf's own dnspython function.
_ORIGINAL_SPF_LOOKUP = spf.DNSLookup
_current = threading.local()


def _spf_dispatch(name: str, qtype: str, strict: bool = True, timeout: float = 30) -> list[Any]:
    lookup: Lookup | None = getattr(_current, "lookup", None)
    if lookup is None:
        return _ORIGINAL_SPF_LOOKUP(name, qtype, strict, timeout)  # type: ignore[no-any-return]
    return lookup.spf_lookup(name, qtype, strict, timeout)


spf.DNSLookup = _spf_dispatch


@contextmanager
def spf_through(lookup: Lookup) -> Iterator[None]:
    """Make pyspf use ``lookup`` in this thread for the duration of the block."""
    previous = getattr(_current, "lookup", None)
    _current.lookup = lookup
    try:
        yield
    finally:
        _current.lookup = previous
