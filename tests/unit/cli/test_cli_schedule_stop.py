"""What ``schedule`` says when it is stopped while a run is past its last safe point: the run
writes its reports and mail to the end, and the schedule must not say no run was going."""

from __future__ import annotations

import contextlib
import signal
import types
from pathlib import Path
from typing import Any

import pytest

import recon.bootstrap
import recon.cli
import recon.service
import recon.summary
from recon.cli import schedule
from recon.interrupt import Interrupt


def test_a_signal_during_the_reports_lets_the_run_finish_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM arrives while the run writes its reports (past remediation, its last safe
    point): the run finishes and the schedule stops, exit 0. It said "no run was in progress"."""
    config = tmp_path / "config" / "recon.toml"
    config.parent.mkdir()
    config.write_text(
        '[store]\nurl = "sqlite:///var/recon.db"\n[sandbox]\nenabled = true\nreturns = 20\n',
        encoding="utf-8",
    )
    ran: list[bool] = []

    def nightly(app: Any, *, interrupt: Any, **_: Any) -> Any:
        interrupt.request(signal.SIGTERM)  # as the handler does, while the reports are written
        ran.append(True)
        return types.SimpleNamespace(undelivered=())

    app = types.SimpleNamespace(truth=None)
    monkeypatch.setattr(recon.bootstrap, "build_app", lambda _s: contextlib.nullcontext(app))
    monkeypatch.setattr(recon.service, "run_nightly", nightly)
    monkeypatch.setattr(recon.summary, "print_outcome", lambda *_: None)

    schedule(cron="0 2 1 1 *", now=True, config=config)

    said = " ".join(capsys.readouterr().out.split())
    assert ran == [True]
    assert "no run was in progress" not in said
    assert "schedule stopped (SIGTERM) after the run in progress finished" in said


CONFIG = (
    '[store]\nurl = "sqlite:///var/recon.db"\n[sandbox]\nenabled = true\nreturns = 20\n'
    '[remediation]\nmode = "{mode}"\n{extra}'
)


class _TwoNights:
    """A scheduler that fires the job twice, running ``between`` in the day between, then
    stops the schedule as SIGTERM would (``stop``)."""

    def __init__(self, job: Any, between: Any, stop: Any) -> None:
        self.job, self.between, self.stop = job, between, stop

    def start(self) -> None:
        self.job()
        self.between()
        self.job()
        self.stop()

    def shutdown(self, wait: bool) -> None:
        pass


def _schedule_two_nights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> tuple[list[tuple[str, str]], list[Exception]]:
    """``schedule`` over two nights with the settings file changed (``edit``) between them:
    the (shop, remediation mode) each night's run was built with, and each night's error."""
    import recon.scheduler

    config = tmp_path / "config" / "recon.toml"
    config.parent.mkdir()
    config.write_text(CONFIG.format(mode="apply", extra=""), encoding="utf-8")
    built: list[tuple[str, str]] = []
    failed: list[Exception] = []

    def build_app(settings: Any) -> Any:
        built.append((settings.shop.slug, settings.remediation.mode.value))
        return contextlib.nullcontext(types.SimpleNamespace(truth=None))

    def nightly(app: Any, **_: Any) -> Any:
        return types.SimpleNamespace(undelivered=())

    interrupts: list[Interrupt] = []

    class Recorded(Interrupt):
        def __init__(self) -> None:
            super().__init__()
            interrupts.append(self)

    def guarded(job: Any) -> Any:
        def run() -> None:
            try:
                job()
            except Exception as exc:  # the scheduler logs a failed night and goes on
                failed.append(exc)

        return run

    monkeypatch.setattr(recon.bootstrap, "build_app", build_app)
    monkeypatch.setattr(recon.service, "run_nightly", nightly)
    monkeypatch.setattr(recon.summary, "print_outcome", lambda *_: None)
    monkeypatch.setattr(
        recon.scheduler,
        "build_scheduler",
        lambda cron, job, **_: _TwoNights(
            guarded(job),
            lambda: config.write_text(edit, encoding="utf-8"),
            lambda: interrupts[-1].request(signal.SIGTERM),
        ),
    )
    monkeypatch.setattr(recon.cli, "Interrupt", Recorded)
    schedule(cron="0 2 * * *", now=False, config=config)
    return built, failed


def test_an_edit_to_the_settings_holds_from_the_next_scheduled_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refunds go out that should not: the operator sets `[remediation] mode = "plan"` to stop
    recon's writes. Under cron the next run reads it; `schedule` read its settings once, at
    start, and went on applying every night until someone restarted it."""
    built, failed = _schedule_two_nights(
        tmp_path, monkeypatch, CONFIG.format(mode="plan", extra="")
    )
    assert failed == []
    assert built == [("sandbox", "apply"), ("sandbox", "plan")]


def test_a_schedule_refuses_to_run_another_shop_than_it_was_started_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schedule's times and its runs-table checks are its start shop's: settings now
    naming another shop fail that night's run, saying to restart, instead of running it on
    the old shop's schedule."""
    built, failed = _schedule_two_nights(
        tmp_path, monkeypatch, CONFIG.format(mode="apply", extra='[shop]\nslug = "other"\n')
    )
    assert built == [("sandbox", "apply")]
    (error,) = failed
    assert "restart `schedule`" in str(error) and "other" in str(error)


@pytest.mark.slow
def test_each_scheduled_run_prints_what_run_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`schedule` printed nothing about a run it made: the service's journal said the schedule
    was up and nothing of what the night found or did. Each run now prints `run`'s summary.
    Dataset: the sandbox's default world, 20 returns; `--now` runs once, then SIGTERM stops."""
    config = tmp_path / "config" / "recon.toml"
    config.parent.mkdir()
    config.write_text(
        '[store]\nurl = "sqlite:///var/recon.db"\n[sandbox]\nenabled = true\nreturns = 20\n'
        f'[reports]\ndir = "{tmp_path / "reports"}"\n'
        f'[delivery]\noutbox_dir = "{tmp_path / "outbox"}"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    real = recon.service.run_nightly

    def nightly(app: Any, *, interrupt: Any, **kw: Any) -> Any:
        outcome = real(app, interrupt=interrupt, **kw)
        interrupt.request(signal.SIGTERM)  # one night is enough: stop the schedule after it
        return outcome

    monkeypatch.setattr(recon.service, "run_nightly", nightly)
    schedule(cron="0 2 1 1 *", now=True, config=config)
    said = " ".join(capsys.readouterr().out.split())
    assert "open findings:" in said and "money at risk" in said
    assert "actions:" in said and "findings.json" in said
