"""Web accounts: a user's password (argon2), login sessions, logout, API bearer tokens.

argon2-cffi's ``PasswordHasher`` (argon2id, RFC 9106 defaults) is the hash: memory-hard, salted, and
its ``check_needs_rehash`` lets a login upgrade an old hash when the parameters change.  A session is
a random 256-bit token in the cookie; the store keeps only its SHA-256, so a leaked database does
not hand out live sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.config import Config
from mailcrm.errors import Invalid
from mailcrm.store import db
from mailcrm.store import repository as repo
from mailcrm.store.models import User, WebCredential, WebSession, WebToken, utcnow

MIN_PASSWORD = 10  # characters; a web login guards the whole team's contacts
SESSION_DAYS = 14
_hasher = PasswordHasher()
# Verified when the address has no password, so an unknown address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class WebUser:
    """The user a request acts for."""

    user_id: int
    email: str
    name: str | None
    language: str
    timezone: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_password(factory: sessionmaker[Session], cfg: Config, email: str, password: str) -> dict[str, object]:
    """Store ``email``'s new web password (argon2 hash) and end that user's open sessions."""
    email = email.strip().lower()
    if not any(u.email == email for u in cfg.users):
        raise Invalid(f"{email}: not a user in the config's [[users]] (the primary email address)")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"the password is too short: use at least {MIN_PASSWORD} characters")
    hashed = _hasher.hash(password)
    with db.transaction(factory) as s:
        repo.sync_users(s, cfg)
        user_id = repo.user_id_for(s, email)
        assert user_id is not None  # sync_users just made it
        row = s.get(WebCredential, user_id)
        if row is None:
            s.add(WebCredential(user_id=user_id, password_hash=hashed))
        else:
            row.password_hash, row.updated_at = hashed, utcnow()
        ended = s.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id)) or 0
        s.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return {"email": email, "sessions_ended": ended}


def login(factory: sessionmaker[Session], email: str, password: str,
          days: int = SESSION_DAYS) -> str | None:
    """Check ``password`` for ``email``; on success a new session token (for the cookie), else None."""
    email = email.strip().lower()
    with db.transaction(factory) as s:
        found = s.execute(select(User.id, WebCredential.password_hash)
                          .join(WebCredential, WebCredential.user_id == User.id)
                          .where(User.email == email)).first()
        try:
            _hasher.verify(found[1] if found else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if found is None:
            return None
        user_id, stored = found
        if _hasher.check_needs_rehash(stored):
            cred = s.get(WebCredential, user_id)
            if cred is not None:
                cred.password_hash = _hasher.hash(password)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        s.execute(delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at < now))
        s.add(WebSession(token_hash=_token_hash(token), user_id=user_id, created_at=now,
                         expires_at=now + dt.timedelta(days=days)))
        return token


def session_user(factory: sessionmaker[Session], cfg: Config, token: str | None) -> WebUser | None:
    """The user of a live session token (None: no such session, or expired)."""
    if not token or len(token) > 200:
        return None
    with db.transaction(factory) as s:
        row = s.execute(select(User.id, User.email, User.name).join(WebSession, WebSession.user_id == User.id)
                        .where(WebSession.token_hash == _token_hash(token),
                               WebSession.expires_at > utcnow())).first()
    if row is None:
        return None
    u = cfg.user_for_address(row.email)
    if u is None:  # removed from the config: no longer a user
        return None
    return WebUser(row.id, row.email, u.name or row.name, u.language, u.timezone)


def logout(factory: sessionmaker[Session], token: str | None) -> None:
    """End the session of ``token`` (nothing when there is none)."""
    if token:
        with db.transaction(factory) as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


def _primary_user_id(s: Session, cfg: Config, email: str) -> int:
    email = email.strip().lower()
    if not any(u.email == email for u in cfg.users):
        raise Invalid(f"{email}: not a user in the config's [[users]] (the primary email address)")
    repo.sync_users(s, cfg)
    user_id = repo.user_id_for(s, email)
    assert user_id is not None  # sync_users just made it
    return user_id


def issue_token(factory: sessionmaker[Session], cfg: Config, email: str) -> dict[str, object]:
    """A new API bearer token for ``email`` (shown once: only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    with db.transaction(factory) as s:
        user_id = _primary_user_id(s, cfg, email)
        s.add(WebToken(token_hash=_token_hash(token), user_id=user_id))
    return {"email": email.strip().lower(), "token": token}


def revoke_tokens(factory: sessionmaker[Session], cfg: Config, email: str) -> dict[str, object]:
    """Revoke every live API token of ``email``."""
    with db.transaction(factory) as s:
        user_id = _primary_user_id(s, cfg, email)
        rows = list(s.scalars(select(WebToken).where(WebToken.user_id == user_id, WebToken.revoked_at.is_(None))))
        for row in rows:
            row.revoked_at = utcnow()
    return {"email": email.strip().lower(), "revoked": len(rows)}


def token_user(factory: sessionmaker[Session], cfg: Config, token: str | None) -> WebUser | None:
    """The user of a live (not revoked) API token."""
    if not token or len(token) > 200:
        return None
    with db.transaction(factory) as s:
        row = s.execute(select(User.id, User.email, User.name).join(WebToken, WebToken.user_id == User.id)
                        .where(WebToken.token_hash == _token_hash(token), WebToken.revoked_at.is_(None))).first()
    if row is None:
        return None
    u = cfg.user_for_address(row.email)
    if u is None:
        return None
    return WebUser(row.id, row.email, u.name or row.name, u.language, u.timezone)
