"""Works, the outreach ledger, repeat warnings and proof against a real store (SQLite and PostgreSQL).

Mail goes through the real ingest pipeline; the warning mail is caught by a real aiosmtpd relay
on a loopback port (tests/relay.py); the CLI is run in-process through typer's runner.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import free_port
from relay import Relay
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.app import cases, outreach, proof
from mailcrm.app.handle import Store
from mailcrm.app.work_warnings import deliver_pending
from mailcrm.spool import SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import LedgerEntry, Message, RawMessage, Work, WorkWarning

BASE = ('[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\nlanguage = "{lang}"\n'
        '[digest]\nrelay_host = "127.0.0.1"\nrelay_port = {port}\nfrom_address = "mailcrm@example.org"\n'
        'max_retries = 0\n')
META = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])
PLAY = b"%PDF-1.4 the play Chayka-2, act one ..." * 50
OTHER = b"%PDF-1.4 a different play altogether" * 50


def cfg_for(lang: str = "ru", port: int = 25) -> config.Config:
    return config.parse(BASE.format(lang=lang, port=port), "test")


def sent(to: str, subject: str, files: list[tuple[str, bytes]], when: dt.datetime, mid: str,
         cc: str | None = None) -> bytes:
    m = EmailMessage()
    m["From"] = "Me <me@example.org>"
    m["To"] = to
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m["Date"] = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    m["Message-ID"] = f"<{mid}>"
    m.set_content("Добрый день! Посылаю пьесу.")
    for name, data in files:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes()


def reply(sender: str, text: str, when: dt.datetime, mid: str, to_mid: str) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "me@example.org"
    m["Subject"] = "Re: пьеса"
    m["Date"] = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    m["Message-ID"] = f"<{mid}>"
    m["In-Reply-To"] = f"<{to_mid}>"
    m["References"] = f"<{to_mid}>"
    m.set_content(text)
    return m.as_bytes()


def ingest(factory, cfg: config.Config, raw: bytes, role: str | None = None) -> pipeline.Job:  # type: ignore[no-untyped-def]
    meta = META if role is None else SpoolMeta(source="imap:box", role=role)
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
        return pipeline.ingest(s, cfg, meta, raw)


D1 = dt.datetime(2025, 3, 2, 10, 0)


def test_same_bytes_under_other_names_and_titles_in_subjects_are_one_work(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    ingest(factory, cfg, sent("petr@bulvar.ru", "Пьеса", [("Чайка-2_v3.pdf", PLAY)], D1, "a1@x"))
    ingest(factory, cfg, sent("olga@lenkom.ru", "Pitch", [("Seagull_2_draft(1).doc", PLAY)], D1, "a2@x"))
    ingest(factory, cfg, sent("ivan@mxat.ru", "Пьеса «ЧАЙКА 2»", [], D1, "a3@x"))
    ingest(factory, cfg, sent("nina@sovr.ru", 'Play "Chayka-2"', [], D1, "a4@x"))
    # a different play (other bytes, other title) stays apart
    ingest(factory, cfg, sent("petr@bulvar.ru", "Пьеса", [("Гроза.pdf", OTHER)], D1, "a5@x"))
    works = outreach.list_works(Store(engine, factory))
    assert sorted(len(w["files"]) for w in works) == [1, 1]
    chayka = next(w for w in works if w["recipients"] == 4)
    assert {f["name"] for f in chayka["files"]} == {"Чайка-2_v3.pdf"}
    assert "Seagull_2_draft" in chayka["aliases"]  # the stem, copy mark "(1)" removed
    groza = next(w for w in works if w is not chayka)
    assert groza["recipients"] == 1 and groza["title"] == "Гроза"


def test_two_different_files_with_different_titles_never_merge(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    ingest(factory, cfg, sent("a@teatr.ru", "x", [("Чайка.pdf", PLAY)], D1, "b1@x"))
    ingest(factory, cfg, sent("a@teatr.ru", "x", [("Чайка-2.pdf", OTHER)], D1, "b2@x"))
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Work)) == 2


def _theatre(factory, cfg) -> None:  # type: ignore[no-untyped-def]
    ingest(factory, cfg, sent("Пётр Иванов <petr@bulvar.ru>", "Пьеса «Чайка-2»", [("Чайка-2.pdf", PLAY)], D1,
                              "p1@x"))
    ingest(factory, cfg, reply("Пётр Иванов <petr@bulvar.ru>", "К сожалению, нам это не подходит.",
                               dt.datetime(2025, 3, 20, 9), "r1@bulvar.ru", "p1@x"), role="inbox")


def test_sending_to_a_colleague_warns_by_mail_in_russian(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    relay = Relay(free_port()).start()
    try:
        cfg = cfg_for("ru", relay.port)
        _theatre(factory, cfg)
        job = ingest(factory, cfg, sent("Анна <anna@bulvar.ru>", "Новая пьеса", [("Chayka-2 final.docx", PLAY)],
                                        dt.datetime(2026, 1, 10, 8), "p2@x"))
        assert job.outcome == pipeline.STORED
        assert asyncio.run(deliver_pending(factory, cfg, base_delay=0.01)) == 1
        assert relay.wait_for(1, 5)
        got = relay.messages[0]
        assert got.rcpt_tos == ["me@example.org"]
        body = got.message.get_content()
        assert "Чайка-2" in str(got.message["Subject"])
        assert "Вы отправляли «Чайка-2» в bulvar.ru (Пётр Иванов, petr@bulvar.ru) 2 марта 2025" in body
        assert "они ответили 20 марта 2025 (отказ): К сожалению, нам это не подходит." in body
        with db.transaction(factory) as s:
            assert s.scalar(select(WorkWarning.status)) == "sent"
        # the next morning's digest lists the repeat of the last day
        tomorrow = dt.datetime.now(ZoneInfo(cfg.users[0].timezone)).date() + dt.timedelta(days=1)
        digest, rendered = cases.preview_digest(Store(engine, factory), cfg, cfg.users[0], tomorrow)
        assert digest.summary()["repeats"] == 1
        assert "«Чайка-2» — anna@bulvar.ru (bulvar.ru): уже отправляли 02.03.2025, ответ: declined" in rendered.text
        assert "Повторные отправки" in rendered.html
    finally:
        relay.stop()


def test_repeat_to_the_same_person_warns_in_english_and_outside_the_window_not(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    relay = Relay(free_port()).start()
    try:
        cfg = cfg_for("en", relay.port)
        ingest(factory, cfg, sent("Olga <olga@lenkom.ru>", "Pitch", [("Chayka-2.pdf", PLAY)], D1, "e1@x"))
        ingest(factory, cfg, sent("Olga <olga@lenkom.ru>", "Pitch again", [("ЧАЙКА 2.pdf", b"new version")],
                                  dt.datetime(2025, 9, 1), "e2@x"))
        # three years later: outside warn_window_days (730)
        ingest(factory, cfg, sent("Boris <boris@far.ru>", "Pitch", [("Chayka-2.pdf", PLAY)], D1, "e3@x"))
        ingest(factory, cfg, sent("Boris <boris@far.ru>", "Pitch", [("Chayka-2.pdf", PLAY)],
                                  dt.datetime(2028, 6, 1), "e4@x"))
        assert asyncio.run(deliver_pending(factory, cfg, base_delay=0.01)) == 1
        assert relay.wait_for(1, 5)
        body = relay.messages[0].message.get_content()
        assert "You sent \u201cChayka-2\u201d to lenkom.ru (Olga, olga@lenkom.ru) on 2 March 2025; no answer." in body
    finally:
        relay.stop()


def test_outreach_lists_not_yet_sent_and_leaves_out_declines(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    _theatre(factory, cfg)
    # contacts known from other mail, all tagged "театры"
    ingest(factory, cfg, sent("Анна <anna@bulvar.ru>", "привет", [], D1, "c1@x"))
    ingest(factory, cfg, sent("Ольга <olga@lenkom.ru>", "привет", [], D1, "c2@x"))
    ingest(factory, cfg, sent("Нина <nina@mxat.ru>", "привет", [], D1, "c3@x"))
    for a in ("petr@bulvar.ru", "anna@bulvar.ru", "olga@lenkom.ru", "nina@mxat.ru"):
        cases.tag_contact(st, a, ["театры"])
    with db.transaction(factory) as s:
        ea = s.scalar(select(repository.EmailAddress).where(repository.EmailAddress.address == "nina@mxat.ru"))
        ea.status = "bounced"
    r = outreach.outreach(st, "Chayka 2", "театры")
    assert [x["address"] for x in r["sent"]] == ["petr@bulvar.ru"]
    assert r["sent"][0]["answer"] == "declined" and r["sent"][0]["times"] == 1
    assert [x["address"] for x in r["not_sent"]] == ["olga@lenkom.ru"]
    assert [x["address"] for x in r["left_out"]] == ["anna@bulvar.ru"]  # her theatre declined this work
    assert [x["address"] for x in r["no_working_address"]] == ["nina@mxat.ru"]
    # check: the colleague at the same theatre is caught, the other theatre is clear
    c = outreach.check(st, ["anna@bulvar.ru", "olga@lenkom.ru"], "Чайка-2")
    assert [(a["address"], a["received_by"]["address"], a["same_person"]) for a in c["already"]] == [
        ("anna@bulvar.ru", "petr@bulvar.ru", False)]
    assert [x["address"] for x in c["clear"]] == ["olga@lenkom.ru"]
    # someone at the theatre who is not a contact yet: the domain's company counts
    c = outreach.check(st, ["new.director@bulvar.ru"], "Чайка-2")
    assert [a["received_by"]["address"] for a in c["already"]] == ["petr@bulvar.ru"]


def test_user_corrects_a_misread_answer(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    _theatre(factory, cfg)
    outreach.correct_answer(st, "Чайка-2", "petr@bulvar.ru", "interested", "called: they want to meet")
    r = outreach.outreach(st, "Чайка-2")
    assert r["sent"][0]["answer"] == "interested"
    assert [x["address"] for x in r["not_sent"]] == []  # nobody else known; Anna never mailed
    with db.transaction(factory) as s:
        assert s.scalar(select(LedgerEntry.kind).order_by(LedgerEntry.seq.desc()).limit(1)) == "correction"
    # `show` and `company show` list the works received, with the answer
    card = cases.contact_card(st, "petr@bulvar.ru", None)
    assert [(w["title"], w["answer"], w["times"]) for w in card["works"]] == [("Чайка-2", "interested", 1)]
    comp = cases.company_card(st, "bulvar.ru")
    assert [(w["title"], w["name"]) for w in comp["works"]] == [("Чайка-2", "Пётр Иванов")]
    counts = cases.status(st, cfg)["counts"]
    assert counts["raw_messages"] == 2 and counts["raw_bytes"] > len(PLAY)


def test_merge_and_split_correct_recognition(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    ingest(factory, cfg, sent("a@one.ru", "x", [("Чайка-2.pdf", PLAY)], D1, "m1@x"))
    ingest(factory, cfg, sent("b@two.ru", "x", [("Seagull 2.pdf", OTHER)], D1, "m2@x"))
    assert len(outreach.list_works(st)) == 2
    outreach.merge_works(st, "Чайка-2", "Seagull 2")
    works = outreach.list_works(st)
    assert len(works) == 1 and works[0]["recipients"] == 2
    assert outreach.check(st, ["b@two.ru"], "Chayka 2")["already"]
    outreach.split_work(st, "Чайка-2", "Seagull 2")
    works = outreach.list_works(st)
    assert sorted(w["recipients"] for w in works) == [1, 1]
    assert not outreach.check(st, ["b@two.ru"], "Chayka 2")["already"]
    outreach.rename_work(st, "Seagull 2", "Чайка-2 (английский перевод)")
    assert outreach.find_work  # the new title finds it
    assert outreach.check(st, ["b@two.ru"], "Чайка-2 (английский перевод)")["already"]


def test_raw_mail_is_content_addressed(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    raw = sent("a@one.ru", "x", [("Чайка-2.pdf", PLAY)], D1, "h1@x")
    ingest(factory, cfg, raw)
    with db.transaction(factory) as s:
        sha = s.scalar(select(Message.sha256))
        row = s.get(RawMessage, sha)
        assert row is not None and row.data == raw and row.size == len(raw)
        assert proof.raw_size(s) == {"raw_messages": 1, "raw_bytes": len(raw)}


def test_proof_export_verify_and_tampering(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    _theatre(factory, cfg)
    out = tmp_path / "proof"
    m = proof.export(st, "petr@bulvar.ru", "Чайка-2", out)
    assert len(m["messages"]) == 2 and [e["content"]["kind"] for e in m["ledger"]] == ["sent", "answer"]
    assert m["messages"][0]["envelope"]["mail_from"] == "me@example.org"
    assert proof.verify(out, st) == []
    assert "Ledger entries" in (out / "summary.txt").read_text(encoding="utf-8")
    eml = out / m["messages"][0]["file"]
    original = eml.read_bytes()
    eml.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])  # one changed byte
    assert any("changed" in p for p in proof.verify(out, st))
    eml.write_bytes(original)
    manifest = out / "manifest.json"
    text = manifest.read_bytes()
    manifest.write_bytes(text.replace(b'"answer"', b'"replied"', 1))
    assert any("manifest.json: changed" in p for p in proof.verify(out, None))
    manifest.write_bytes(text)
    assert proof.verify(out, None) == []
    # a ledger entry removed from the store is detected
    with db.transaction(factory) as s:
        first = s.scalar(select(LedgerEntry).order_by(LedgerEntry.seq).limit(1))
        s.execute(delete(LedgerEntry).where(LedgerEntry.id == first.id))
    problems = proof.verify(out, st)
    assert "ledger entry 1: no longer in the store" in problems
    assert any(p.startswith("store ledger: entry 1: missing") for p in problems)


def test_proof_export_shows_the_stored_verdicts_not_recomputed(store, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Each message in the proof carries the verdicts stored at ingest and how its author was proven."""
    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    # The sent copy came over SMTP from outside, proven by an aligned DKIM pass (the worker's verdict,
    # kept in the sidecar); its own headers claim something else, which the proof shows apart.
    raw = (b"Authentication-Results: mx.other.example; dkim=fail header.d=example.org\r\n"
           + sent("Пётр Иванов <petr@bulvar.ru>", "Пьеса «Чайка-2»", [("Чайка-2.pdf", PLAY)], D1, "p1@x"))
    verdict = {"dkim": "pass", "spf": "softfail", "helo_spf": "none", "dmarc": "pass", "arc": "none", "aligned": True,
               "from_domain": "example.org", "dkim_domains": ["example.org"], "spf_domain": "example.org"}
    meta = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"],
                     evidence={"client_ip": "198.51.100.7", "helo": "laptop", "authenticated": False,
                               "trusted_network": False}, auth=verdict)
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
        assert pipeline.ingest(s, cfg, meta, raw).outcome == pipeline.STORED
    ingest(factory, cfg, reply("Пётр Иванов <petr@bulvar.ru>", "К сожалению, нам это не подходит.",
                               dt.datetime(2025, 3, 20, 9), "r1@bulvar.ru", "p1@x"), role="inbox")

    def no_dns(*args: object, **kw: object) -> None:
        raise AssertionError("the proof export must not verify again")

    monkeypatch.setattr("mailcrm.trust.verify.verify", no_dns)
    monkeypatch.setattr("dkim.verify", no_dns)
    m = proof.export(st, "petr@bulvar.ru", "Чайка-2", tmp_path / "proof")
    by_id = {e["message_id"]: e for e in m["messages"]}
    sent_auth = by_id["p1@x"]["auth"]
    assert (sent_auth["proof"], sent_auth["proven"], sent_auth["flagged"]) == ("dkim", True, False)
    assert (sent_auth["dkim"], sent_auth["spf"], sent_auth["dmarc"], sent_auth["aligned"]) == ("pass", "softfail", "pass", True)
    assert sent_auth["dkim_domains"] == ["example.org"] and "aligned DKIM" in sent_auth["how"]
    assert by_id["p1@x"]["auth_headers"]["authentication-results"] == [
        "mx.other.example; dkim=fail header.d=example.org"]  # what the headers say, kept apart
    answer = by_id["r1@bulvar.ru"]["auth"]  # read from the inbox folder: a correspondent's, nothing to prove
    assert answer["proven"] is False and answer["proof"] is None and "no verdict stored" in answer["how"]
    text = (tmp_path / "proof" / "summary.txt").read_text(encoding="utf-8")
    assert "author: proven: aligned DKIM pass (dkim=pass spf=softfail dmarc=pass arc=none)" in text
    assert proof.verify(tmp_path / "proof", st) == []
    # A copy stored flagged (author_auth = "mark") says so.
    with db.transaction(factory) as s:
        s.execute(Message.__table__.update().where(Message.message_id == "p1@x").values(author_proof="none"))
    flagged = proof.export(st, "petr@bulvar.ru", "Чайка-2", tmp_path / "proof2")["messages"]
    f = next(e for e in flagged if e["message_id"] == "p1@x")["auth"]
    assert (f["proven"], f["flagged"]) == (False, True) and "NOT proven" in f["how"]


def test_cli_outreach_csv_json_check_exit_and_proof(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailcrm.cli import _register, app

    engine, factory = store
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "c.toml"
    path.write_text(BASE.format(lang="ru", port=25) + f'[database]\nurl = "{url}"\n', encoding="utf-8")
    cfg = config.load(path)
    _theatre(factory, cfg)
    ingest(factory, cfg, sent("Ольга Петрова <olga@lenkom.ru>", "привет", [], D1, "c2@x"))
    _register()
    run = CliRunner()
    r = run.invoke(app, ["--config", str(path), "outreach", "Чайка-2", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) >= {"sent", "not_sent", "no_working_address"}
    assert data["not_sent"][0] == {**data["not_sent"][0], "address": "olga@lenkom.ru", "name": "Ольга Петрова",
                                   "company": "lenkom.ru"}
    r = run.invoke(app, ["--config", str(path), "outreach", "Чайка-2", "--csv"])
    assert r.exit_code == 0 and "olga@lenkom.ru" in r.stdout and "petr@bulvar.ru" not in r.stdout
    r2 = run.invoke(app, ["--config", str(path), "export", "contacts", "--format", "csv"])
    assert r.stdout.splitlines()[0] == r2.stdout.splitlines()[0]  # same layout as `export contacts`
    r = run.invoke(app, ["--config", str(path), "check", "anna@bulvar.ru", "petr@bulvar.ru", "--work", "Chayka 2"])
    assert r.exit_code == 1 and "2025-03-02" in r.stdout
    r = run.invoke(app, ["--config", str(path), "check", "olga@lenkom.ru", "--work", "Chayka 2"])
    assert r.exit_code == 0
    r = run.invoke(app, ["--config", str(path), "works", "--json"])
    assert json.loads(r.stdout)["works"][0]["title"] == "Чайка-2"
    out = tmp_path / "p"
    r = run.invoke(app, ["--config", str(path), "proof", "petr@bulvar.ru", "--work", "Чайка-2", "--export", str(out)])
    assert r.exit_code == 0, r.output
    r = run.invoke(app, ["--config", str(path), "proof", "verify", str(out)])
    assert r.exit_code == 0 and "intact" in r.stdout
    r = run.invoke(app, ["--config", str(path), "proof", "petr@bulvar.ru", "--export", str(out)])
    assert r.exit_code != 0 and isinstance(r.exception, Exception) and "not an empty directory" in str(r.exception)
    summary_txt = (out / "summary.txt").read_bytes()
    (out / "summary.txt").write_text("x")
    r = run.invoke(app, ["--config", str(path), "proof", "verify", str(out), "--offline"])
    assert r.exit_code == 1 and "summary.txt: changed" in r.stdout
    (out / "summary.txt").write_bytes(summary_txt)
    eml = next((out / "messages").glob("*.eml"))
    eml.write_bytes(eml.read_bytes() + b" ")
    r = run.invoke(app, ["--config", str(path), "proof", "verify", str(out)])
    assert r.exit_code == 1 and "changed" in r.stdout and "summary" not in r.stdout


@pytest.mark.parametrize("bad", ["(", "[a-"])
def test_a_bad_subject_pattern_is_one_config_error(bad: str) -> None:
    from mailcrm.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        config.parse(f'[works]\nsubject_pattern = "{bad}"\n', "c.toml")
    assert "subject_pattern" in str(e.value) and "\n" not in str(e.value)


def test_the_daemons_mailer_sends_at_once_after_a_commit(store) -> None:  # type: ignore[no-untyped-def]
    from mailcrm.app.work_warnings import WarningMailer

    engine, factory = store
    relay = Relay(free_port()).start()
    try:
        cfg = cfg_for("ru", relay.port)
        ingest(factory, cfg, sent("Olga <olga@lenkom.ru>", "Pitch", [("Chayka-2.pdf", PLAY)], D1, "w1@x"))
        ingest(factory, cfg, sent("Olga <olga@lenkom.ru>", "Pitch", [("Chayka-2.pdf", PLAY)],
                                  dt.datetime(2025, 4, 1), "w2@x"))

        async def main() -> None:
            mailer = WarningMailer(cfg, factory, asyncio.get_running_loop())
            await asyncio.to_thread(mailer.kick)  # as the worker thread does after its commit
            await asyncio.to_thread(mailer.kick)  # a second kick while the first runs is coalesced
            for _ in range(100):
                await asyncio.sleep(0.05)
                if not mailer.tasks:
                    break

        asyncio.run(main())
        assert relay.wait_for(1, 5) and relay.count() == 1
        assert "Вы отправляли «Chayka-2» в lenkom.ru (Olga, olga@lenkom.ru) 2 марта 2025; ответа не было." in \
            relay.messages[0].message.get_content()
    finally:
        relay.stop()


DSN = """Return-Path: <>
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: me@example.org
Date: Tue, 04 Mar 2025 10:00:05 +0300
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BND1"
Message-Id: <dsn-1@mx.example.org>

--BND1
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered.

--BND1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; ivan.petrov@client.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--BND1
Content-Type: message/rfc822

From: Me <me@example.org>
To: Ivan Petrov <ivan.petrov@client.example>
Subject: Pitch
Date: Sun, 02 Mar 2025 10:00:00 +0000
Message-ID: <pitch-b@x>

Hello.

--BND1--
""".replace("\n", "\r\n").encode()


def test_a_bounced_send_and_a_forwarded_answer_move_the_ledger(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    ingest(factory, cfg, sent("Ivan Petrov <ivan.petrov@client.example>", "Pitch", [("Chayka-2.pdf", PLAY)], D1,
                              "pitch-b@x"))
    ingest(factory, cfg, sent("Olga <olga@lenkom.ru>", "Pitch", [("Chayka-2.pdf", PLAY)], D1, "pitch-o@x"))
    job = ingest(factory, cfg, DSN, role="inbox")
    assert job.plan.kind == "bounce"
    # Olga answered on her phone's app; the user forwards that answer to the dropbox
    fwd = EmailMessage()
    fwd["From"] = "Me <me@example.org>"
    fwd["To"] = "crm+secret@example.org"
    fwd["Subject"] = "Fwd: Pitch"
    fwd["Date"] = "Mon, 10 Mar 2025 09:00:00 +0000"
    fwd["Message-ID"] = "<fwd-1@x>"
    fwd.set_content("FYI\n\n---------- Forwarded message ---------\nFrom: Olga <olga@lenkom.ru>\n"
                    "Date: Mon, 10 Mar 2025 at 08:00\nSubject: Re: Pitch\nTo: Me <me@example.org>\n\n"
                    "Спасибо, но это не наш формат. Не возьмём.\n")
    job = ingest(factory, cfg, fwd.as_bytes())
    assert job.plan.kind == "received" and job.facts.kind == "forward"
    r = outreach.outreach(st, "Chayka-2")
    rows = {x["address"]: x for x in r["sent"]}
    assert rows["ivan.petrov@client.example"]["bounced"] is True
    assert rows["olga@lenkom.ru"]["answer"] == "declined" and rows["olga@lenkom.ru"]["bounced"] is False
    with db.transaction(factory) as s:
        kinds = list(s.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.seq)))
        assert kinds == ["sent", "sent", "bounce", "answer"]
        from mailcrm.app.works import verify_ledger

        assert verify_ledger(s) == []


def test_upgrade_moves_kept_bytes_to_content_addressed_rows(db_url: str) -> None:
    """A store at 0003 (bytes per message id) keeps every byte after 0006, once per sha256."""
    import hashlib

    from alembic import command
    from sqlalchemy import text

    from mailcrm.store import migrate

    engine = db.make_engine(db_url)
    try:
        cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
        raw_a, raw_b = b"From: a\r\n\r\nbody a", b"From: b\r\n\r\nbody b"
        with engine.begin() as conn:
            for i, raw in ((1, raw_a), (2, raw_b), (3, raw_a)):  # 3 is a copy of 1 under another identity
                conn.execute(text(
                    "INSERT INTO messages (id, identity, sha256, kind, direction, date, subject, snippet, thread_key,"
                    " source, size, facts, status, ingested_at) VALUES (:i, :ident, :sha, 'sent', 'out',"
                    " '2025-03-02 10:00:00', '', '', 't', 'smtp', 1, '{}', 'active', '2025-03-02 10:00:00')"),
                    {"i": i, "ident": f"hash:{i}", "sha": hashlib.sha256(raw).hexdigest()})
                conn.execute(text("INSERT INTO message_blobs (message_id, data) VALUES (:i, :d)"), {"i": i, "d": raw})
        migrate.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT sha256, data, size FROM raw_messages ORDER BY size, sha256")).all()
        assert sorted((r[0], bytes(r[1]), r[2]) for r in rows) == sorted(
            (hashlib.sha256(r).hexdigest(), r, len(r)) for r in (raw_a, raw_b))
    finally:
        engine.dispose()


def test_an_answer_in_a_deal_thread_is_a_deal(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    deal_meta = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret+deal@example.org"])
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
        pipeline.ingest(s, cfg, deal_meta, sent("Olga <olga@lenkom.ru>", "Пьеса «Чайка-2»", [], D1, "d1@x"))
    ingest(factory, cfg, reply("Olga <olga@lenkom.ru>", "Получили, спасибо.", dt.datetime(2025, 3, 5), "d2@lenkom.ru",
                               "d1@x"), role="inbox")
    r = outreach.outreach(Store(engine, factory), "Чайка-2")
    assert [(x["address"], x["answer"]) for x in r["sent"]] == [("olga@lenkom.ru", "deal")]


def test_a_quoted_cafe_is_not_a_work_but_a_known_title_is(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    ingest(factory, cfg, sent("olga@lenkom.ru", "Встреча в «Пушкине»", [], D1, "q1@x"))
    ingest(factory, cfg, sent("olga@lenkom.ru", "Встреча в «Пушкине»", [], D1 + dt.timedelta(days=3), "q2@x"))
    assert outreach.list_works(st) == []
    ingest(factory, cfg, sent("ivan@mxat.ru", "Пьеса", [("Чайка-2.pdf", PLAY)], D1, "q3@x"))
    ingest(factory, cfg, sent("olga@lenkom.ru", "Re: «Чайка-2»", [], D1, "q4@x"))  # a known title, uncued
    assert [w["recipients"] for w in outreach.list_works(st)] == [2]


def test_colleagues_on_one_message_are_not_a_repeat(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    ingest(factory, cfg, sent("Пётр <petr@bulvar.ru>", "Пьеса", [("Чайка-2.pdf", PLAY)], D1, "t1@x",
                              cc="Анна <anna@bulvar.ru>"))
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(WorkWarning)) == 0
    ingest(factory, cfg, sent("Нина <nina@bulvar.ru>", "Пьеса", [("Чайка-2.pdf", PLAY)], D1 + dt.timedelta(days=1),
                              "t2@x"))
    with db.transaction(factory) as s:
        priors = s.scalar(select(WorkWarning.data))["priors"]
        assert sorted(p["address"] for p in priors) == ["anna@bulvar.ru", "petr@bulvar.ru"]


def test_a_documents_own_title_finds_a_known_work(store) -> None:  # type: ignore[no-untyped-def]
    import io
    import zipfile

    engine, factory = store
    cfg = cfg_for()
    st = Store(engine, factory)
    ingest(factory, cfg, sent("ivan@mxat.ru", "Пьеса", [("Чайка-2.pdf", PLAY)], D1, "t1@x"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("docProps/core.xml", "<cp:coreProperties><dc:title>Чайка-2</dc:title></cp:coreProperties>")
        z.writestr("word/document.xml", "<w:document>the English version</w:document>")
    ingest(factory, cfg, sent("olga@lenkom.ru", "Pitch", [("Seagull_2_EN.docx", buf.getvalue())], D1, "t2@x"))
    # an unknown document title founds nothing: a new work under its file name
    buf2 = io.BytesIO()
    with zipfile.ZipFile(buf2, "w") as z:
        z.writestr("docProps/core.xml", "<cp:coreProperties><dc:title>Гроза</dc:title></cp:coreProperties>")
    ingest(factory, cfg, sent("olga@lenkom.ru", "Pitch", [("Lес.docx", buf2.getvalue())], D1, "t3@x"))
    works = {w["title"]: w for w in outreach.list_works(st)}
    assert sorted(works) == ["Lес", "Чайка-2"]
    assert works["Чайка-2"]["recipients"] == 2 and "Seagull_2_EN" in works["Чайка-2"]["aliases"]


def test_an_answer_outside_the_thread_that_names_the_work_counts(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = cfg_for()
    ingest(factory, cfg, sent("Olga <olga@lenkom.ru>", "Пьеса", [("Чайка-2.pdf", PLAY)], D1, "n1@x"))
    ingest(factory, cfg, sent("Olga <olga@lenkom.ru>", "Пьеса", [("Гроза.pdf", OTHER)], D1, "n2@x"))
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Olga <olga@lenkom.ru>", "me@example.org", "Про вашу пьесу"
    m["Date"], m["Message-ID"] = "Mon, 10 Mar 2025 09:00:00 +0000", "<n3@lenkom.ru>"
    m.set_content("Добрый день! Прочитали «Чайку 2». К сожалению, нам не подходит.")
    ingest(factory, cfg, m.as_bytes(), role="inbox")
    m2 = EmailMessage()
    m2["From"], m2["To"], m2["Subject"] = "Olga <olga@lenkom.ru>", "me@example.org", "Привет"
    m2["Date"], m2["Message-ID"] = "Tue, 11 Mar 2025 09:00:00 +0000", "<n4@lenkom.ru>"
    m2.set_content("Как дела? Не подходит ли вам четверг для встречи?")
    ingest(factory, cfg, m2.as_bytes(), role="inbox")  # names no work: moves nothing
    st = Store(engine, factory)
    assert outreach.outreach(st, "Чайка-2")["sent"][0]["answer"] == "declined"
    assert outreach.outreach(st, "Гроза")["sent"][0]["answer"] == "none"
