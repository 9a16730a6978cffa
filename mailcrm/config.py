"""Typed configuration: pydantic models, TOML loading, one-line errors (house rule 6).

Location: ``--config PATH``, else ``$MAILCRM_CONFIG``, else
``$XDG_CONFIG_HOME/mailcrm/config.toml`` (``~/.config/mailcrm/config.toml``).
Data (SQLite database, spool) defaults under ``$XDG_DATA_HOME/mailcrm``.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mailcrm.domain.leads import LEAD_FIELDS
from mailcrm.errors import ConfigError
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.parse.subaddress import subaddress_of

DEFAULT_STAGES: dict[str, dict[str, int | str | None]] = {
    # stage: first_after (days after entering the stage, or after the deal opened when
    # anchor = "opened"), every_min, every_max (days between touches)
    "lead": {"first_after": 1, "every_min": 1, "every_max": 1},
    "brief": {"first_after": 5, "every_min": 2, "every_max": 3, "anchor": "opened"},
    "invoiced": {"first_after": 1, "every_min": 1, "every_max": 1},
    "paid": {"first_after": 3, "every_min": 3, "every_max": 7},
    "in_progress": {"first_after": 3, "every_min": 3, "every_max": 7},
    "won": {"first_after": None, "every_min": None, "every_max": None},
    "lost": {"first_after": None, "every_min": None, "every_max": None},
}


def xdg_config_home() -> Path:
    """$XDG_CONFIG_HOME or ~/.config."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_data_home() -> Path:
    """$XDG_DATA_HOME or ~/.local/share."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_config_path() -> Path:
    """Where the config lives when neither --config nor MAILCRM_CONFIG says."""
    env = os.environ.get("MAILCRM_CONFIG")
    if env:
        return Path(env)
    return xdg_config_home() / "mailcrm" / "config.toml"


def default_data_dir() -> Path:
    """Where the embedded database and the spool live by default."""
    return xdg_data_home() / "mailcrm"



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Strict):
    """[database]"""

    url: str = ""  # empty: sqlite:///<data_dir>/mailcrm.sqlite3


class SmtpConfig(_Strict):
    """[smtp] - the dropbox listener."""

    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    hostname: str = "mailcrm.localhost"  # name announced in the greeting
    max_message_size: int = Field(default=25 * 1024 * 1024, ge=1024)
    unknown_sender: Literal["reject", "quarantine"] = "reject"
    tls_cert: str | None = None
    tls_key: str | None = None
    require_tls: bool = False  # refuse MAIL before STARTTLS
    require_auth: bool = False  # refuse MAIL before AUTH (AUTH accounts are the users)
    auth_allow_plaintext: bool = False  # allow AUTH without TLS (loopback only)
    max_connections: int = Field(default=100, ge=1)  # in total; 421 beyond
    max_connections_per_address: int = Field(default=10, ge=1)  # from one client address; 421 beyond
    auth_failure_delay: float = Field(default=1.0, ge=0, le=30)  # seconds after a failed AUTH; doubles
    auth_failures_per_connection: int = Field(default=3, ge=1)  # then 421 and close
    auth_failures_per_address: int = Field(default=10, ge=1)  # within auth_lockout_seconds: locked out
    auth_lockout_seconds: int = Field(default=900, ge=1)

    @model_validator(mode="after")
    def _tls_pair(self) -> "SmtpConfig":
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if self.require_tls and not self.tls_cert:
            raise ValueError("require_tls needs tls_cert and tls_key")
        if self.auth_allow_plaintext and not is_loopback(self.host):
            raise ValueError(f"auth_allow_plaintext = true would send passwords in clear to {self.host}: "
                             "allowed only with a loopback host; set tls_cert and tls_key instead")
        if self.require_auth and not self.tls_cert and not self.auth_allow_plaintext:
            raise ValueError("require_auth = true without tls_cert/tls_key refuses all mail (AUTH needs TLS): "
                             "set tls_cert and tls_key (or, on a loopback host, auth_allow_plaintext = true)")
        return self


class UserConfig(_Strict):
    """[[users]] - one person whose mail feeds the CRM."""

    email: str
    name: str | None = None
    addresses: list[str] = Field(default_factory=list)  # more of the user's own addresses
    dropbox: str  # the secret address to BCC, e.g. crm+k3f9...@example.org
    timezone: str = "Europe/Moscow"
    digest_time: str = "08:00"
    language: Literal["ru", "en"] = "ru"
    phone_region: str = DEFAULT_PHONE_REGION
    password_file: str | None = None  # SMTP AUTH password for this user (login = email)
    password_env: str | None = None

    @field_validator("email", "dropbox")
    @classmethod
    def _addr(cls, v: str) -> str:
        v = v.strip().lower()
        if "@" not in v or v.startswith("@") or v.endswith("@"):
            raise ValueError(f"not an email address: {v!r}")
        return v

    @field_validator("addresses")
    @classmethod
    def _addrs(cls, v: list[str]) -> list[str]:
        return [cls._addr(a) for a in v]

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. Europe/Moscow)") from None
        return v

    @field_validator("digest_time")
    @classmethod
    def _time(cls, v: str) -> str:
        try:
            t = dt.time.fromisoformat(v)
        except ValueError:
            t = None
        if t is None or len(v) != 5 or t.second:  # the store keeps HH:MM (users.digest_time is 5 characters)
            raise ValueError(f"digest_time must be HH:MM, got {v!r}")
        return v

    def all_addresses(self) -> list[str]:
        """The user's own addresses, primary first."""
        return list(dict.fromkeys([self.email, *self.addresses]))

    def password(self) -> str | None:
        """The SMTP AUTH password from password_file or password_env (never logged)."""
        return _secret(self.password_file, self.password_env)


class ImapConfig(_Strict):
    """[[imap]] - one IMAP account polled (IDLE) for mail."""

    name: str
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    password_file: str | None = None
    password_env: str | None = None
    folders: dict[str, Literal["dropbox", "inbox", "sent"]] = Field(
        default_factory=lambda: {"INBOX": "dropbox"}  # type: ignore[arg-type]
    )
    user: str | None = None  # which [[users]] email this account belongs to (default: the first user)
    after_ingest: Literal["flag", "move", "none"] = "flag"  # dropbox role only
    move_to: str = "mailcrm-done"
    flag: str = "$MailcrmIngested"
    create_contacts: bool = False  # sent role: create contacts for any recipient
    poll_interval: int = Field(default=60, ge=5)  # seconds, when the server has no IDLE
    idle_timeout: int = Field(default=25 * 60, ge=30, le=29 * 60)  # RFC 2177: re-IDLE before 29 min
    ca_file: str | None = None  # extra CA bundle (self-signed servers)
    verify_tls: bool = True

    @model_validator(mode="after")
    def _checks(self) -> "ImapConfig":
        if not (self.password_file or self.password_env):
            raise ValueError("set password_file or password_env")
        if self.security == "plain" and not is_loopback(self.host):
            raise ValueError("security = \"plain\" is allowed only to a loopback address")
        return self

    def password(self) -> str | None:
        """The account password (never logged)."""
        return _secret(self.password_file, self.password_env)


class StageConfig(_Strict):
    """[cadence.stages.NAME] - when a deal in this stage needs a touch."""

    first_after: int | None = None  # days after entering the stage before the first follow-up
    every_min: int | None = None  # days between touches, at least ...
    every_max: int | None = None  # ... and at most (due dates are spread in this window)
    anchor: Literal["stage", "opened"] = "stage"  # first_after counts from entering the stage, or from the deal's opening

    @model_validator(mode="after")
    def _order(self) -> "StageConfig":
        if self.every_min is not None and self.every_max is not None and self.every_min > self.every_max:
            raise ValueError("every_min must not exceed every_max")
        return self


class CadenceConfig(_Strict):
    """[cadence]"""

    stages: dict[str, StageConfig] = Field(
        default_factory=lambda: {k: StageConfig(**v) for k, v in DEFAULT_STAGES.items()}  # type: ignore[arg-type]
    )
    default_stage: str = "lead"
    closed_stages: list[str] = Field(default_factory=lambda: ["won", "lost"])
    quiet_after_days: int = Field(default=42, ge=1)  # "quiet outreach": sent, no reply for 6+ weeks
    # Stage names shown to people, per language ([cadence.stage_labels.ru] invoiced = "счёт выставлен"):
    # over the built-in labels of the default stages (domain/deal_states.STAGE_LABELS).
    stage_labels: dict[Literal["ru", "en"], dict[str, str]] = Field(default_factory=dict)

    def labels(self, language: str) -> dict[str, str]:
        """Stage -> label in ``language`` (built-in labels, the configured ones over them)."""
        from mailcrm.domain.deal_states import stage_labels

        return stage_labels(language, {str(k): v for k, v in self.stage_labels.items()}.get(language))

    @model_validator(mode="after")
    def _default_known(self) -> "CadenceConfig":
        if self.default_stage not in self.stages:
            raise ValueError(f"default_stage {self.default_stage!r} is not in cadence.stages")
        return self


# The digest's sections (digest/rules.SECTIONS; a test keeps the two in step).
DIGEST_SECTIONS = ("call_today", "new_leads", "follow_ups", "waiting", "touches", "dates", "bounces", "suspect",
                   "no_address", "repeats", "autoreplies", "quiet")


class DigestConfig(_Strict):
    """[digest] - the morning mail and the relay it goes through."""

    enabled: bool = True
    relay_host: str = "127.0.0.1"
    relay_port: int = Field(default=25, ge=1, le=65535)
    relay_security: Literal["none", "starttls", "tls"] = "none"
    relay_username: str | None = None
    relay_password_file: str | None = None
    relay_password_env: str | None = None
    from_address: str = "mailcrm@localhost"
    empty_day: Literal["line", "none"] = "line"  # a day with nothing: one short line, or no mail
    max_retries: int = Field(default=5, ge=0)
    # Answers by mail (digest replies, +find ...) the relay refused or could not take: first retry
    # after this many seconds, then twice as long each time, up to an hour; never dropped.
    answer_retry_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Lines listed per section at most; the rest is "and N more" (the quiet section: per tag, 15).
    section_limit: int = Field(default=30, ge=1, le=10_000)
    section_limits: dict[str, int] = Field(default_factory=dict)

    @field_validator("section_limits")
    @classmethod
    def _known_sections(cls, value: dict[str, int]) -> dict[str, int]:
        for name, n in value.items():
            if name not in DIGEST_SECTIONS:
                raise ValueError(f"unknown digest section {name!r} (one of: {', '.join(DIGEST_SECTIONS)})")
            if not 1 <= n <= 10_000:
                raise ValueError(f"section_limits.{name} must be 1..10000")
        return value

    def relay_password(self) -> str | None:
        """The relay password (never logged)."""
        return _secret(self.relay_password_file, self.relay_password_env)


class BouncesConfig(_Strict):
    """[bounces]"""

    soft_threshold: int = Field(default=5, ge=1)
    soft_window_days: int = Field(default=14, ge=1)


class IngestConfig(_Strict):
    """[ingest]"""

    max_attempts: int = Field(default=5, ge=1)  # transient failures before quarantine
    free_mail_domains: list[str] = Field(default_factory=list)  # added to the built-in list
    # Parser processes beside the worker thread: "auto" = 1 with two or more cores, else 0 (parse in
    # the worker thread).
    parse_processes: int | Literal["auto"] = "auto"
    # Group commit of the SMTP and web listeners' spool writes: one fsync (file + directory) covers
    # what arrives within this many milliseconds, each 250 / 2xx sent after it; 0: one per message.
    group_commit_ms: float = Field(default=1.0, ge=0, le=100)
    # CPU priority of the worker process (and its parsers) below the listeners (os.nice increment):
    # a burst is answered at the speed of receiving and stored right after; 0: the same priority.
    worker_nice: int = Field(default=10, ge=0, le=19)

    @field_validator("parse_processes")
    @classmethod
    def _processes(cls, v: int | str) -> int | str:
        if isinstance(v, int) and not 0 <= v <= 16:
            raise ValueError("must be \"auto\" or a number from 0 to 16")
        return v

    def parser_processes(self) -> int:
        """The number of parser processes to start."""
        if self.parse_processes == "auto":
            return 1 if (os.cpu_count() or 1) >= 2 else 0
        return int(self.parse_processes)

    def import_parser_processes(self) -> int:
        """Parser processes of `mailcrm import`: "auto" starts one per spare core (all but the
        writer's), none on one core; a number is used as it is."""
        if self.parse_processes == "auto":
            cpus = os.cpu_count() or 1
            return cpus - 1 if cpus >= 2 else 0
        return int(self.parse_processes)


class SecurityConfig(_Strict):
    """[security] - who may write as the user (sender authentication, RFC 7489 alignment)."""

    # require: mail claiming a user's address without proof is quarantined; mark: stored and
    # flagged but never creates contacts or kills addresses; off: no check.
    author_auth: Literal["require", "mark", "off"] = "require"
    # Peers whose SMTP sessions are proof by themselves (the user's own MX, a local submission).
    trusted_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # Authentication-Results headers (RFC 8601) honoured only from these authserv-ids.
    trusted_authserv_ids: list[str] = Field(default_factory=list)
    # ARC sealers (RFC 8617, the d= of an ARC-Seal) whose sealed results may prove an author: a
    # mailing service that forwards and re-signs the user's mail.  Empty: an ARC pass proves nothing.
    trusted_arc_sealers: list[str] = Field(default_factory=list)
    # DNS server for DKIM/SPF/DMARC lookups as "HOST:PORT" (empty: the system resolver).
    dns_server: str = ""
    dns_timeout: float = Field(default=3.0, gt=0, le=30)  # seconds per lookup
    max_unknown_recipients: int = Field(default=3, ge=1)  # then the SMTP session is dropped (421)

    @field_validator("trusted_networks")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        return _networks(v, "not a CIDR network: {!r} (e.g. \"192.0.2.0/24\")")

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        return [x.strip().lower() for x in v if x.strip()]

    @field_validator("trusted_arc_sealers")
    @classmethod
    def _sealers(cls, v: list[str]) -> list[str]:
        out = [x.strip().lower().rstrip(".") for x in v if x.strip()]
        for d in out:
            if "." not in d or "@" in d or any(ch.isspace() for ch in d):
                raise ValueError(f"not a domain: {d!r} (e.g. \"lists.example.org\")")
        return out

    @field_validator("dns_server")
    @classmethod
    def _server(cls, v: str) -> str:
        if v:
            host, sep, port = v.rpartition(":")
            try:
                ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                host = ""
            if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
                raise ValueError(f"expected IP:PORT, e.g. \"127.0.0.1:53\", got {v!r}")
        return v

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The trusted networks, parsed (once: the SMTP listener asks for every message)."""
        return list(_parsed_networks(tuple(self.trusted_networks)))

    def is_trusted_peer(self, ip: str | None) -> bool:
        """True when ``ip`` lies in one of the trusted networks."""
        if not ip:
            return False
        try:
            addr = ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == n.version and addr in n for n in self.networks())


class WorksConfig(_Strict):
    """[works] - plays and pitches recognised in sent mail, and the "already sent" warning."""

    warn_window_days: int = Field(default=730, ge=1)  # a repeat within this many days warns
    subject_pattern: str = ""  # a regex whose first group (or whole match) names a work in a subject
    warn_mail: bool = True  # mail the warning at once through the digest's relay

    @field_validator("subject_pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc}); write e.g. 'пьеса (\\S+)'") from None
        return v


class LogConfig(_Strict):
    """[log]"""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


class WebConfig(_Strict):
    """[web] - the HTTP listener (form intake; the web UI shares it)."""

    listen: str = "127.0.0.1:8025"
    public_url: str = ""  # how the outside world reaches it (behind a proxy), e.g. https://crm.example.org
    max_body: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)  # bytes; larger -> 413
    rate_limit: int = Field(default=30, ge=1)  # submissions per client address per minute; more -> 429
    trusted_proxies: list[str] = Field(default_factory=list)  # X-Forwarded-For is read only from these
    tls_cert: str | None = None  # PEM certificate chain: the listener speaks HTTPS itself
    tls_key: str | None = None
    allow_insecure_http: bool = False  # a non-loopback listen without TLS (only behind a TLS reverse proxy)

    @model_validator(mode="after")
    def _safe_listen(self) -> "WebConfig":
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        host = self.listen.rpartition(":")[0]
        problem = insecure_listen(host, self)
        if problem:
            raise ValueError(problem)
        return self

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected HOST:PORT such as 127.0.0.1:8025, got {v!r}")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        return _networks(v, "not an IP address or network: {!r}")


def insecure_listen(host: str, web: WebConfig) -> str | None:
    """Why serving plain HTTP on ``host`` is refused (None: loopback, TLS, or explicitly allowed)."""
    bare = host.strip("[]") or "127.0.0.1"
    if bare == "localhost" or web.tls_cert or web.allow_insecure_http:
        return None
    try:
        if ipaddress.ip_address(bare).is_loopback:
            return None
    except ValueError:
        pass
    return (f"listen on {bare} (not loopback) needs tls_cert and tls_key, or allow_insecure_http = true "
            "behind a TLS reverse proxy (passwords would cross the network in clear)")


class FormConfig(_Strict):
    """[[forms]] - settings of one lead form (HTTP intake created by `mailcrm form add`, or mail)."""

    name: str
    # Submitted field name -> lead field (name, email, phone, company, message, utm_*); adds to or
    # overrides the built-in Russian and English names, e.g. { "your-name" = "name" }.
    fields: dict[str, str] = Field(default_factory=dict)
    honeypot: str = "_hp"  # a field humans never fill: a value there -> 200 and nothing stored
    cors_origins: list[str] = Field(default_factory=list)  # origins allowed to post from a browser
    # Senders of notification mail that may reach the dropbox as leads (written `from` or `senders`;
    # "@tilda.ws" takes the whole domain).
    senders: list[str] = Field(default_factory=list, validation_alias=AliasChoices("from", "senders"))
    subject: str | None = None  # regular expression a notification mail's subject must match
    user: str | None = None  # whose leads (default: the first user)

    @field_validator("senders", mode="before")
    @classmethod
    def _senders(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            return [str(a).strip().lower() for a in v]
        return v

    @field_validator("subject")
    @classmethod
    def _subject(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        for key, target in v.items():
            if target not in LEAD_FIELDS and not target.startswith("utm_"):
                raise ValueError(f"fields.{key}: {target!r} is not one of {', '.join(LEAD_FIELDS)} or utm_*")
        return {k.lower(): t for k, t in v.items()}


class Config(_Strict):
    """The whole configuration file."""

    data_dir: str = ""  # empty: $XDG_DATA_HOME/mailcrm
    database: DatabaseConfig = DatabaseConfig()
    smtp: SmtpConfig = SmtpConfig()
    users: list[UserConfig] = Field(default_factory=list)
    imap: list[ImapConfig] = Field(default_factory=list)
    cadence: CadenceConfig = CadenceConfig()
    digest: DigestConfig = DigestConfig()
    bounces: BouncesConfig = BouncesConfig()
    ingest: IngestConfig = IngestConfig()
    security: SecurityConfig = SecurityConfig()
    works: WorksConfig = WorksConfig()
    log: LogConfig = LogConfig()
    web: WebConfig | None = None  # no [web] section: no HTTP listener unless `serve --web`
    forms: list[FormConfig] = Field(default_factory=list)
    source: str = Field(default="", exclude=True)  # the file it came from (for messages)

    @model_validator(mode="after")
    def _unique(self) -> "Config":
        seen: set[str] = set()
        for u in self.users:
            for a in [*u.all_addresses(), u.dropbox]:
                if a in seen:
                    raise ValueError(f"address {a!r} appears twice in [[users]]")
                seen.add(a)
        names = [i.name for i in self.imap]
        if len(names) != len(set(names)):
            raise ValueError("two [[imap]] accounts share a name")
        forms = [f.name for f in self.forms]
        if len(forms) != len(set(forms)):
            raise ValueError("two [[forms]] share a name")
        for f in self.forms:
            if f.user and self.user_for_address(f.user) is None:
                raise ValueError(f"forms {f.name!r}: user {f.user!r} is not in [[users]]")
        return self

    def form(self, name: str) -> FormConfig:
        """The [[forms]] settings of form ``name`` (defaults when it has no section)."""
        return next((f for f in self.forms if f.name == name), FormConfig(name=name))

    def web_listen(self) -> str:
        """HOST:PORT of the web listener ([web] listen, or its default)."""
        return (self.web or WebConfig()).listen

    # -- derived values --------------------------------------------------------------
    def data_path(self) -> Path:
        """The data directory (created on demand by callers)."""
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()

    def spool_path(self) -> Path:
        """The spool directory."""
        return self.data_path() / "spool"

    def database_url(self) -> str:
        """The SQLAlchemy URL; the embedded SQLite file by default."""
        return self.database.url or f"sqlite:///{self.data_path() / 'mailcrm.sqlite3'}"

    def phone_region(self) -> str:
        """The region for numbers written without a country code (the first user's)."""
        return self.users[0].phone_region if self.users else DEFAULT_PHONE_REGION

    def user_addresses(self) -> frozenset[str]:
        """Every address that belongs to a registered user."""
        return frozenset(a for u in self.users for a in u.all_addresses())

    def dropbox_addresses(self) -> frozenset[str]:
        """Every user's dropbox address."""
        return frozenset(u.dropbox for u in self.users)

    def user_for_address(self, address: str) -> UserConfig | None:
        """The user owning an address (own or dropbox)."""
        a = address.lower()
        for u in self.users:
            if a in u.all_addresses() or a == u.dropbox or dropbox_matches(u.dropbox, a):
                return u
        return None


    def warnings(self) -> list[str]:
        """Settings that work but weaken the CRM (printed by the CLI, logged by the daemon)."""
        out = []
        for u in self.users:
            bits = secret_bits(u.dropbox)
            if bits < MIN_DROPBOX_BITS:
                out.append(f"{self.source}: users.dropbox {u.dropbox!r}: its secret part has about {bits:.0f} bits "
                           f"of randomness (under {MIN_DROPBOX_BITS}); anyone who guesses it can write to the CRM; "
                           "run `mailcrm dropbox rotate`")
        return out


MIN_DROPBOX_BITS = 64


def secret_bits(dropbox: str) -> float:
    """Estimated bits of randomness in a dropbox's secret part (the local part after the first "+").

    The estimate assumes each character was drawn uniformly from the smallest usual alphabet
    that contains all of them (digits, hex, letters, letters and digits, plus punctuation): an
    upper bound for a random token, far above what a word or a name really has, so a warning is
    never a false alarm for a generated address (``mailcrm init`` draws 80 bits).
    """
    local = dropbox.partition("@")[0].lower()
    secret = local.partition("+")[2] or local
    if not secret:
        return 0.0
    chars = set(secret)
    if chars <= set("0123456789"):
        alphabet = 10
    elif chars <= set("0123456789abcdef"):
        alphabet = 16
    elif chars <= set("abcdefghijklmnopqrstuvwxyz"):
        alphabet = 26
    elif chars <= set("abcdefghijklmnopqrstuvwxyz0123456789"):
        alphabet = 36
    else:
        alphabet = 40
    return len(secret) * math.log2(alphabet)


def machine_timezone() -> str:
    """This machine's IANA time zone: $TZ, /etc/timezone, the /etc/localtime link; else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if not name or name.startswith("/"):
            continue
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        return "UTC" if name in ("Etc/UTC", "Etc/Universal", "Universal", "Zulu", "UCT") else name
    return "UTC"


def dropbox_matches(dropbox: str, address: str) -> bool:
    """True when ``address`` is ``dropbox`` or a sub-address of it (crm+k3f9+deal@ for crm+k3f9@)."""
    return subaddress_of(address, dropbox) is not None


@functools.lru_cache(maxsize=32)
def _parsed_networks(values: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in values)


def _networks(values: list[str], problem: str) -> list[str]:
    """``values`` when each is an IP network or address (ValueError naming the first that is not)."""
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(problem.format(value)) from None
    return values


def is_loopback(host: str) -> bool:
    """True for "localhost" and loopback IP addresses (127/8, ::1, also written "[::1]")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _secret(path: str | None, env: str | None) -> str | None:
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read password file {path}: {exc.strerror}") from None
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"environment variable {env} (password_env) is not set")
        return value
    return None


def _loc(err: Any) -> str:
    parts: list[str] = []
    for p in err.get("loc", ()):
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        else:
            parts.append(str(p))
    return ".".join(parts) or "(top level)"


def parse(text: str, source: str = "<string>") -> Config:
    """Validate TOML text; raises ConfigError with one line naming file, key and problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (see config.example.toml)"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: {_loc(err)}: {msg}{more}") from None
    return cfg.model_copy(update={"source": source})


def load(path: Path | str | None = None) -> Config:
    """Load the config file (default location when None); ConfigError when missing or bad."""
    p = Path(path) if path else default_config_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no config file; run `mailcrm init --email YOU@DOMAIN` first") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return parse(text, str(p))
