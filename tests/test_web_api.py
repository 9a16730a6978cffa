"""The JSON API: bearer tokens (issued, revoked), the CLI's --json shapes, the OpenAPI schema, and a bounded
hypothesis run of the schema's parameters against the app (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
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
    assert _get(site, "/api/v1/nothing", token).status_code == 404
    schema = _get(site, "/api/v1/openapi.json", None).json()
    assert schema["openapi"].startswith("3.") and set(schema["paths"]) == {
        "/api/v1/contacts", "/api/v1/contacts/{ref}", "/api/v1/companies", "/api/v1/deals"}
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
