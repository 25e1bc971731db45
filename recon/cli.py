"""Command line: ``run_recon.py`` / ``recon``. Catches ReconError in exactly one place.

Each command checks its arguments and reads its settings before it imports what its work needs
(pandas, SQLAlchemy, httpx, the reporting): cron learns of a bad config at once, not after
~1.5 s of imports. The command modules import nothing heavy at their top, nor pydantic.
"""

from __future__ import annotations

import importlib
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from recon.cli_actions import actions_app
from recon.cli_findings import findings_app
from recon.cli_options import ConfigOption
from recon.cli_outbox import outbox_app
from recon.cli_quarantine import quarantine_app
from recon.cli_report import report
from recon.cli_runs import runs
from recon.cli_sandbox import generate, sandbox
from recon.clock import as_argument
from recon.config_modes import RemediationMode
from recon.errors import ConfigError, ReconError, RunInterruptedError
from recon.interrupt import Interrupt, on_signals
from recon.logs import configure_logging, name_shop

if TYPE_CHECKING:
    from recon.config import Settings
    from recon.service import RunOutcome

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="recon: nightly returns reconciliation between Loop Returns and Shopify.",
)
err = Console(stderr=True)

app.command()(sandbox)
app.command()(generate)


def _settings(config: Path | None) -> Settings:
    from recon.config import load_settings

    settings = load_settings(config)
    name_shop(settings.shop.slug)
    return settings


@app.callback()
def _global(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress (INFO)")] = False,
) -> None:
    """Nightly returns reconciliation between Loop Returns and Shopify."""
    configure_logging(verbose)


@app.command()
def run(
    config: ConfigOption = None,
    mode: Annotated[
        RemediationMode | None,
        # "\\[" is a literal bracket: typer renders help text as rich markup.
        typer.Option(help="override \\[remediation] mode for this run: plan, approval or apply"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The nightly job: sync, reconcile, remediate per policy, report, deliver."""
    if verbose:
        configure_logging(verbose)
    settings = _settings(config)
    if mode is not None:
        settings.remediation.mode = mode
    # Loaded once the settings are: a bad config is refused at once, not after ~1.5 s of
    # pandas, SQLAlchemy and httpx (so in every command).
    from recon.bootstrap import build_app
    from recon.service import run_nightly
    from recon.summary import print_outcome

    # SIGTERM (cron, systemd) and Ctrl-C stop the run at its next safe point; a second exits.
    with on_signals(Interrupt()) as interrupt, build_app(settings) as application:
        outcome = run_nightly(application, interrupt=interrupt)
        print_outcome(Console(), outcome, application.truth)
    _check_delivered(settings, outcome)


@app.command()
def demo(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the nightly job on the embedded default (sandbox + SQLite + outbox), from scratch."""
    from recon.sources.redact import redact_database_url

    if verbose:
        configure_logging(verbose)
    settings = _settings(None)
    if not settings.sandbox.enabled:  # a real shop's settings: its store is no demo's to empty
        raise ConfigError(
            "demo: the settings read (RECON_CONFIG, else config/recon.toml) are for shop "
            f"{settings.shop.slug!r}, not a sandbox ([sandbox] enabled = false); demo starts "
            "from an empty mirror and would delete that shop's store: use `run`, or run demo "
            "where config/recon.toml is the embedded default"
        )
    _fresh_sqlite(settings.store.url, settings.shop.slug)
    from recon.bootstrap import build_app
    from recon.service import run_nightly
    from recon.summary import print_outcome

    console = Console()
    console.print(
        f"[bold]recon demo[/]: sandbox world seed {settings.sandbox.seed}, "
        f"{settings.sandbox.returns} Loop returns; store "
        + escape(redact_database_url(settings.store.url))
    )
    with on_signals(Interrupt()) as interrupt, build_app(settings) as application:
        outcome = run_nightly(application, interrupt=interrupt)
        print_outcome(console, outcome, application.truth)
    _check_delivered(settings, outcome)


def schedule_mode(config: Path | None, last: RemediationMode) -> RemediationMode:
    """The ``[remediation] mode`` the schedule's next run would read: the file as it stands
    now, else ``last`` (the mode last read; a file that no longer loads fails that run, with
    its error). The schedule's catch-up and retry checks read it before the run does: with the
    mode of the run before, an edit from plan to apply let a ``run --mode plan`` preview stand
    for the first apply night."""
    from recon.config import load_settings

    try:
        return load_settings(config).remediation.mode
    except ConfigError:
        return last


def _check_delivered(settings: Settings, outcome: RunOutcome) -> None:
    """Exit 5 (``ReportNotDeliveredError``) when, in smtp mode, the report waits unsent.

    Raises:
        ReportNotDeliveredError: a message could not be sent and waits in the outbox.
    """
    from recon.deliverables import undelivered_error

    problem = undelivered_error(settings, outcome.undelivered)
    if problem is not None:
        raise problem


def _fresh_sqlite(url: str, shop: str) -> None:
    """The demo starts from an empty mirror so it always shows a first night.

    Raises:
        ConfigError: the SQLite file is another shop's store (``RECON_STORE__URL`` naming a
            real shop's mirror): it is left as it is.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        owner = _store_owner(path)
        if owner not in (None, shop):
            raise ConfigError(
                f"demo: the store {path} belongs to shop {owner!r}, not the demo's {shop!r}: "
                "demo starts from an empty mirror and would delete it (is RECON_STORE__URL "
                "set for that shop?)"
            )
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def _store_owner(path: Path) -> str | None:
    """The shop a SQLite store file belongs to, or None (no file, or no shop recorded yet).

    Read only (``mode=ro``): opening it as a store would migrate it, or create it.
    """
    from sqlalchemy import create_engine, select
    from sqlalchemy.exc import SQLAlchemyError

    from recon.store.tables import StoreOwnerRow

    if not path.is_file():
        return None
    engine = create_engine(f"sqlite:///{path.resolve().as_uri()}?mode=ro&uri=true")
    try:
        with engine.connect() as connection:
            shop = connection.execute(
                select(StoreOwnerRow.shop).where(StoreOwnerRow.id == 1)
            ).scalar_one_or_none()
    except SQLAlchemyError:  # not a store yet (no table), or not a database at all
        return None
    finally:
        engine.dispose()
    return None if shop is None else str(shop)


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option("--from", help="first day (UTC), e.g. 2026-01-01")],
    end: Annotated[datetime, typer.Option("--to", help="end, exclusive (UTC)")],
    config: ConfigOption = None,
) -> None:
    """Fetch a date range into the mirror in checkpointed windows; a rerun resumes.

    Takes the shop's run lock: exit 4 while a nightly run holds it (and a nightly run started
    during a backfill exits 4). Ctrl-C or SIGTERM stops it between windows or requests (exit
    130 or 143, naming the committed windows); a second signal exits at once.
    """
    if _utc(end) <= _utc(start):  # refused before the sandbox is served or the lock taken
        raise ConfigError(
            f"backfill: --to {as_argument(end)} must be after --from {as_argument(start)} "
            "(UTC, end exclusive)"
        )
    settings = _settings(config)
    from recon.bootstrap import build_app
    from recon.service import run_backfill

    with on_signals(Interrupt()) as interrupt, build_app(settings) as application:
        stats = run_backfill(
            application, start=_utc(start), end=_utc(end), progress=True, interrupt=interrupt
        )
        now = application.clock.now()
    Console().print(f"backfill done: {stats.total} records, {stats.quarantined} quarantined")
    if interrupt.requested:  # it came once the last window was committed
        Console().print(f"({interrupt.name} came after the last window: the backfill finished)")
    if _utc(end) > now:
        Console().print(
            f"read up to now ({now:%Y-%m-%d %H:%M} UTC): the same command later reads the rest"
        )


@app.command()
def schedule(
    cron: Annotated[str, typer.Option(help="crontab expression, e.g. '0 2 * * *'")] = "0 2 * * *",
    now: Annotated[bool, typer.Option("--now", help="also run once at start")] = False,
    config: ConfigOption = None,
) -> None:
    """Run the nightly job on a schedule with the built-in APScheduler (alternative to cron).

    Ctrl-C or SIGTERM stops the schedule; a run in progress stops at its next safe point first
    (exit 130 or 143, saying what it did); a second signal exits at once.
    """
    settings = _settings(config)
    from recon.schedule_times import cron_trigger

    # A bad --cron (or zone) exits 2 before anything touches the store: opening it creates and
    # claims a new shop's, for a schedule that never starts.
    cron_trigger(cron, settings.shop.timezone)
    from recon.bootstrap import build_app, check_ready, open_store
    from recon.scheduler import build_scheduler, last_nightly_start
    from recon.service import run_nightly
    from recon.summary import print_outcome

    check_ready(settings)  # what would fail every night fails now, while someone watches
    slug, zone = settings.shop.slug, settings.shop.timezone

    # The mode the schedule runs in: its start's, then what each run read (the settings are
    # read again before each run). A night counts as run only by a run in at least that mode:
    # a `run --mode plan` preview does not stand for an apply-mode night (``last_nightly_start``).
    mode = [settings.remediation.mode]

    def read_last_run() -> datetime | None:
        mode[0] = schedule_mode(config, mode[0])
        store = open_store(settings)
        try:
            return last_nightly_start(store, sandbox=settings.sandbox.enabled, mode=mode[0])
        finally:
            store.close()

    # Restarted in the hour the clocks repeat, a night that already ran is not run again; one
    # missed while the schedule was down runs at once (``recon.schedule_times.missed_run``).
    last_run = read_last_run()
    stopped: list[RunInterruptedError] = []
    finished: list[bool] = []  # a run the signal found past its last safe point, then done

    def job() -> None:
        # The settings are read again before each run, as each of cron's runs reads them: an
        # edit made to stop writes ([remediation] mode = "plan") holds from the next run, not
        # from a restart. A file that no longer loads fails that run (logged; the schedule
        # goes on). The schedule's own times are its start's: another shop or zone needs a
        # restart, and a run for them is refused rather than run on the old schedule.
        from recon.config import load_settings

        # Not ``_settings``: that names the shop in every later log line, and a file edited
        # to name another shop would stamp this schedule's refusal with the other's name.
        current = load_settings(config)
        if (current.shop.slug, current.shop.timezone) != (slug, zone):
            raise ConfigError(
                f"schedule: the settings now name shop {current.shop.slug} in "
                f"{current.shop.timezone}, but this schedule was started for {slug} in {zone}; "
                "restart `schedule` to run it"
            )
        mode[0] = current.remediation.mode
        try:
            with build_app(current) as application:
                outcome = run_nightly(application, interrupt=interrupt)
                # What `run` prints, after each scheduled run: the service's journal (stdout)
                # says what the night found and did, not only that the schedule is up.
                print_outcome(Console(), outcome, application.truth)
        except RunInterruptedError as exc:
            stopped.append(exc)  # the schedule's own error, once the scheduler has stopped
            return
        if interrupt.requested:
            finished.append(True)
        _check_delivered(current, outcome)  # logged by the scheduler; the schedule goes on

    with on_signals(Interrupt()) as interrupt:
        first_run = datetime.now(UTC) if now else None
        scheduler: Any = build_scheduler(
            cron,
            job,
            timezone=settings.shop.timezone,
            first_run=first_run,
            last_run=last_run,
            # The sandbox's runs table is dated by the world's clock: it cannot say whether a
            # night ran, so a refused night is not retried there (nor a missed one caught up).
            read_last_run=None if settings.sandbox.enabled else read_last_run,
        )
        scheduler.start()
        Console().print(f"scheduled: '{cron}' ({settings.shop.timezone}); Ctrl-C stops")
        while not interrupt.wait(1.0):
            pass
        scheduler.shutdown(wait=True)  # a run in progress stops at its next safe point
    if stopped:
        raise stopped[0]
    if finished:
        Console().print(
            f"schedule stopped ({interrupt.name}) after the run in progress finished: it was "
            "writing its reports and mail, past its last safe point"
        )
        return
    Console().print(f"schedule stopped ({interrupt.name}); no run was in progress")


app.command()(report)
app.command()(runs)
app.add_typer(actions_app, name="actions")
app.add_typer(findings_app, name="findings")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(outbox_app, name="outbox")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def main() -> None:
    """Run the CLI; map recon's errors to exit codes."""
    # Reports, e-mails and the mirror hold finance data: files recon writes are private to the
    # user running it (0600), whatever the shell's umask.
    os.umask(0o077)
    try:
        app(standalone_mode=False)
    except ReconError as exc:
        # One line whatever its length: a log or cron mail is no terminal, and a wrapped path
        # can be neither copied nor grepped.
        err.print("[bold red]error:[/] " + escape(str(exc)), highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except _usage_errors() as exc:  # with standalone_mode=False, usage errors arrive here
        exc.show()
        sys.exit(exc.exit_code)


def _usage_errors() -> tuple[type[Any], ...]:
    """Click's usage errors (exit 2): click's own, and the copy of click newer Typers carry.

    Typer 0.2x parses the command line with its own ``typer._click``, whose errors are not
    ``click.ClickException``: caught as click's alone, a mistyped date printed a traceback and
    exited 1, which cron wrappers read as a failed run.
    """
    import click

    try:
        vendored = importlib.import_module("typer._click.exceptions").ClickException
    except (ImportError, AttributeError):  # an older Typer on the real click
        return (click.ClickException,)
    return (click.ClickException, vendored)


if __name__ == "__main__":
    main()
