"""Settings: the one place recon reads its TOML file and the environment.

Precedence: environment (``RECON_<SECTION>__<KEY>``) over the TOML file over defaults. Secrets are
never in the file: the file names the environment variable that holds each one (``token_env``),
and ``Settings.secret`` reads it at the moment of use. A bad file fails with ``ConfigError`` naming
the key and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from recon.config_outputs import SAMPLE_RMA
from recon.config_outputs import CurrencyCode as CurrencyCode
from recon.config_outputs import DeliverySettings as DeliverySettings
from recon.config_outputs import RemediationMode as RemediationMode
from recon.config_outputs import RemediationSettings as RemediationSettings
from recon.config_outputs import ReportSettings as ReportSettings
from recon.config_outputs import SmtpSettings as SmtpSettings
from recon.config_outputs import Team as Team
from recon.config_outputs import WarehouseEvent as WarehouseEvent
from recon.config_values import EnvName, HttpUrl, shown_env_name
from recon.config_values import Section as _Section
from recon.errors import ConfigError
from recon.models import Category

DEFAULT_CONFIG = Path("config/recon.toml")
# Re-asks of unread Loop Get Return Details (``[loop] details_reask_*``): how many returns a
# night, and after how many that Loop failed to answer in a row the night stops asking.
DETAILS_REASK_PER_NIGHT = 100
DETAILS_REASK_STOP_AFTER = 3
SUPPORTED_SHOPIFY_VERSIONS = ("2026-01", "2026-04")

_ENV_PREFIX = "RECON_"
# The shop's host name (the API is at https://{domain}): not a URL.
_HOST = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
# The default RMA pattern: what names an RMA in a refund note, then the number.
_RMA_BEFORE = (
    # recon's own note first: "Loop RMA #12345" (rma.py's ``_own_notes`` relies on it)
    r"loop\s+rma\s*#?\s*",
    # as staff type it: "RMA 123", "RMA#123", "RMA-123", "RMA #: 123", "RMA: #123",
    # "RMA no. 123", "RMA No: 123", "RMA number 123" (a "." straight after RMA ends a sentence:
    # "No RMA. 150.00 refunded" names none); before a list, "RMAs 123 and 124", "RMA numbers"
    r"\brmas?\b(?:\s*(?:numbers?|num|nr|no)\.?)?\s*(?:#\s*:?|:\s*#?|-)?\s*",
    r"loop\s+return\s*#?\s*",
    r"\breturn\s*#\s*",
)
# Numbers after those words that are not RMAs: more digits than an RMA has (21 or more: the
# group would take the first 20, a number the note does not hold); an amount, digits with a
# decimal part ("No RMA - 150.00 goodwill", "150,00 EUR": a comma then one or two digits; a
# comma then more digits is a list, "RMA 12345,12346"); a date, year first ("RMA: 2026-11-30",
# "2026/11/30"; day or month first, it starts with fewer digits than an RMA has); a phone
# number, three groups of 3-4 digits split by "-", "." or a space ("RMA 555-123-4567",
# "020 7946 0958"); a number glued to "-<digit>" ("RMA 555-1234", "RMA 2026-11", "RMA
# 12345-2"), part of a phone number, a date or a hyphenated reference: Loop's RMAs are plain
# integers (loop-returns-api.md), so its head is none, and a refund so noted falls through
# to the weaker keys. Not two numbers of five digits or more ("RMA 12345-12347"): a range or
# a list, read as its two ends (rma.py ``_LIST_NEXT``; then AMBIGUOUS_RMA: expanding a range
# would name returns the note does not, and reading none let the heuristic link the refund to
# one of them silently); shorter on either side it stays a phone number ("RMA 1234-5678") or
# a ZIP+4 ("12345-6789"). RE2 has no look-ahead: ``\b`` or a letter ends the short side
# ("12345-2a"), never a digit or a separator ("12345-2, 12346" leaves its comma to the list).
# Nor is a reference of three parts or more ending in "-<1-4 digits>" ("RMA 12345-67890-1",
# "RMA 20261102-00017-1"): its first two parts are no range, so it names none.
# They are tried before the ``rma`` group and have none, so the note names no
# RMA there: leftmost-first alternation (``re`` and RE2 alike) needs no look-ahead, which RE2
# lacks, so rma.py's fast path runs the default. One pattern, not one per form: RE2 extracts
# the group in time that grows with the pattern's size, and four copies of these alternatives
# made a 1M-note parse three times slower. rma.py reads list items after an RMA with them too.
NOT_AN_RMA = (
    r"\d{21,}|\d{3,20}(?:\.\d|,\d{1,2}\b)|\d{3,4}-\d|\d{5,20}-\d{1,4}(?:\b|[^\W\d])"
    r"|\d{5,20}-\d{5,20}-\d{1,4}(?:\b|[^\W\d])|\d{4}/\d{1,2}[-/]\d{1,2}"
    r"|\d{3,4}[. ]\d{3,4}[-. ]\d{3,4}"
)
_RMA_LEAD = "|".join(_RMA_BEFORE)
DEFAULT_RMA_PATTERNS = (rf"(?:{_RMA_LEAD})(?:{NOT_AN_RMA}|(?P<rma>\d{{3,20}}))",)


class ShopSettings(_Section):
    slug: str = Field(default="sandbox", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    domain: str = Field(default="recon-sandbox.myshopify.com", pattern=_HOST)
    api_version: str = "2026-04"
    token_env: EnvName = "RECON_SHOPIFY_TOKEN"  # noqa: S105 - the variable's name, not a secret
    base_url: HttpUrl | None = None  # default https://{domain}; the sandbox sets its own
    # The shop's business day: nightly report folders and dates, month-end periods, the scheduler.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone name, e.g. America/New_York") from None
        return value

    @field_validator("api_version")
    @classmethod
    def _supported(cls, value: str) -> str:
        # @idempotent and changeFromQuantity exist from 2026-01 on; older versions cannot run
        # recon's write documents (shopify-admin-api.md §2).
        if value not in SUPPORTED_SHOPIFY_VERSIONS:
            raise ValueError(f"expected one of {', '.join(SUPPORTED_SHOPIFY_VERSIONS)}")
        return value


class LoopSettings(_Section):
    base_url: HttpUrl = "https://api.loopreturns.com/api"
    api_version: str = Field(default="2026-07", pattern=r"^(v1|\d{4}-\d{2})$")
    api_key_env: EnvName = "RECON_LOOP_API_KEY"
    page_size: int = Field(default=750, ge=1, le=750)
    window_days: int = Field(default=100, ge=1, le=120)
    # A closed refund return whose Get Return Details could not be read is held (its refund and
    # restock wait) and asked again by id, one request each, no retry. At most this many a
    # night, those asked longest ago first; the rest wait for a later night. 0 would never ask
    # again, and the holds would never lift (a return unchanged in Loop is not listed again).
    details_reask_per_night: int = Field(default=DETAILS_REASK_PER_NIGHT, ge=1)
    # The night stops asking once Loop failed to answer this many re-asks in a row (5xx,
    # timeouts): a hung details endpoint costs that many timeouts, not one per return due.
    details_reask_stop_after: int = Field(default=DETAILS_REASK_STOP_AFTER, ge=1)


class FaultSettings(_Section):
    """Faults the sandbox injects (``recon.sandbox.faults.Faults``): for rehearsals and chaos."""

    error_rate: float = Field(default=0.0, ge=0, le=1)
    latency_seconds: float = Field(default=0.0, ge=0)
    throttle_storm: bool = False
    drop_write_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0
    cost_multiplier: float = Field(default=1.0, gt=0)
    throttled_status: Literal[200, 429] = 200
    loop_omit_refund_object: bool = False
    loop_cursor_without_id: bool = False
    loop_zone_hours: float = Field(default=0.0, ge=-14, le=14)  # UTC offsets run -12..+14
    loop_oldest_first: bool = False
    loop_php_nulls: bool = False
    payout_refunds_positive: bool = False
    shopify_short_decimals: bool = False
    shopify_nodes_omit_nulls: bool = False


class SandboxSettings(_Section):
    enabled: bool = False
    world: Path | None = None  # a world file; else one is generated from seed/returns
    seed: int = 7
    returns: int = Field(default=200, ge=1)
    host: str = "127.0.0.1"
    shopify_port: int = Field(default=0, ge=0, le=65535)  # 0: any free port
    loop_port: int = Field(default=0, ge=0, le=65535)
    faults: FaultSettings = Field(default_factory=FaultSettings)


class StoreSettings(_Section):
    url: str = "sqlite:///var/recon.db"
    # PostgreSQL shared by many shops: each shop's rows live in a schema of their own.
    schema_: str | None = Field(default=None, alias="schema", pattern=r"^[a-z][a-z0-9_]{0,62}$")

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Checked here, not at the first connection: a bad URL there is a driver's traceback,
        # and a password's unescaped "@" makes the driver print the password's tail as a host.
        if _plain_sqlite_file(value):
            return value  # without SQLAlchemy: a bad config is refused in ~0.3 s, not ~0.5 s
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        expected = "expected sqlite:///path/to/recon.db or postgresql+psycopg://user@host/db"
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(expected) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(expected)
        if url.get_backend_name() == "sqlite" and _in_memory(url.database, url.query):
            # Refused rather than shared through one connection: the mirror is what makes
            # re-runs safe (watermarks, findings' history, the intent ledger that keeps a
            # refund from going out twice), and a database gone at exit keeps none of it.
            raise ValueError(
                "an SQLite database in memory is not kept: each connection (the run's threads)"
                " opens its own, empty, and it is gone when the run ends, with the ledger that"
                " keeps a refund from being sent twice; give a file, e.g. sqlite:///var/recon.db"
            )
        if "@" in (url.host or ""):
            raise ValueError("an @ in the user name or password must be written %40")
        try:
            url.get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError):
            raise ValueError(f"the driver {url.drivername} is not installed; {expected}") from None
        return value


def _plain_sqlite_file(url: str) -> bool:
    """Whether ``url`` is ``sqlite:///path`` naming a file, so valid without asking SQLAlchemy:
    no driver, query or escape (``%``) for it to read otherwise, and the stdlib's driver there.
    Anything else (``sqlite+pysqlite://``, ``?mode=ro``, PostgreSQL) is SQLAlchemy's to judge."""
    path = url.removeprefix("sqlite:///")
    if path == url or "?" in path or "%" in path or _in_memory(path, {}):
        return False
    try:
        import sqlite3  # noqa: F401 - the driver SQLAlchemy's sqlite:// loads
    except ImportError:
        return False
    return True


def _in_memory(database: str | None, query: Mapping[str, object]) -> bool:
    """Whether an SQLite URL's database lives in memory: no path (``sqlite://``),
    ``:memory:``, or a URI filename with ``mode=memory`` or the path ``:memory:``
    (``file::memory:?cache=shared``, https://sqlite.org/inmemorydb.html). The last is refused
    with or without ``uri=true``: with it the database is in memory, without it SQLite makes a
    file named ``file::memory:`` where nobody would look for the mirror."""
    if not database or database == ":memory:":
        return True
    if not database.startswith("file:"):
        return False
    path = database.removeprefix("file:").split("?", 1)[0]
    return path == ":memory:" or query.get("mode") == "memory" or "mode=memory" in database


class SyncSettings(_Section):
    # Each window re-reads this much before its watermark (records stamped late, clock skew).
    # At least 1: watermarks are the host's clock, so 0 misses whatever an API stamped just
    # before one (recon.sync also widens a window by a host clock found ahead of an API's).
    lookback_hours: int = Field(default=72, ge=1)
    backfill_window_days: int = Field(default=100, ge=1, le=100)
    initial_days: int = Field(default=60, ge=1)
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=6, ge=0)  # per request, after its first try
    # Per run and per API (Loop, Shopify): retries after failures (5xx, timeouts, resets), and
    # seconds lost to failed attempts and the waits before retrying them. A healthy night spends
    # a handful; the run stops with RetryBudgetExhaustedError past either. Throttle waits (429,
    # THROTTLED) are pacing, not failures: they count only toward throttle_budget_seconds.
    retry_budget: int = Field(default=200, ge=0)
    retry_budget_seconds: float = Field(default=1800.0, gt=0)
    throttle_budget_seconds: float = Field(default=7200.0, gt=0)
    # An order Shopify answers null for by id (deleted, or older than 60 days without
    # read_all_orders) is asked for again only when its Loop return changes, or once this many
    # days have passed since it was last asked (the app may have been granted read_all_orders).
    # So is an unsettled balance transaction answered null (or sooner, when its order changes),
    # and a mirrored order or refund read in part twice running (the first, the next night),
    # and a closed refund Loop return whose Get Return Details were refused twice running (a
    # 404; one Loop failed to answer, a 5xx or a timeout, is asked again every night).
    not_visible_recheck_days: int = Field(default=30, ge=1)
    # Payouts issued this many days back are read again every night, whatever their status.
    # Shopify documents PAID ("deposited into the bank") and FAILED ("declined by the bank") but
    # not whether a bank can return a payout after PAID: read again, one that turns FAILED
    # reaches the mirror and its refunds read UNSETTLED_REFUND again. About one payout a day
    # per currency: a page a night. 0 reads payouts from the watermark's look-back only.
    payout_recheck_days: int = Field(default=14, ge=0)


class EngineSettings(_Section):
    # Per refund, in its currency; 0 is exact. A negative one would mean nothing (the engine
    # read it as exact): refused, as the example documents the values recon takes.
    amount_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    rma_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_RMA_PATTERNS))
    refund_pending_days: int = Field(default=3, ge=0)
    unsettled_after_days: int = Field(default=10, ge=0)
    stale_return_days: int = Field(default=30, ge=1)
    heuristic_min_confidence: float = Field(default=0.8, ge=0, le=1)
    # Categories this shop does not want reported, e.g. MISSING_RESTOCK when Loop's
    # restock.requested webhook restocks in a warehouse system and never on Shopify refund lines.
    # They are still computed and counted ("not reported" in the run summary and report); their
    # earlier findings are neither resolved nor carried on while muted.
    muted_categories: list[Category] = Field(default_factory=list)
    # Shopify test orders (``Order.test``, a test gateway: no money moved) and what hangs on them
    # are left out of reconciliation, reports and remediation, and counted in the run summary.
    # True reconciles them like live orders (a development store whose orders are all test).
    include_test_orders: bool = False

    @field_validator("muted_categories")
    @classmethod
    def _mutable(cls, categories: list[Category]) -> list[Category]:
        # These findings hold recon's own refunds back until someone decides (docs/findings.md,
        # remediation/holds.py); muted, nothing would say why, and not holding them would
        # have recon pay a return again. Acknowledging one finding is the way to release it.
        for category in categories:
            why = _UNMUTABLE.get(category)
            if why is not None:
                raise ValueError(f"{category.value} cannot be muted: {why}")
        return categories

    @field_validator("rma_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {index} is not a regular expression: {exc}") from None
            if "rma" not in compiled.groupindex:
                raise ValueError(f"pattern {index} needs a named group (?P<rma>...)")
        return patterns


_UNMUTABLE = {
    Category.AMBIGUOUS_RMA: "it holds back refunds and restocks of the returns it names until "
    "someone decides which return the refund is for",
    Category.UNMATCHED_REFUND: "recon does not refund a return on the same order while a paid "
    "refund there links to no return (it may be that return's); acknowledge it once checked",
    Category.UNKNOWN_RMA: "recon does not refund a return on the same order while a paid refund "
    "there names an RMA it cannot link (a mistyped RMA: it may be that return's refund); "
    "acknowledge it once checked",
}


class Settings(BaseSettings):
    """All of recon's settings. Build with ``load_settings``."""

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    shop: ShopSettings = Field(default_factory=ShopSettings)
    loop: LoopSettings = Field(default_factory=LoopSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    remediation: RemediationSettings = Field(default_factory=RemediationSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (the TOML file's content, passed by load_settings) loses to the environment.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _note_reads_back(self) -> Settings:
        # What recon writes on a refund is what links it to its return on the next run.
        from recon.engine.rma import parse_rmas  # the parser itself (it imports this module)

        note = self.remediation.note_template.format(rma=SAMPLE_RMA)
        found = parse_rmas(note, self.engine.rma_patterns)
        if found != [SAMPLE_RMA]:
            raise ValueError(
                f"remediation.note_template: engine.rma_patterns read {found} out of {note!r}, "
                f"not the RMA {SAMPLE_RMA}: recon could not link its own refunds"
            )
        return self

    def secret(self, env_name: str | None, *, header: bool = False) -> str:
        """Read a secret from the environment variable the settings name (``header``: one sent
        as an HTTP header, the API token and key, which HTTP carries in ASCII only).

        Raises:
            ConfigError: if no variable is named, or it is unset, empty or holds a control
                character (a line break), or a header's is not ASCII.
        """
        if not env_name:
            raise ConfigError("a secret is needed but no environment variable is named for it")
        value = os.environ.get(env_name, "")
        variable, key, what = self._naming(env_name)
        if not value and variable == env_name:
            raise ConfigError(
                f"environment variable {env_name} is not set: it holds {what} ({key} names it); "
                f"export {env_name}=... in the environment recon runs in (cron's too), or set "
                f"{key} to the variable that holds it"
            )
        if not value:
            raise ConfigError(
                f"the environment variable {key} names is not set: it holds {what}; the value "
                f"of {key} is not shown because it does not look like a variable name (upper "
                "case letters, digits and _, e.g. RECON_LOOP_API_KEY): was the secret itself "
                f"pasted there? Set {key} to the name of the variable that holds it, and export "
                "that variable in the environment recon runs in (cron's too)"
            )
        if not value.isprintable():
            # A key file's line break (kubectl create secret --from-file) or a character pasted
            # with the key: no header or SMTP login can carry it, and every request would be
            # retried until the run gave up. Never echoed, not even in part.
            raise ConfigError(
                f"environment variable {variable} holds {what} ({key} names it) with a line "
                "break, tab or other invisible control character in it (a file's final newline "
                f"read with it?); set {variable} to the credential alone"
            )
        if header and not value.isascii():
            raise ConfigError(
                f"environment variable {variable} holds {what} ({key} names it) with a "
                "character beyond ASCII (a typographic quote or dash pasted with it?), which "
                f"no HTTP header carries; set {variable} to the credential as issued"
            )
        if header and value != value.strip():
            # h11 refuses a header value with a space at an end, as it does a line break.
            raise ConfigError(
                f"environment variable {variable} holds {what} ({key} names it) with a space "
                f"at its start or end, which no HTTP header carries; set {variable} to the "
                "credential alone"
            )
        return value

    def _naming(self, env_name: str) -> tuple[str, str, str]:
        """The variable as messages write it, the ``[section] key`` that names it, and what the
        secret is.

        The variable's name is written only if it looks like one (``shown_env_name``), else
        the name is "(name not shown)": a Loop key or a password pasted in the name's place is
        a valid name too, and the message goes to stderr (cron's mail, the job log).
        """
        variable = env_name if shown_env_name(env_name) else "(name not shown)"
        smtp = self.delivery.smtp
        for key, named, what in (
            ("[shop] token_env", self.shop.token_env, "the Shopify Admin API access token"),
            ("[loop] api_key_env", self.loop.api_key_env, "the Loop API key"),
            ("[delivery.smtp] username_env", smtp.username_env, "the SMTP user name"),
            ("[delivery.smtp] password_env", smtp.password_env, "the SMTP password"),
        ):
            if named == env_name:
                return variable, key, what
        return variable, "a *_env setting", "a secret"


def load_settings(path: Path | None = None) -> Settings:
    """Load settings from a TOML file (default ``config/recon.toml``) and the environment.

    The loading and its error messages live in ``recon.config_load``.

    Raises:
        ConfigError: the file is missing, unreadable or not TOML, or a key is unknown or has a
            bad value; the message names the key and what was expected.
    """
    from recon.config_load import load

    return load(path)
