"""The command line as a user meets it: exit codes and messages that name what is wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def recon(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``run_recon.py args`` without the caller's ``RECON_`` variables, plus ``env``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")} | (env or {})
    return subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [sys.executable, str(ROOT / "run_recon.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_a_bad_setting_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "config" / "recon.toml"
    bad.parent.mkdir()
    bad.write_text('[remediation]\nmax_refund_amount = "500.00"\n', encoding="utf-8")
    result = recon("run", "--config", str(bad))
    assert result.returncode == 2
    assert "remediation.max_refund_amount" in result.stderr


def test_missing_secret_exits_2_naming_the_variable(config: Path) -> None:
    result = recon("run", "--config", str(config))
    assert result.returncode == 2
    assert "RECON_SHOPIFY_TOKEN" in result.stderr


def test_report_needs_a_period(config: Path) -> None:
    result = recon("report", "--month", "October", "--config", str(config))
    assert result.returncode == 2
    assert "--month: expected YYYY-MM" in result.stderr


def test_month_end_workbook_from_an_empty_mirror(config: Path) -> None:
    result = recon("report", "--month", "2026-10", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert (config.parent.parent / "reports" / "sandbox" / "month-end" / "2026-10.xlsx").exists()


def test_approving_an_unknown_action_is_refused(config: Path) -> None:
    result = recon("actions", "approve", "999", "--config", str(config))
    assert result.returncode == 2  # bad input, as the README's exit codes say; 1 is a failed run
    assert "999" in result.stderr


def test_generate_writes_a_world_and_its_truth(tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    result = recon("generate", "--out", str(out), "--seed", "3", "--returns", "60")
    assert result.returncode == 0, result.stderr
    assert out.exists() and (tmp_path / "w.truth.json").exists()


def test_an_invalid_world_file_names_the_field(tmp_path: Path, config: Path) -> None:
    world = tmp_path / "bad.json"
    world.write_text('{"now": "2026-11-01T00:00:00Z", "shop": {"locations": []}}', "utf-8")
    text = config.read_text() + f'\n[sandbox]\nenabled = true\nworld = "{world}"\n'
    config.write_text(text, encoding="utf-8")
    result = recon("run", "--config", str(config))
    assert result.returncode == 2
    assert "shop.locations" in result.stderr


def test_files_recon_writes_are_private(config: Path) -> None:
    result = recon("report", "--month", "2026-10", "--config", str(config))
    assert result.returncode == 0, result.stderr
    workbook = config.parent.parent / "reports" / "sandbox" / "month-end" / "2026-10.xlsx"
    assert workbook.stat().st_mode & 0o077 == 0
    assert (config.parent.parent / "var" / "recon.db").stat().st_mode & 0o777 == 0o600


def test_untrusted_text_is_printed_literally_not_as_markup(config: Path) -> None:
    """A quarantine reason quoting a payload like ``[/x]`` must not break the console."""
    from recon.models import Quarantined
    from recon.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{config.parent.parent / 'var' / 'recon.db'}")
    bad = Quarantined(
        source="loop",
        kind="return",
        record_id="123",
        field="currency",
        reason="expected an ISO 4217 currency code, got '[/x]'",
    )
    store.add_quarantined([bad], "run-1")
    store.close()
    result = recon("quarantine", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "[/x]" in result.stdout


def test_a_second_shop_on_the_same_store_exits_2_naming_the_owner(
    tmp_path: Path, config: Path
) -> None:
    """Two shops pointed at one SQLite file would read each other's watermarks and resolve each
    other's findings; the second is refused, whichever command opens the store."""
    assert recon("quarantine", "--config", str(config)).returncode == 0  # "sandbox" claims it
    beta = config.with_name("beta.toml")
    beta.write_text(config.read_text() + '\n[shop]\nslug = "beta"\n', encoding="utf-8")
    for command in (("quarantine",), ("actions", "list"), ("report", "--month", "2026-10")):
        result = recon(*command, "--config", str(beta))
        assert result.returncode == 2, (command, result.stderr)
        assert "belongs to shop 'sandbox', not 'beta'" in result.stderr


def test_a_copied_config_with_the_same_slug_and_another_domain_exits_2(config: Path) -> None:
    """The agency's copy-paste mistake: a new shop's domain under the old shop's slug."""
    assert recon("quarantine", "--config", str(config)).returncode == 0  # "sandbox" claims it
    copy = config.with_name("copy.toml")
    copy.write_text(
        config.read_text() + '\n[shop]\ndomain = "other-shop.myshopify.com"\n', encoding="utf-8"
    )
    result = recon("quarantine", "--config", str(copy))
    assert result.returncode == 2, result.stderr
    assert "other-shop.myshopify.com" in result.stderr
    assert "recon-sandbox.myshopify.com" in result.stderr


def test_a_schema_for_sqlite_exits_2(config: Path) -> None:
    config.write_text(config.read_text() + 'schema = "acme"\n', encoding="utf-8")
    result = recon("quarantine", "--config", str(config))
    assert result.returncode == 2
    assert "[store] schema is for PostgreSQL" in result.stderr


def test_every_command_opens_the_shops_own_postgresql_schema(tmp_path: Path) -> None:
    """An agency: acme and beta on one server, a schema each. A record of acme's is listed by
    acme's commands and never by beta's (report, quarantine and actions used to open the
    server's default schema)."""
    import uuid

    from recon.bootstrap import open_store
    from recon.config import load_settings
    from recon.models import Quarantined

    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    configs = {}
    for shop in ("acme", "beta"):
        path = tmp_path / f"{shop}.toml"
        path.write_text(
            f'[shop]\nslug = "{shop}"\ndomain = "{shop}-{suffix}.myshopify.com"\n'
            f'[store]\nurl = "{base}"\nschema = "{shop}_{suffix}"\n',
            encoding="utf-8",
        )
        configs[shop] = path
    store = open_store(load_settings(configs["acme"]))
    bad = Quarantined(
        source="loop", kind="return", record_id="ACME-1", field="id", reason="bad", raw={}
    )
    store.add_quarantined([bad], run_id=None)
    store.close()
    try:
        acme = recon("quarantine", "--config", str(configs["acme"]))
        beta = recon("quarantine", "--config", str(configs["beta"]))
        assert acme.returncode == beta.returncode == 0, acme.stderr + beta.stderr
        assert "ACME-1" in acme.stdout and "ACME-1" not in beta.stdout
    finally:
        from sqlalchemy import create_engine, text

        admin = create_engine(base)
        with admin.begin() as conn:
            for shop in ("acme", "beta"):
                conn.execute(text(f"DROP SCHEMA IF EXISTS {shop}_{suffix} CASCADE"))
        admin.dispose()


def save_unmatched_refund(config: Path, key: str = "UNMATCHED_REFUND|refund=500") -> str:
    """Store one new UNMATCHED_REFUND finding in the mirror ``config`` names; its key."""
    from recon.bootstrap import open_store
    from recon.config import load_settings
    from recon.models import Category, Finding, Owner, Severity

    store = open_store(load_settings(config))
    store.save_findings(
        [Finding(key=key, category=Category.UNMATCHED_REFUND, severity=Severity.MEDIUM,
                 owner=Owner.CX)]
    )  # fmt: skip
    store.close()
    return key


def test_findings_ack_records_who_and_why_and_refuses_unknown_keys(config: Path) -> None:
    from recon.bootstrap import open_store
    from recon.config import load_settings

    key = save_unmatched_refund(config)
    acked = recon("findings", "ack", key, "--note", "refunded by hand", "--config", str(config))
    assert acked.returncode == 0, acked.stderr
    listed = recon("findings", "list", "-c", str(config))  # the shorthand every command takes
    assert listed.returncode == 0
    (line,) = [x for x in listed.stdout.splitlines() if key in x]
    assert "acknowledged" in line and "refunded by hand" in line
    store = open_store(load_settings(config))
    (finding,) = store.load_findings()
    store.close()
    assert (finding.status, finding.acknowledged_note) == ("acknowledged", "refunded by hand")
    unknown = recon("findings", "ack", "NOPE|x", "--note", "n", "--config", str(config))
    assert unknown.returncode == 2 and "no finding with key 'NOPE|x'" in unknown.stderr


def test_findings_ack_waits_for_no_run_and_bad_statuses_exit_2(config: Path) -> None:
    """A nightly run saves the findings it loaded before an ack and would undo it: while a
    run holds the shop's lock, `findings ack` refuses (exit 4). A bad --status is exit 2."""
    from datetime import timedelta

    from recon.bootstrap import open_store
    from recon.clock import SystemClock
    from recon.config import load_settings
    from recon.lock import RunLock
    from recon.models import Category, Finding, Owner, Severity
    from recon.service import sessions

    key = "MISSING_RESTOCK|rma=1,line=2"
    store = open_store(load_settings(config))
    store.save_findings(
        [Finding(key=key, category=Category.MISSING_RESTOCK, severity=Severity.MEDIUM,
                 owner=Owner.WAREHOUSE)]
    )  # fmt: skip
    lock = RunLock(sessions(store), SystemClock())
    lease = lock.acquire("sandbox", "other-host:1", timedelta(hours=1))
    try:
        busy = recon("findings", "ack", key, "--note", "n", "--config", str(config))
        assert busy.returncode == 4 and "holds the run lock" in busy.stderr
    finally:
        lock.release(lease)
        store.close()
    assert recon("findings", "ack", key, "--note", "n", "--config", str(config)).returncode == 0
    bad = recon("findings", "list", "--status", "Acknowledged", "--config", str(config))
    assert bad.returncode == 2 and "--status: expected one of" in bad.stderr


def test_approving_while_a_run_writes_to_a_sqlite_store_exits_4_saying_so(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite has one writer: while a run commits a long sync, `actions approve` waited out
    the busy timeout (30 s), then printed a SQLAlchemy traceback and exited 1. It exits 4
    (another run holds the store), naming the shop and saying to approve again once it ends;
    nothing is approved, and the same command then goes through. In this process, with the
    busy timeout cut to 0.2 s, so the test does not wait 30."""
    from sqlalchemy import create_engine

    from recon import cli
    from recon.store import connect

    def main(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["run_recon.py", *args])
        for name in [n for n in os.environ if n.startswith("RECON_")]:
            monkeypatch.delenv(name)
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            cli.main()
        return int(ended.value.code or 0), capsys.readouterr().err

    monkeypatch.setattr(connect, "SQLITE_BUSY_TIMEOUT_MS", 200)
    assert recon("actions", "list", "--config", str(config)).returncode == 0  # the store
    writer = create_engine(f"sqlite:///{config.parent.parent / 'var' / 'recon.db'}")
    with writer.connect() as connection:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the run's sync, committing
        code, stderr = main("actions", "approve", "1", "--config", str(config))
        connection.exec_driver_sql("ROLLBACK")
    writer.dispose()
    assert code == 4, stderr
    said = " ".join(stderr.split())
    assert "Traceback" not in said and "OperationalError" not in said
    assert "another run is writing to shop sandbox's store" in said and "again" in said
    code, stderr = main("actions", "approve", "1", "--config", str(config))
    assert code == 2 and "Traceback" not in stderr  # no intent 1: the input


def test_a_record_quarantined_every_night_does_not_hide_a_new_one(config: Path) -> None:
    """An open return re-read (and quarantined) nightly once filled the listing's 200 rows,
    oldest first: a record quarantined tonight was not shown at all."""
    from recon.models import Quarantined
    from recon.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{config.parent.parent / 'var' / 'recon.db'}")
    nightly = Quarantined(
        source="loop", kind="return", record_id="111", field="currency", reason="unknown 'XXX'"
    )
    for night in range(210):
        store.add_quarantined([nightly], f"run-{night}")
    tonight = Quarantined(
        source="shopify", kind="refund", record_id="222", field="processedAt", reason="bad"
    )
    store.add_quarantined([tonight], "run-210")
    store.close()
    result = recon("quarantine", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "processedAt" in result.stdout and "222" in result.stdout
    assert result.stdout.count("currency") == 1 and "210" in result.stdout  # once, 210 times


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("backfill", "--from", "2026/07/01", "--to", "2026-11-01"), "--from"),
        (("backfill", "--from", "2026-07-01"), "--to"),
        (("report", "--from", "October", "--to", "2026-11-01"), "--from"),
        (("run", "--mode", "yolo"), "--mode"),
        (("run", "--bogus"), "--bogus"),
    ],
)
def test_a_mistyped_command_line_exits_2_naming_the_option(
    config: Path, args: tuple[str, ...], named: str
) -> None:
    """A date in the wrong format, a missing or unknown option: a usage message, not a
    traceback and exit 1 (a cron wrapper reads 1 as "the run failed")."""
    result = recon(*args, "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_no_command_prints_the_help(config: Path) -> None:
    result = recon()
    assert "Traceback" not in result.stderr
    assert "backfill" in result.stdout + result.stderr


def test_a_report_period_not_begun_or_given_twice_exits_2(config: Path) -> None:
    """A year typed wrong (2062-10) wrote an empty workbook and exited 0; --month with
    --from/--to silently dropped the range."""
    future = recon("report", "--month", "2062-10", "--config", str(config))
    assert future.returncode == 2 and "has not begun" in future.stderr
    assert not (
        config.parent.parent / "reports" / "sandbox" / "month-end" / "2062-10.xlsx"
    ).exists()
    both = recon(
        "report", "--month", "2026-10", "--from", "2026-10-01", "--to", "2026-10-05",
        "--config", str(config),
    )  # fmt: skip
    assert both.returncode == 2 and "either --month or --from and --to" in both.stderr


def test_actions_list_piped_keeps_whole_ids_and_states(config: Path) -> None:
    """``actions list | grep`` (or a file for the approver) printed "5400000…" and "propos…" at
    80 columns: the order and state could not be read, the id not trusted."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from recon.bootstrap import open_store
    from recon.config import load_settings
    from recon.remediation.ledger import ActionRow

    store = open_store(load_settings(config))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with Session(store.engine) as session, session.begin():
        session.add(
            ActionRow(
                key="k-1", shop="sandbox", rma="12000001", kind="refund", subject="s", n=1,
                category="MISSING_REFUND", finding_key="MISSING_REFUND|rma=12000001",
                order_id="5400000000085", amount="105.99", currency="USD", state="needs_review",
                reason="over the USD limit of 100.00", details={"lines": []},
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
    store.close()
    listed = recon("actions", "list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    (line,) = [x for x in listed.stdout.splitlines() if "12000001" in x]
    for whole in ("5400000000085", "MISSING_REFUND", "needs_review", "refund 105.99 USD"):
        assert whole in line, line


def test_run_help_names_the_setting_its_mode_overrides() -> None:
    """Rich markup ate "[remediation]": the help read "override  mode for this run"."""
    result = recon("run", "--help")
    assert result.returncode == 0
    assert "[remediation] mode" in result.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--throttled-status", "500"), "--throttled-status"),
        (("--error-rate", "2"), "--error-rate"),
    ],
)
def test_a_bad_sandbox_fault_exits_2_naming_the_option(args: tuple[str, ...], named: str) -> None:
    """These printed a pydantic traceback and exited 1 (before anything was served)."""
    result = recon("sandbox", "--shopify-port", "0", "--loop-port", "0", *args)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr


def test_a_bad_actions_state_exits_2_naming_the_choices(config: Path) -> None:
    """``actions list --state Proposed`` printed a ValueError traceback and exited 1."""
    result = recon("actions", "list", "--state", "Proposed", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "--state: expected one of" in result.stderr and "needs_review" in result.stderr


def test_a_run_that_spends_its_retry_budget_exits_1_naming_the_api(tmp_path: Path) -> None:
    """Every request fails: the run stops after the 3 retries the budget allows (not 6 per
    request), exits 1 (a failed run, for cron) and says which API, what was spent and why."""
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir()
    path.write_text(
        '[store]\nurl = "sqlite:///var/recon.db"\n[sync]\nretry_budget = 3\n'
        "[sandbox]\nenabled = true\nreturns = 5\n[sandbox.faults]\nerror_rate = 1.0\n",
        encoding="utf-8",
    )
    result = recon("run", "--config", str(path))
    assert result.returncode == 1, result.stderr
    message = " ".join(result.stderr.split())  # the console wraps long lines
    spent = "retry budget is spent: 3 retries after failures ([sync] retry_budget = 3)"
    # The budget is the run's: the side that spends it fails, and the other either stops before
    # its next request or, when its own retry came first, fails on the spent budget too; then
    # the error names both, Loop's first.
    named = rf"error: (both APIs failed: loop: this run's {re.escape(spent)}.*; )?"
    assert re.search(named + rf"(loop|shopify): this run's {re.escape(spent)}", message), message
    assert "; last failure: " in message and "Traceback" not in result.stderr


def test_quarantine_lists_what_is_still_broken_and_resolved_ones_on_request(
    config: Path,
) -> None:
    """Return 111 was fixed in Loop and read cleanly since: it leaves the default listing (it
    used to stay forever) and is shown with --all, marked resolved, beside refund 222."""
    from recon.models import Quarantined
    from recon.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{config.parent.parent / 'var' / 'recon.db'}")
    fixed = Quarantined(
        source="loop", kind="return", record_id="111", field="currency", reason="unknown 'XXX'"
    )
    broken = Quarantined(
        source="shopify", kind="refund", record_id="222", field="processedAt", reason="bad"
    )
    store.add_quarantined([fixed, broken], "run-1")
    store.resolve_quarantined({("loop", "return"): ["111"]}, [])
    store.close()
    default = recon("quarantine", "--config", str(config))
    assert default.returncode == 0, default.stderr
    assert "222" in default.stdout and "111" not in default.stdout
    everything = recon("quarantine", "--all", "--config", str(config))
    assert everything.returncode == 0, everything.stderr
    (line,) = [x for x in everything.stdout.splitlines() if "111" in x]
    assert "resolved" in line
    (line,) = [x for x in everything.stdout.splitlines() if "222" in x]
    assert "open" in line


def test_every_log_line_names_the_shop(tmp_path: Path) -> None:
    """An agency sends its shops' cron or scheduler output to one log: each line must say
    which shop it is about (a credentials failure of one shop read like every shop's)."""
    path = tmp_path / "config" / "acme.toml"
    path.parent.mkdir()
    path.write_text(
        '[shop]\nslug = "acme"\n[store]\nurl = "sqlite:///var/acme.db"\n'
        "[sandbox]\nenabled = true\nreturns = 5\n[sandbox.faults]\nerror_rate = 1.0\n",
        encoding="utf-8",
    )
    result = recon("--verbose", "run", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line[:2] == "20"]  # timestamped
    assert any("HTTP Request" in line for line in lines)  # httpx's own lines, at INFO
    assert [line for line in lines if " shop=acme " not in line] == []
