"""The verifier against a loopback DNS stub: DKIM, SPF (envelope and HELO), DMARC alignment, ARC;
DNS failures are temperrors and no input makes it raise."""

from __future__ import annotations

import dkim
import pytest
from dkim_keys import keypair, sign
from dns_stub import DnsStub, dns_stub  # noqa: F401 - the fixture

from mailcrm.trust.dns import Lookup
from mailcrm.trust.verify import aligned, org_domain, verify

RAW = (b"From: Me <me@example.org>\r\nTo: ivan@theatre.example\r\nSubject: hi\r\n"
       b"Date: Mon, 02 Nov 2026 10:00:00 +0300\r\nMessage-ID: <a@example.org>\r\n\r\nHello\r\n")
HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


@pytest.fixture
def lookup(dns_stub: DnsStub) -> Lookup:  # noqa: F811
    dns_stub.add_txt("s1._domainkey.example.org", keypair()[1])
    dns_stub.add_txt("s1._domainkey.news.example.org", keypair()[1])
    dns_stub.add_txt("arc._domainkey.list.example", keypair("list")[1])
    dns_stub.add_txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
    dns_stub.add_txt("mx.example.org", "v=spf1 ip4:192.0.2.10 -all")
    dns_stub.add_txt("_dmarc.example.org", "v=DMARC1; p=reject; adkim=r")
    dns_stub.add_txt("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s")
    dns_stub.add_txt("s1._domainkey.mail.strict.example", keypair()[1])
    dns_stub.silent.update({"arc._domainkey.slow.example", "_dmarc.slow.example", "slow.example"})
    return Lookup(dns_stub.address, 0.4)


def test_relaxed_and_strict_alignment(lookup: Lookup) -> None:
    assert org_domain("a.b.example.co.uk") == "example.co.uk" and aligned("news.example.org", "example.org")
    v = verify(sign(RAW, "news.example.org"), lookup)  # a sub-domain's signature aligns (relaxed)
    assert (v.dkim, v.aligned, v.dmarc) == ("pass", True, "pass")
    strict = RAW.replace(b"me@example.org", b"me@strict.example")
    v = verify(sign(strict, "mail.strict.example"), lookup)  # adkim=s: the exact domain only
    assert (v.dkim, v.aligned, v.dmarc) == ("pass", False, "fail")


def test_spf_envelope_helo_and_null_sender(lookup: Lookup) -> None:
    v = verify(RAW, lookup, ip="192.0.2.7", helo="mx.example.org", mail_from="me@example.org")
    assert (v.spf, v.helo_spf, v.aligned) == ("pass", "fail", True)
    v = verify(RAW, lookup, ip="198.51.100.1", helo="mx.example.org", mail_from="me@example.org")
    assert (v.spf, v.aligned, v.dmarc) == ("fail", False, "fail")
    v = verify(RAW, lookup, ip="192.0.2.10", helo="mx.example.org", mail_from="")  # <>: SPF of the HELO name
    assert (v.spf, v.spf_domain, v.aligned) == ("pass", "mx.example.org", True)


def test_arc_pass_fail_and_temperror(lookup: Lookup) -> None:
    msg = (b"Authentication-Results: lists.example; dkim=pass header.d=example.org\r\n" + sign(RAW, "example.org"))
    sealed = b"".join(dkim.arc_sign(msg, b"arc", b"list.example", keypair("list")[0], b"lists.example",
                                    include_headers=HEADERS)) + msg
    assert verify(sealed, lookup).arc == "pass"
    assert verify(sealed.replace(b"Subject: hi", b"Subject: [list] hi"), lookup).arc == "fail"
    slow = b"".join(dkim.arc_sign(msg, b"arc", b"slow.example", keypair("list")[0], b"lists.example",
                                  include_headers=HEADERS)) + msg
    assert verify(slow, lookup).arc == "temperror"


def _forwarded_by(sealer: str, results: str, selector: bytes = b"arc") -> bytes:
    """RAW signed by example.org, modified by a mailing service (subject tag: the DKIM signature breaks),
    which records what it saw in Authentication-Results and seals (dkimpy's ARC signing)."""
    msg = (f"Authentication-Results: {sealer}; {results}\r\n".encode()
           + sign(RAW, "example.org").replace(b"Subject: hi", b"Subject: [list] hi"))
    return b"".join(dkim.arc_sign(msg, selector, sealer.encode(), keypair("list")[0], sealer.encode(),
                                  include_headers=HEADERS)) + msg


def test_arc_proves_only_through_a_trusted_sealer(lookup: Lookup, dns_stub: DnsStub) -> None:  # noqa: F811
    dns_stub.add_txt("arc._domainkey.lists.partner.example", keypair("list")[1])
    good = _forwarded_by("list.example", "dkim=pass header.d=example.org")
    v = verify(good, lookup)
    assert (v.dkim, v.arc, v.arc_sealer, v.aligned) == ("fail", "pass", "list.example", False)  # recorded...
    assert v.arc_trusted is False  # ...but no sealer is trusted by default: an ARC pass is no proof
    v = verify(good, lookup, trusted_arc_sealers=frozenset({"list.example"}))
    assert (v.arc, v.arc_trusted) == ("pass", True)
    # A chain that validates, sealed by a domain nobody trusts (anyone can seal their own chain).
    other = _forwarded_by("lists.partner.example", "dkim=pass header.d=example.org")
    v = verify(other, lookup, trusted_arc_sealers=frozenset({"list.example"}))
    assert (v.arc, v.arc_sealer, v.arc_trusted) == ("pass", "lists.partner.example", False)
    assert verify(other, lookup, trusted_arc_sealers=frozenset({"partner.example"})).arc_trusted  # a sub-domain
    # The trusted sealer saw no aligned pass (a DKIM pass of another domain, an SPF fail): nothing proven.
    for results in ("dkim=pass header.d=attacker.example", "spf=fail smtp.mailfrom=me@example.org",
                    "dkim=fail header.d=example.org"):
        v = verify(_forwarded_by("list.example", results), lookup, trusted_arc_sealers=frozenset({"list.example"}))
        assert (v.arc, v.arc_trusted) == ("pass", False), results
    spf = _forwarded_by("list.example", "spf=pass smtp.mailfrom=me@news.example.org")  # relaxed SPF alignment
    assert verify(spf, lookup, trusted_arc_sealers=frozenset({"list.example"})).arc_trusted
    # A chain that does not validate (changed after sealing) proves nothing, whoever sealed it.
    broken = good.replace(b"Hello", b"Hello, changed")
    v = verify(broken, lookup, trusted_arc_sealers=frozenset({"list.example"}))
    assert (v.arc, v.arc_trusted) == ("fail", False)


def test_dns_failures_are_temperrors(lookup: Lookup) -> None:
    slow = RAW.replace(b"me@example.org", b"me@slow.example")
    v = verify(slow, lookup, ip="192.0.2.7", helo="h.example", mail_from="me@slow.example")
    assert (v.spf, v.dmarc, v.aligned) == ("temperror", "temperror", False)
    dead = Lookup("127.0.0.1:9", 0.3)  # nothing listens: every lookup fails
    v = verify(sign(RAW, "example.org"), dead, ip="192.0.2.7", helo="h.example", mail_from="me@example.org")
    assert (v.dkim, v.spf, v.dmarc) == ("temperror", "temperror", "temperror")


@pytest.mark.parametrize("raw", [
    b"", b"\x00\xff garbage", b"From: a@b\r\nFrom: c@d\r\n\r\nx",
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; b=;\r\nFrom: me@example.org\r\n\r\nx",
    b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x; s=y; b=zz\r\nFrom: me@example.org\r\n\r\nx",
])
def test_junk_never_raises(lookup: Lookup, raw: bytes) -> None:
    v = verify(raw, lookup, ip="192.0.2.7", helo="", mail_from="")
    assert v.aligned is False and v.dkim in ("none", "fail", "permerror")


def test_a_silent_server_costs_a_message_its_budget_not_every_timeout(dns_stub: DnsStub) -> None:  # noqa: F811
    import time

    from mailcrm.trust.verify import MESSAGE_BUDGET, verify_spooled

    silent = Lookup(dns_stub.address, 0.5)
    dns_stub.silent.update({"s1._domainkey.example.org", "example.org", "h.example", "_dmarc.example.org"})
    t = time.monotonic()
    v = verify_spooled(sign(RAW, "example.org"), "me@example.org",
                       {"client_ip": "192.0.2.7", "helo": "h.example"}, silent, frozenset())
    spent = time.monotonic() - t
    assert (v["dkim"], v["spf"], v["dmarc"]) == ("temperror", "temperror", "temperror")
    assert spent < MESSAGE_BUDGET * 0.5 + 0.5, spent  # DKIM, 2 x SPF, DMARC unbudgeted: about 2.5 s
