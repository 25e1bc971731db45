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
import recon.service
from recon.cli import schedule


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

    monkeypatch.setattr(recon.bootstrap, "build_app", lambda _s: contextlib.nullcontext())
    monkeypatch.setattr(recon.service, "run_nightly", nightly)

    schedule(cron="0 2 1 1 *", now=True, config=config)

    said = " ".join(capsys.readouterr().out.split())
    assert ran == [True]
    assert "no run was in progress" not in said
    assert "schedule stopped (SIGTERM) after the run in progress finished" in said
