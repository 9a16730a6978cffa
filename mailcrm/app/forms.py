"""Lead forms (`mailcrm form add|list|remove|rotate`): a name, an unguessable intake token, an owner."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.config import Config
from mailcrm.errors import Invalid, NotFound
from mailcrm.store import db
from mailcrm.store import repository as repo
from mailcrm.store.models import Form, User, utcnow

TOKEN_BYTES = 24  # 192 bits, URL-safe base64: not guessable, not enumerable


def intake_url(cfg: Config, token: str) -> str:
    """The URL a site posts to: [web] public_url, else http://<listen>."""
    base = (cfg.web.public_url if cfg.web and cfg.web.public_url else f"http://{cfg.web_listen()}").rstrip("/")
    return f"{base}/intake/{token}"


def _summary(cfg: Config, form: Form, user: str | None) -> dict[str, Any]:
    return {"name": form.name, "url": intake_url(cfg, form.token), "user": user, "status": form.status,
            "created_at": form.created_at, "rotated_at": form.rotated_at}


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise Invalid(f"form name {name!r}: use letters, digits, '-', '_' or '.' (up to 100)")
    return name


def add_form(factory: sessionmaker[Session], cfg: Config, name: str, user: str | None = None) -> dict[str, Any]:
    """Create a form with a fresh token; returns its summary (with the intake URL)."""
    name = _valid_name(name)
    owner = cfg.user_for_address(user) if user else (cfg.users[0] if cfg.users else None)
    if user and owner is None:
        raise Invalid(f"--user {user}: not a user in the config's [[users]]")
    with db.transaction(factory) as s:
        repo.sync_users(s, cfg)
        existing = s.scalar(select(Form).where(Form.name == name))
        if existing is not None and existing.status == "active":
            raise Invalid(f"form {name!r} exists (use `mailcrm form rotate {name}` for a new token)")
        user_id = repo.user_id_for(s, owner.email) if owner else None
        if existing is None:
            existing = Form(name=name, token=secrets.token_urlsafe(TOKEN_BYTES), user_id=user_id, status="active")
            s.add(existing)
        else:  # re-adding a removed form: a new token, never the old one
            existing.token, existing.status, existing.user_id = secrets.token_urlsafe(TOKEN_BYTES), "active", user_id
            existing.rotated_at = utcnow()
        s.flush()
        return _summary(cfg, existing, owner.email if owner else None)


def list_forms(factory: sessionmaker[Session], cfg: Config, include_removed: bool = False) -> list[dict[str, Any]]:
    """Forms with their intake URLs (removed ones only on request)."""
    with db.transaction(factory) as s:
        q = select(Form, User.email).outerjoin(User, User.id == Form.user_id).order_by(Form.name)
        if not include_removed:
            q = q.where(Form.status == "active")
        return [_summary(cfg, f, email) for f, email in s.execute(q).all()]


def _get(s: Session, name: str) -> Form:
    form = s.scalar(select(Form).where(Form.name == name, Form.status == "active"))
    if form is None:
        raise NotFound(f"no form {name!r} (see `mailcrm form list`)")
    return form


def remove_form(factory: sessionmaker[Session], cfg: Config, name: str) -> dict[str, Any]:
    """Stop accepting submissions for a form (its leads stay)."""
    with db.transaction(factory) as s:
        form = _get(s, name)
        form.status = "removed"
        form.token = "removed-" + secrets.token_hex(16)  # the old URL answers 404 from now on
        return _summary(cfg, form, None)


def rotate_form(factory: sessionmaker[Session], cfg: Config, name: str) -> dict[str, Any]:
    """Give a form a new token; the old URL answers 404 from now on."""
    with db.transaction(factory) as s:
        form = _get(s, name)
        form.token, form.rotated_at = secrets.token_urlsafe(TOKEN_BYTES), utcnow()
        email = s.scalar(select(User.email).where(User.id == form.user_id)) if form.user_id else None
        return _summary(cfg, form, email)


def active_tokens(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(token, form name) of every active form (the web listener's token table)."""
    with db.transaction(factory) as s:
        return [(t, n) for t, n in s.execute(select(Form.token, Form.name).where(Form.status == "active")).all()]
