"""Common misconfigurations as an integration engineer meets them on a first install: exit 2,
one message naming the key or variable and what to do, never a traceback."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from test_cli import recon


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text('[store]\nurl = "sqlite:///var/recon.db"\n' + text, encoding="utf-8")
    return path


def _sandbox(tmp_path: Path, text: str = "") -> Path:
    return _config(tmp_path, "[sandbox]\nenabled = true\nreturns = 20\n" + text)


def _refused(result: object) -> str:
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    return " ".join(stderr.split())


@pytest.mark.parametrize(
    ("env", "variable", "key"),
    [
        ({}, "RECON_SHOPIFY_TOKEN", "shop.token_env"),
        ({"RECON_SHOPIFY_TOKEN": "shpat_x"}, "RECON_LOOP_API_KEY", "loop.api_key_env"),
    ],
)
def test_a_missing_credential_names_the_variable_the_key_and_what_to_do(
    tmp_path: Path, env: dict[str, str], variable: str, key: str
) -> None:
    message = _refused(recon("run", "--config", str(_config(tmp_path, "")), env=env))
    assert f"environment variable {variable} is not set" in message
    assert f"[{key.split('.')[0]}] {key.split('.')[1]} names it" in message
    assert f"export {variable}=" in message


def test_a_misspelt_key_suggests_the_key_it_resembles(tmp_path: Path) -> None:
    message = _refused(
        recon("run", "--config", str(_config(tmp_path, "[sync]\nlookback_hour = 1\n")))
    )
    assert "sync.lookback_hour: unknown key (did you mean lookback_hours?)" in message


def test_a_bad_time_zone_reads_as_a_sentence(tmp_path: Path) -> None:
    config = _config(tmp_path, '[shop]\ntimezone = "America/New York"\n')
    message = _refused(recon("run", "--config", str(config)))
    assert "shop.timezone: expected an IANA time zone name, e.g. America/New_York" in message
    assert "Value error" not in message


def _a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    return blocker


def test_an_unwritable_reports_dir_stops_the_run_before_it_syncs(tmp_path: Path) -> None:
    config = _sandbox(tmp_path, f'[reports]\ndir = "{_a_file(tmp_path)}/reports"\n')
    result = recon("run", "--config", str(config))
    message = _refused(result)
    assert "reports.dir" in message and "cannot be written" in message
    assert "synced:" not in result.stdout  # found before the sync and any write to Shopify


def test_an_unwritable_outbox_stops_the_run(tmp_path: Path) -> None:
    config = _sandbox(tmp_path, f'[delivery]\noutbox_dir = "{_a_file(tmp_path)}/outbox"\n')
    message = _refused(recon("run", "--config", str(config)))
    assert "delivery.outbox_dir" in message and "cannot be written" in message


def test_an_unwritable_reports_dir_stops_the_month_end(tmp_path: Path) -> None:
    config = _config(tmp_path, f'[reports]\ndir = "{_a_file(tmp_path)}/reports"\n')
    message = _refused(recon("report", "--month", "2026-10", "--config", str(config)))
    assert "reports.dir" in message and "cannot be written" in message


def test_schedule_refuses_at_start_what_would_fail_every_night(tmp_path: Path) -> None:
    """An engineer starting the scheduler learns now, not at 02:00 from a log line, that the
    outbox cannot be written or a credential is missing."""
    config = _sandbox(tmp_path, f'[delivery]\noutbox_dir = "{_a_file(tmp_path)}/outbox"\n')
    message = _refused(recon("schedule", "--config", str(config)))
    assert "delivery.outbox_dir" in message
    live = tmp_path / "live"
    live.mkdir()
    message = _refused(recon("schedule", "--config", str(_config(live, ""))))
    assert "environment variable RECON_SHOPIFY_TOKEN is not set" in message


def test_a_shop_folder_that_cannot_be_written_stops_the_run_before_it_syncs(
    tmp_path: Path,
) -> None:
    """The reports go in ``<[reports] dir>/<shop>/``: a shop folder that is a link to a share
    not mounted (or otherwise not a writable directory) is found before the run syncs, not
    as a traceback after remediation."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "sandbox").symlink_to(tmp_path / "share-not-mounted" / "sandbox")
    config = _sandbox(tmp_path, f'[reports]\ndir = "{reports}"\n')
    result = recon("run", "--config", str(config))
    message = _refused(result)
    assert "reports.dir" in message and f"{reports / 'sandbox'} cannot be written" in message
    assert "synced:" not in result.stdout


def test_an_error_is_one_line_whatever_its_length_so_a_log_keeps_its_path_whole(
    tmp_path: Path,
) -> None:
    """cron mails, journald and log files are no terminal: rich wrapped the error at 80
    columns and broke a long path in the middle ("report s/sandbox"), which no one can copy or
    grep. The message is one line, the path in it whole."""
    deep = tmp_path / ("a-share-mounted-under-a-long-folder-name-" * 3) / "reports"
    deep.mkdir(parents=True)
    (deep / "sandbox").symlink_to(tmp_path / "share-not-mounted" / "sandbox")
    result = recon("run", "--config", str(_sandbox(tmp_path, f'[reports]\ndir = "{deep}"\n')))

    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert f"{deep / 'sandbox'} cannot be written" in lines[0]


SMTP = '[delivery]\nmode = "smtp"\n[delivery.recipients]\nfinance = ["ap@acme.test"]\n'


@pytest.mark.parametrize("content", [None, "not a certificate\n"], ids=["missing", "not a CA"])
def test_a_ca_file_that_cannot_be_loaded_stops_the_run_before_it_syncs(
    tmp_path: Path, content: str | None
) -> None:
    """``[delivery.smtp] ca_file`` was first opened when the mail went out: each night's run
    synced and reconciled, then kept its report unsent (exit 5), for ever. It is loaded when
    the run starts (and when ``schedule`` starts), naming the key."""
    if content is not None:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "ca.pem").write_text(content, encoding="utf-8")
    config = _sandbox(tmp_path, f'{SMTP}[delivery.smtp]\nca_file = "config/ca.pem"\n')
    result = recon("run", "--config", str(config))
    message = _refused(result)
    assert f"delivery.smtp.ca_file: {tmp_path / 'config' / 'ca.pem'} cannot be" in message
    assert "synced:" not in result.stdout
    assert "delivery.smtp.ca_file" in _refused(recon("schedule", "--config", str(config)))


def test_a_relative_ca_file_is_the_projects_wherever_recon_runs(tmp_path: Path) -> None:
    """Like the store, reports and outbox: `ca_file = "config/ca.pem"` is the file beside the
    settings, not one under the directory cron happens to start recon in."""
    from recon.config import load_settings

    config = _config(tmp_path, '[delivery.smtp]\nca_file = "config/ca.pem"\n')
    settings = load_settings(config)
    assert settings.delivery.smtp.ca_file == tmp_path / "config" / "ca.pem"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("generate", "--returns", "-3"), "--returns"),
        (("sandbox", "--returns", "-3"), "--returns"),
        (("generate", "--out", "{tmp}"), "--out"),  # a directory, not a file
        (("generate", "--out", "{tmp}/a-file/world.json"), "--out"),  # under a file
    ],
)
def test_a_bad_sandbox_command_line_exits_2_naming_the_option(
    tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    """A negative count or an --out that cannot be written printed a traceback and exited 1."""
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    given = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    if given[0] == "generate" and "--out" not in given:
        given += ["--out", str(tmp_path / "world.json")]
    message = _refused(recon(*given))
    assert named in message


def _owner(database: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(database)) as db:
        return list(db.execute("select shop, claimed_at from store_owner"))


@pytest.mark.parametrize("how", ["config/recon.toml is the shop's", "RECON_STORE__URL"])
def test_demo_never_empties_a_real_shops_store(tmp_path: Path, how: str) -> None:
    """The example says to copy it to config/recon.toml: `demo` run there deleted the shop's
    SQLite mirror (its ledger, findings history and acknowledgements) and refilled it with the
    sandbox's world under the shop's name, writing sandbox reports in the shop's folder. The
    same with the shop's store named from the environment. It exits 2 and touches nothing."""
    shop = tmp_path / "shop"
    shop.mkdir()
    real = _config(shop, '[shop]\nslug = "acme"\ndomain = "acme.myshopify.com"\n')
    assert recon("findings", "list", "--config", str(real)).returncode == 0  # claims the store
    database = shop / "var" / "recon.db"
    before = _owner(database)
    env: dict[str, str] = {}
    if how == "RECON_STORE__URL":
        _config(tmp_path, "[sandbox]\nenabled = true\nreturns = 20\n")  # the embedded default
        env = {"RECON_STORE__URL": f"sqlite:///{database}"}
    result = recon("demo", cwd=shop if how.startswith("config") else tmp_path, env=env)
    message = _refused(result)
    assert "acme" in message
    assert _owner(database) == before
    assert not (shop / "reports" / "acme").exists()


def test_an_in_memory_store_from_the_environment_exits_2_naming_the_setting(
    tmp_path: Path,
) -> None:
    result = recon(
        "run", "--config", str(_sandbox(tmp_path)), env={"RECON_STORE__URL": "sqlite://"}
    )
    message = _refused(result)
    assert "store.url" in message and "in memory" in message
    assert "(environment variable RECON_STORE__URL)" in message
