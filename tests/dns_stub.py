"""A small authoritative DNS server on loopback (dnslib packs and parses; one UDP thread).

Serves TXT records (DKIM keys, SPF, DMARC) from a dict the test fills; names in ``silent``
get no answer at all, so the client times out (a DNS failure as on a broken network).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord


class DnsStub:
    """An authoritative server for the test's zones; NXDOMAIN for names it does not know."""

    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.silent: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-stub", daemon=True)

    @property
    def address(self) -> str:
        """The "IP:PORT" for ``[security] dns_server``."""
        return f"127.0.0.1:{self.port}"

    def add_txt(self, name: str, value: str) -> None:
        """Serve one TXT record (long values are split in 255-byte strings, RFC 1035 3.3.14)."""
        self.txt.setdefault(name.lower().rstrip("."), []).append(value)

    def start(self) -> "DnsStub":
        """Start answering."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and close the socket."""
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                request = DNSRecord.parse(data)
            except Exception:  # noqa: BLE001 - junk: no answer
                continue
            qname = str(request.q.qname).lower().rstrip(".")
            qtype = QTYPE[request.q.qtype]
            self.queries.append((qname, qtype))
            if qname in self.silent:
                continue
            reply = request.reply()
            if qname in self.txt:
                if qtype == "TXT":
                    for value in self.txt[qname]:
                        raw = value.encode()
                        chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
                        reply.add_answer(RR(qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
            else:
                reply.header.rcode = RCODE.NXDOMAIN
            self.sock.sendto(reply.pack(), peer)


@pytest.fixture
def dns_stub() -> Iterator[DnsStub]:
    """A running DNS stub; stopped at the end."""
    stub = DnsStub().start()
    yield stub
    stub.stop()
