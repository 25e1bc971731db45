"""Settings: the default loads, bad files fail naming the key, secrets come only from env."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from recon.config import RemediationMode, load_settings
from recon.config_values import shown_env_name
from recon.errors import ConfigError
from recon.sources.redact import MASK, SHOPIFY_TOKEN_PREFIXES, redact_text

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_default_is_a_sandbox_with_sqlite_and_outbox() -> None:
    settings = load_settings(ROOT / "config" / "recon.toml")
    assert settings.sandbox.enabled
    assert settings.store.url.startswith("sqlite:///")
    assert settings.delivery.mode == "outbox"
    assert settings.remediation.mode == "plan"


def test_example_config_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "recon.example.toml")
    assert not settings.sandbox.enabled
    assert settings.delivery.smtp.verify_certificate


def test_example_daily_limits_uncommented_are_valid(tmp_path: Path) -> None:
    """The example's commented daily limits, switched on, load as the amounts they show."""
    text = (ROOT / "config" / "recon.example.toml").read_text(encoding="utf-8")
    text = text.replace("# max_daily_total", "max_daily_total")
    text = text.replace("# max_daily_count", "max_daily_count")
    remediation = load_settings(write(tmp_path, text)).remediation
    assert remediation.max_daily_total == {"USD": Decimal("5000.00"), "EUR": Decimal("4500.00")}
    assert remediation.max_daily_count == 100


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[shop]\napi_version = "2025-10"\n', "shop.api_version"),
        ("[sync]\nlookback_hours = -1\n", "sync.lookback_hours"),
        (
            "[sync]\nlookback_hours = 0\n",
            "sync.lookback_hours: Input should be greater than or equal to 1",
        ),
        ('[engine]\nrma_patterns = ["RMA (\\\\d+)"]\n', "engine.rma_patterns"),
        ('[remediation]\nmode = "yolo"\n', "remediation.mode"),
        ('[delivery]\nsmtp_hots = "x"\n', "delivery.smtp_hots: unknown key"),
        ("[loop]\npage_size = 1000\n", "loop.page_size"),
        # A night that asks none again, or stops before its first failure: the hold on those
        # returns' writes would never lift.
        (
            "[loop]\ndetails_reask_per_night = 0\n",
            "loop.details_reask_per_night: Input should be greater than or equal to 1",
        ),
        (
            "[loop]\ndetails_reask_stop_after = -1\n",
            "loop.details_reask_stop_after: Input should be greater than or equal to 1",
        ),
        ("[sync]\nretry_budget = -1\n", "sync.retry_budget"),
        ("[sync]\nretry_budget_seconds = 0\n", "sync.retry_budget_seconds"),
        ("[sync]\nthrottle_budget_seconds = 0\n", "sync.throttle_budget_seconds"),
        ('[remediation]\nmax_daily_total = { USD = "-1" }\n', "remediation.max_daily_total"),
        ('[remediation]\nmax_daily_total = "5000"\n', "remediation.max_daily_total"),
        ("[remediation]\nmax_daily_count = -1\n", "remediation.max_daily_count"),
        # The example: "above 0 it is at least one minor unit, 0 is exact"; below 0 means nothing.
        (
            '[engine]\namount_tolerance = "-0.01"\n',
            "engine.amount_tolerance: Input should be greater than or equal to 0",
        ),
    ],
)
def test_bad_file_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert expected in str(info.value)


TOKEN = "shpat_" + "0123456789abcdef" * 2  # a fake token


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (f'[shop]\ntoken_env = "{TOKEN}"\n', "shop.token_env"),
        (f'[shop]\ntoken_env = "{TOKEN.replace("shpat_", "shpua_")}"\n', "shop.token_env"),
        (f'[loop]\napi_key_env = "{TOKEN} "\n', "loop.api_key_env"),
        (f'[delivery.smtp]\npassword_env = "pa ss {TOKEN}"\n', "delivery.smtp.password_env"),
        (f'[store]\nurl = ["postgresql://recon:{TOKEN}@db/recon"]\n', "store.url"),
        (f'[[store]]\nurl = "postgresql://recon:{TOKEN}@db/recon"\n', "store"),  # a table list
        ('[shop]\ntoken_env = "RECON_SHOPIFY_TOKEN\\n"\n', "shop.token_env"),
    ],
)
def test_a_secret_in_the_wrong_place_is_refused_and_not_echoed(
    tmp_path: Path, text: str, key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    message = str(info.value)
    assert key in message and "value not shown" in message
    assert TOKEN not in message and "0123456789abcdef" not in message


@pytest.mark.parametrize("prefix", SHOPIFY_TOKEN_PREFIXES)
def test_every_token_the_logs_mask_is_refused_as_a_variable_name(
    tmp_path: Path, prefix: str
) -> None:
    """One list of Shopify's token prefixes: a token the redactor masks is refused at load."""
    token = prefix + "0123456789abcdef" * 2
    assert redact_text(token) == MASK
    with pytest.raises(ConfigError, match=r"shop\.token_env"):
        load_settings(write(tmp_path, f'[shop]\ntoken_env = "{token}"\n'))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("RECON_LOOP_API_KEY", True),
        ("SMTP_PASSWORD_2", True),
        ("b7e3f1a9c2d44e0f8a6b5c3d2e1f0a9b", False),  # a key: lower case hex
        ("AKIAIOSFODNN7EXAMPLE", False),  # upper case, but 20 letters and digits in a row
        ("Winter2026Sunshine", False),  # a password
        ("loop_key", False),  # a valid name, but not written as one
    ],
)
def test_only_a_conventional_variable_name_is_shown(value: str, *, shown: bool) -> None:
    assert shown_env_name(value) is shown


def test_an_ordinary_bad_value_is_still_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"loop.page_size: .*got 1000"):
        load_settings(write(tmp_path, "[loop]\npage_size = 1000\n"))


def test_not_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[shop\n"))


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_STORE__URL", "sqlite:////tmp/other.db")
    settings = load_settings(write(tmp_path, '[store]\nurl = "sqlite:///var/x.db"\n'))
    assert settings.store.url == "sqlite:////tmp/other.db"


def test_relative_paths_resolve_against_the_project(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[store]\nurl = "sqlite:///var/x.db"\n'))
    assert settings.store.url == f"sqlite:///{tmp_path}/var/x.db"
    assert settings.delivery.outbox_dir == tmp_path / "reports" / "outbox"


def test_secret_is_read_from_the_named_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(write(tmp_path, ""))
    monkeypatch.delenv("RECON_SHOPIFY_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="RECON_SHOPIFY_TOKEN is not set"):
        settings.secret(settings.shop.token_env)
    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_x")
    assert settings.secret(settings.shop.token_env) == "shpat_x"


def test_settings_set_in_code_are_validated_like_the_file() -> None:
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.remediation.mode = "apply"  # type: ignore[assignment]
    assert settings.remediation.mode is RemediationMode.APPLY
    with pytest.raises(ValidationError):
        settings.remediation.mode = "yolo"  # type: ignore[assignment]


@pytest.mark.parametrize("content", [None, b"\xff\xfe[shop]\n"], ids=["a directory", "not UTF-8"])
def test_an_unreadable_file_is_a_config_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "recon.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"{path}: cannot read"):
        load_settings(path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RECON_REMEDIATION__MAX_REFUND_AMOUNT", "500"),  # a table must be JSON
        ("RECON_SANDBOX__FAULTS", "{oops"),
        ("RECON_SHOP", "x"),
    ],
)
def test_an_unreadable_environment_value_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(write(tmp_path, ""))


def test_a_misspelt_section_in_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silently ignored, the run would use the file's (SQLite) store instead of the one meant."""
    monkeypatch.setenv("RECON_STROE__URL", "postgresql+psycopg://recon@db/recon")
    with pytest.raises(ConfigError, match="RECON_STROE__URL: unknown section"):
        load_settings(write(tmp_path, ""))


def test_a_bad_key_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECON_STORE__URLL", "sqlite:///x.db")
    monkeypatch.setenv("RECON_SYNC__LOOKBACK_HOURS", "-1")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, ""))
    assert "store.urll: unknown key (environment variable RECON_STORE__URLL)" in str(info.value)
    assert "(environment variable RECON_SYNC__LOOKBACK_HOURS)" in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[store]\nurl = "var/recon.db"\n', "store.url"),
        ('[store]\nurl = "mysql://recon@db/recon"\n', "store.url"),
        ('[store]\nurl = "postgresql+nosuchdriver://recon@db/recon"\n', "store.url"),
        ('[shop]\nbase_url = "recon-sandbox.myshopify.com"\n', "shop.base_url"),
        ('[shop]\ndomain = "https://recon-sandbox.myshopify.com"\n', "shop.domain"),
        ('[loop]\nbase_url = "ftp://api.loopreturns.com/api"\n', "loop.base_url"),
    ],
)
def test_a_bad_url_is_a_config_error(tmp_path: Path, text: str, key: str) -> None:
    """Not at the first connection, as a traceback or after minutes of retries."""
    with pytest.raises(ConfigError, match=key):
        load_settings(write(tmp_path, text))


def test_an_unescaped_at_sign_in_the_store_password_is_refused_unseen(tmp_path: Path) -> None:
    """The driver would read the password's tail as the host and print it in its error."""
    text = '[store]\nurl = "postgresql+psycopg://recon:pa@ss-tail-99@db.internal/recon"\n'
    with pytest.raises(ConfigError, match=r"store\.url") as info:
        load_settings(write(tmp_path, text))
    assert "ss-tail-99" not in str(info.value) and "%40" in str(info.value)


def test_sync_max_retries_bounds_the_attempts_of_each_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[sync] max_retries = 1``: one try and one retry, then the run gives up (it was ignored,
    and every request was tried 8 times whatever the file said)."""
    from datetime import UTC, datetime

    from recon.bootstrap import build_app
    from recon.errors import RetryExhaustedError

    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_test")
    monkeypatch.setenv("RECON_LOOP_API_KEY", "loop-test")
    text = (
        '[store]\nurl = "sqlite:///var/x.db"\n[sync]\nmax_retries = 1\n'
        '[loop]\nbase_url = "http://127.0.0.1:9/api"\n'  # discard port: connection refused
        '[shop]\nbase_url = "http://127.0.0.1:9"\n'
    )
    settings = load_settings(write(tmp_path, text))
    with build_app(settings) as app, pytest.raises(RetryExhaustedError) as info:
        start = datetime(2026, 10, 1, tzinfo=UTC)
        list(app.loop.iter_returns(start, datetime(2026, 10, 2, tzinfo=UTC), "open"))
    assert "gave up after 2 attempts" in str(info.value)


def test_sync_retry_budget_stops_a_run_whose_requests_keep_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[sync] retry_budget = 2``: the third retry of the run is refused whatever
    ``max_retries`` allows one request, and the error names the API and the setting."""
    from datetime import UTC, datetime

    from recon.bootstrap import build_app
    from recon.errors import RetryBudgetExhaustedError

    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_test")
    monkeypatch.setenv("RECON_LOOP_API_KEY", "loop-test")
    text = (
        '[store]\nurl = "sqlite:///var/x.db"\n[sync]\nmax_retries = 6\nretry_budget = 2\n'
        '[loop]\nbase_url = "http://127.0.0.1:9/api"\n'  # discard port: connection refused
        '[shop]\nbase_url = "http://127.0.0.1:9"\n'
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.sync.retry_budget_seconds > 0  # a default that is a limit, not "none"
    assert settings.sync.throttle_budget_seconds > settings.sync.retry_budget_seconds
    with build_app(settings) as app, pytest.raises(RetryBudgetExhaustedError) as info:
        assert app.shopify.retry_budget is not app.loop.retry_budget  # one budget per API
        start = datetime(2026, 10, 1, tzinfo=UTC)
        list(app.loop.iter_returns(start, datetime(2026, 10, 2, tzinfo=UTC), "open"))
    message = str(info.value)
    assert message.startswith("loop: ") and "[sync] retry_budget = 2" in message
    assert "ConnectError" in message  # the last failure


def test_sandbox_ports_in_the_file_are_the_ports_served(tmp_path: Path) -> None:
    """``[sandbox] shopify_port``/``loop_port`` were accepted and ignored (any free port was
    served), and ``clock_scale`` did nothing at all: it is refused as unknown now."""
    import socket

    from recon.bootstrap import build_app

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    text = (
        '[store]\nurl = "sqlite:///var/x.db"\n[sandbox]\nenabled = true\nreturns = 5\n'
        f"shopify_port = {ports[0]}\nloop_port = {ports[1]}\n"
    )
    with build_app(load_settings(write(tmp_path, text))) as app:
        assert app.sandbox is not None
        assert app.sandbox.shopify_base_url.endswith(f":{ports[0]}")
        assert f":{ports[1]}/" in app.sandbox.loop_base_url + "/"
    with pytest.raises(ConfigError, match=r"sandbox\.clock_scale: unknown key"):
        load_settings(write(tmp_path, "[sandbox]\nclock_scale = 2.0\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[remediation]\nnote_template = "Refund for {rma_number}"\n', "remediation.note_template"),
        ('[remediation]\nnote_template = "Refunded by recon"\n', "remediation.note_template"),
        ('[remediation]\nstatus_tag = "recon-{status}"\n', "remediation.status_tag"),
        (
            "[engine]\nrma_patterns = ['ret-(?P<rma>\\d+)']\n",  # cannot read "Loop RMA #123" back
            "remediation.note_template",
        ),
    ],
)
def test_a_template_recon_cannot_write_or_read_back_is_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    """A placeholder typo crashed the run after the sync (KeyError); a note without the RMA, or
    one the RMA patterns do not read back, leaves recon's own refunds linked to no return."""
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert expected in str(info.value)


def test_a_note_template_the_patterns_read_back_is_accepted(tmp_path: Path) -> None:
    text = '[remediation]\nnote_template = "Loop return #{rma} (refunded by recon)"\n'
    assert load_settings(write(tmp_path, text)).remediation.note_template.startswith("Loop")


def test_recon_config_names_the_file_when_no_config_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example's first line: copy it to config/recon.toml, or point RECON_CONFIG at it."""
    path = write(tmp_path, '[shop]\nslug = "acme"\ndomain = "acme.myshopify.com"\n')
    monkeypatch.setenv("RECON_CONFIG", str(path))
    assert load_settings().shop.slug == "acme"


def test_smtp_mode_without_recipients_is_refused_naming_the_key(tmp_path: Path) -> None:
    """Unset, recipients default to the placeholder finance@example.com: in smtp mode the shop's
    figures would be mailed to nobody who reads them, every night, without a word."""
    with pytest.raises(ConfigError, match=r"delivery\.recipients") as info:
        load_settings(write(tmp_path, '[delivery]\nmode = "smtp"\n'))
    assert "finance" in str(info.value)
    with pytest.raises(ConfigError, match=r"delivery\.recipients"):
        load_settings(write(tmp_path, '[delivery]\nmode = "smtp"\n[delivery.recipients]\n'))
    named = '[delivery]\nmode = "smtp"\n[delivery.recipients]\nfinance = ["ap@acme.test"]\n'
    assert load_settings(write(tmp_path, named)).delivery.recipients["finance"] == ["ap@acme.test"]
    assert load_settings(write(tmp_path, "[delivery]\n")).delivery.mode == "outbox"  # as before


@pytest.mark.parametrize("how", ["from inside config/", "through a symlink"])
def test_one_file_names_one_store_however_it_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """`cd config && recon run --config recon.toml` (or a symlink to the file elsewhere) is the
    same file as `--config config/recon.toml`: its relative store, reports and outbox are the
    project's, not a second, empty mirror under config/ (every finding new again, the ledger
    and watermarks left behind)."""
    path = write(tmp_path, '[store]\nurl = "sqlite:///var/x.db"\n')
    expected = load_settings(path)
    if how == "through a symlink":
        named = tmp_path / "etc" / "acme.toml"
        named.parent.mkdir()
        named.symlink_to(path)
    else:
        monkeypatch.chdir(path.parent)
        named = Path("recon.toml")
    settings = load_settings(named)
    assert settings.store.url == expected.store.url == f"sqlite:///{tmp_path}/var/x.db"
    assert settings.reports.dir == expected.reports.dir == tmp_path / "reports"
    assert settings.delivery.outbox_dir == expected.delivery.outbox_dir


SMTP_SHOP = '[delivery]\nmode = "smtp"\n[delivery.recipients]\nfinance = ["ap@acme.test"]\n'


@pytest.mark.parametrize(
    ("smtp", "named"),
    [
        (
            'security = "none"\nusername_env = "RECON_SMTP_USER"\n'
            'password_env = "RECON_SMTP_PASSWORD"\n',
            "delivery.smtp.security",
        ),
        ('username_env = "RECON_SMTP_USER"\n', "delivery.smtp.password_env"),
    ],
    ids=["login without tls", "user without password"],
)
def test_an_smtp_login_recon_would_never_make_is_refused_at_start(
    tmp_path: Path, smtp: str, named: str
) -> None:
    """A login over plain text (recon never sends a password without TLS) or a user with no
    password variable: each night's run synced, reconciled and then kept its mail unsent (exit
    5), for ever. The file is refused when read (exit 2), naming the key to fix."""
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings(write(tmp_path, f"{SMTP_SHOP}[delivery.smtp]\n{smtp}"))
    outbox = f'[delivery]\nmode = "outbox"\n[delivery.smtp]\n{smtp}'  # never logs in: as before
    assert load_settings(write(tmp_path, outbox)).delivery.mode == "outbox"
    plain = f'{SMTP_SHOP}[delivery.smtp]\nsecurity = "none"\n'  # a relay needing no login
    assert load_settings(write(tmp_path, plain)).delivery.smtp.security == "none"


def test_a_currency_limit_set_from_the_environment_is_that_currencys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`RECON_REMEDIATION__MAX_REFUND_AMOUNT__EUR=10` (the RECON_<SECTION>__<KEY> form, one level
    down) was refused as currency 'eur': environment names are read in lower case. It sets the
    EUR limit, over the file's, and leaves the file's other currencies."""
    monkeypatch.setenv("RECON_REMEDIATION__MAX_REFUND_AMOUNT__EUR", "10.00")
    monkeypatch.setenv("RECON_REMEDIATION__MAX_DAILY_TOTAL__JPY", "90000")
    text = '[remediation]\nmax_refund_amount = { USD = "500.00", EUR = "450.00" }\n'
    remediation = load_settings(write(tmp_path, text)).remediation
    assert remediation.max_refund_amount == {"USD": Decimal("500.00"), "EUR": Decimal("10.00")}
    assert remediation.max_daily_total == {"JPY": Decimal(90000)}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[delivery.smtp]\ntimeout_seconds = 0\n", "delivery.smtp.timeout_seconds"),
        ("[delivery.smtp]\ntimeout_seconds = -5\n", "delivery.smtp.timeout_seconds"),
        ("[delivery.smtp]\nport = 0\n", "delivery.smtp.port"),
        ("[delivery.smtp]\nport = 5870000\n", "delivery.smtp.port"),
        ("[sandbox]\nshopify_port = 65536\n", "sandbox.shopify_port"),
        ("[sandbox]\nloop_port = -1\n", "sandbox.loop_port"),
    ],
)
def test_a_port_or_timeout_no_socket_takes_is_refused_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    """`timeout_seconds = 0` let every night's run sync, reconcile and remediate, then crash
    with a traceback at the mail (Python's sockets refuse it), the mail neither sent nor kept;
    a port out of range failed each night the same way, or at the emulator's start."""
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_settings(write(tmp_path, f"{SMTP_SHOP}{text}"))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[delivery.recipients]\nfinance = ["ap@acme.test\\nBcc: x@evil.test"]\n', "finance"),
        ('[delivery.recipients]\nfinance = ["ap@acme.test"]\ncx = [""]\n', "cx"),
        ('[delivery.recipients]\nwarehouse = ["ops at acme"]\n', "warehouse"),
        ('[delivery.smtp]\nsender = "recon@acme.test\\r\\nBcc: x@evil.test"\n', "sender"),
    ],
)
def test_an_address_no_mail_can_carry_is_refused_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    """A line break in an address (a header of its own) crashed every night's run at the mail
    with a traceback, the mail neither sent nor kept; an empty or @-less one was refused by
    the relay every night. Refused when the file is read, naming the key."""
    with pytest.raises(ConfigError, match=key) as info:
        load_settings(write(tmp_path, f"[delivery]\nmode = 'outbox'\n{text}"))
    assert "e-mail address" in str(info.value)
    named = '[delivery.recipients]\nfinance = ["Accounts Payable <ap@acme.test>"]\n'
    assert load_settings(write(tmp_path, named)).delivery.recipients["finance"]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite://",
        "sqlite:///file:mirror?mode=memory&cache=shared&uri=true",
        "sqlite:///file::memory:?cache=shared&uri=true",
        "sqlite:///file::memory:",
        "sqlite:///%3Amemory%3A",  # escaped: read as :memory: once unescaped
    ],
)
def test_an_in_memory_sqlite_store_is_refused(tmp_path: Path, url: str) -> None:
    """`sqlite://` was accepted, but each thread's connection opened a database of its own,
    empty (the lease keeper's renewals, the sync's readers), and whatever the run stored was
    gone at exit: the watermarks, the findings' history and the intent ledger that keeps a
    refund from being sent twice. Refused when the settings load, naming the key, what to
    write instead, and not the URL (it may hold a password)."""
    with pytest.raises(ConfigError, match=r"store\.url: .*in memory.*sqlite:///") as info:
        load_settings(write(tmp_path, f'[store]\nurl = "{url}"\n'))
    assert "mirror?mode" not in str(info.value)
