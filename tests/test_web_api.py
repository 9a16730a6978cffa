"""The JSON API: bearer tokens (issued, revoked), the CLI's --json shapes, the OpenAPI schema, and a bounded
hypothesis run of the schema's parameters against the app (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from conftest import free_port, make_config_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_web_pages import USERS, Site, site  # noqa: F401  (the fixture)

from mailcrm.app import cases, web_accounts
from mailcrm.app.handle import Store
from mailcrm.web.api import OPENAPI


def _get(site: Site,  # noqa: F811
          path: str, token: str | None, **params: str) -> httpx.Response:
    async def run() -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with site.client(**headers) as http:
            return await http.get(path, params=params)
    return asyncio.run(run())


def test_api_needs_a_live_token_and_answers_json(site: Site) -> None:  # noqa: F811
    cases.add_deal(Store(site.engine, site.factory), site.cfg, "Пьеса", ["alena@theatre.example"], stage="lead",
                   company=None, amount="150000", currency=None)
    r = _get(site, "/api/v1/contacts", None)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer") and "error" in r.json()
    assert _get(site, "/api/v1/contacts", "not-a-token").status_code == 401
    token = str(web_accounts.issue_token(site.factory, site.cfg, "me@example.org")["token"])
    r = _get(site, "/api/v1/contacts", token, q="theatre")
    assert r.status_code == 200 and [c["name"] for c in r.json()] == ["Алёна Ёлкина"]
    assert r.json()[0]["addresses"][0] == {"address": "alena@theatre.example", "status": "active", "reason": None}
    r = _get(site, "/api/v1/contacts/alena@theatre.example", token)
    assert r.status_code == 200 and r.json()["name"] == "Алёна Ёлкина" and isinstance(r.json()["timeline"], list)
    assert _get(site, "/api/v1/contacts/nobody@example.org", token).status_code == 404
    deals = _get(site, "/api/v1/deals", token, status="open").json()
    assert deals[0]["title"] == "Пьеса" and deals[0]["amount"] == "150000.00" and deals[0]["stage"] == "lead"
    assert _get(site, "/api/v1/companies", token).status_code == 200
    cases.edit_contact(Store(site.engine, site.factory), "alena@theatre.example", name=None, title=None,
                       company="Театр «Ёлка»", phones=None, region="RU")
    r = _get(site, "/api/v1/companies/" + quote("Театр «Ёлка»", safe=""), token)
    assert r.status_code == 200 and [p["name"] for p in r.json()["people"]] == ["Алёна Ёлкина"], r.text
    assert _get(site, "/api/v1/companies/nothing-here", token).status_code == 404
    assert _get(site, "/api/v1/nothing", token).status_code == 404
    schema = _get(site, "/api/v1/openapi.json", None).json()
    assert schema["openapi"].startswith("3.") and set(schema["paths"]) == {
        "/api/v1/contacts", "/api/v1/contacts/{ref}", "/api/v1/companies", "/api/v1/companies/{name}",
        "/api/v1/deals", "/api/v1/digest"}
    # Parameters outside the schema are refused with the reason, not silently clamped.
    for params in ({"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"q": "x" * 201}):
        r = _get(site, "/api/v1/contacts", token, **params)
        assert r.status_code == 400 and r.json()["error"].split(":")[0] in ("limit", "q"), (params, r.text)
    assert _get(site, "/api/v1/deals", token, status="maybe").status_code == 400
    misspelt = _get(site, "/api/v1/contacts", token, qq="Петров")
    assert misspelt.status_code == 400 and "'qq'" in misspelt.json()["error"] and "limit, q" in misspelt.json()["error"]
    assert _get(site, "/api/v1/digest", token, day="2026-01-01").status_code == 400
    # The digest: the token's user's sections, summary and numbered lines (the lead is new today).
    digest = _get(site, "/api/v1/digest", token)
    assert digest.status_code == 200, digest.text
    body = digest.json()
    assert body["user_email"] == "me@example.org" and body["summary"]["new_leads"] == 1
    assert body["new_leads"][0]["title"] == "Пьеса" and body["new_leads"][0]["amount"] == "150000.00"
    assert body["lines"][0] == {"n": 1, "kind": "deal", "ref": body["new_leads"][0]["id"], "label": "Пьеса"}
    assert _get(site, "/api/v1/digest", None).status_code == 401
    assert web_accounts.revoke_tokens(site.factory, site.cfg, "me@example.org")["revoked"] == 1
    assert _get(site, "/api/v1/contacts", token).status_code == 401
    # A web session cookie is not an API token.
    assert _get(site, "/api/v1/deals", None).status_code == 401


def test_api_against_its_schema(site: Site) -> None:  # noqa: F811
    """Bounded: for each path of the schema, generated parameters give 200 JSON of the declared type or 404."""
    token = str(web_accounts.issue_token(site.factory, site.cfg, "kate@example.org")["token"])

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(q=st.text(max_size=40), ref=st.text(min_size=1, max_size=40).filter(lambda s: s.strip(".") != ""),
           limit=st.integers(min_value=1, max_value=500))
    def check(q: str, ref: str, limit: int) -> None:
        for path, params in (("/api/v1/contacts", {"q": q, "limit": str(limit)}),
                             (f"/api/v1/contacts/{quote(ref, safe='')}", {"limit": str(limit)}),
                             ("/api/v1/deals", {}), ("/api/v1/companies", {})):
            r = _get(site, path, token, **params)
            declared = OPENAPI["paths"].get(path) or OPENAPI["paths"]["/api/v1/contacts/{ref}"]
            assert str(r.status_code) in declared["get"]["responses"], (path, r.status_code, r.text)
            body = r.json()
            if r.status_code == 200:
                want = declared["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"]
                assert isinstance(body, list if want == "array" else dict)
            else:
                assert isinstance(body["error"], str)

    check()


def test_token_command(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, f"sqlite:///{tmp_path / 's.db'}", free_port(), users=USERS))
    env = {"MAILCRM_CONFIG": str(cfg), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mailcrm", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    r = cli("web", "token", "me@example.org")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    r = cli("web", "token", "me@example.org", "--revoke", "--json")
    assert r.returncode == 0 and '"revoked": 1' in r.stdout
    r = cli("web", "token", "stranger@example.org")
    assert r.returncode == 2 and "not a user" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture
def api_schema(site: Site) -> Any:  # noqa: F811
    """The API's own OpenAPI schema, loaded through the ASGI app (no socket)."""
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", site.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_schemathesis(case: Any, site: Site) -> None:  # noqa: F811
    """schemathesis (bounded: 12 examples per operation, valid and invalid ones) against the schema: no 5xx,
    every status and body as declared, invalid parameters refused with 4xx, the token required."""
    token = site.state.get("token")
    if token is None:
        token = site.state["token"] = str(web_accounts.issue_token(site.factory, site.cfg, "me@example.org")["token"])
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
