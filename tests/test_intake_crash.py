"""Intake crash test: submissions from several clients, `mailcrm serve` SIGKILLed twice mid-stream.

Every submission answered 2xx is stored exactly once after the restarts; a client retries what got no
answer (as a site's webhook does), and the retry of one that was in fact spooled lands once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from relay import Relay
from sqlalchemy import create_engine, select
from test_web_intake import Web

from mailcrm.store.db import normalize_url
from mailcrm.store.models import Lead

pytestmark = pytest.mark.slow
TOTAL = 600
CLIENTS = 4


def test_sigkill_loses_no_answered_submission(tmp_path: Path, db_url: str) -> None:
    relay = Relay(free_port()).start()
    web = Web(tmp_path, db_url, relay.port, rate=100000)
    web.daemon.cli("form", "add", "site")
    web.start()
    url = web.url()
    answered: set[int] = set()
    lock = threading.Lock()

    def client(indices: list[int]) -> None:
        pending = list(indices)
        deadline = time.monotonic() + 240
        with httpx.Client(timeout=10) as http:
            while pending and time.monotonic() < deadline:
                i = pending[0]
                try:
                    r = http.post(url, data={"name": f"Lead {i}", "phone": f"+7921{i:07d}", "tranid": f"crash-{i}"},
                                  headers={"X-Forwarded-For": f"198.51.100.{i % 200}"})
                except httpx.HTTPError:
                    time.sleep(0.05)  # no answer: try again later
                    continue
                if r.status_code == 200:
                    with lock:
                        answered.add(i)
                    pending.pop(0)
                else:
                    time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(list(range(k, TOTAL, CLIENTS)),)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        for kill_at in (TOTAL // 3, 2 * TOTAL // 3):
            while len(answered) < kill_at and any(t.is_alive() for t in threads):
                time.sleep(0.005)
            web.daemon.kill()  # SIGKILL: no drain
            web.start()
        for t in threads:
            t.join(300)
        assert len(answered) == TOTAL
        assert web.wait_leads(TOTAL, timeout=120) == TOTAL
        time.sleep(1.0)
        engine = create_engine(normalize_url(db_url))
        with engine.connect() as c:
            keys = list(c.execute(select(Lead.key)).scalars())
        engine.dispose()
        assert len(keys) == len(set(keys)) == TOTAL  # each answered submission exactly once
        assert set(keys) == {f"id:crash-{i}" for i in answered}
    finally:
        web.daemon.stop(timeout=120)  # a graceful drain under load may take its 30 s steps
        relay.stop()
