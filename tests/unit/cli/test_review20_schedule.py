"""Review 20 (scheduling, the run lock, many shops): ``schedule``'s own findings.

Each test drives ``schedule`` with a scheduler stand-in that fires its job by hand, as
``tests/unit/cli/test_cli_schedule_stop.py`` does.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import recon.bootstrap
import recon.cli
import recon.scheduler
import recon.service
import recon.summary
from recon.cli import schedule
from recon.interrupt import Interrupt
from recon.logs import ShopFilter

CONFIG = '[store]\nurl = "sqlite:///var/recon.db"\n[sandbox]\nenabled = true\nreturns = 20\n{extra}'


class _Collect(logging.Handler):
    """The root handler's lines, each with the shop its ``ShopFilter`` stamped on it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[tuple[str, str]] = []
        self.addFilter(ShopFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((getattr(record, "shop", "?"), record.getMessage()))


@pytest.fixture
def shop_lines() -> Iterator[_Collect]:
    """A root handler stamping the shop, as ``configure_logging``'s does."""
    handler = _Collect()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


def test_a_schedule_logs_its_own_shop_after_the_settings_name_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop_lines: _Collect
) -> None:
    """An agency's `schedule` for shop `sandbox`: someone copies the file for a new shop and
    sets `[shop] slug = "other"` in place. The night's run is refused (restart `schedule`),
    as it should be, but the error line, and every line of the schedule after it, said
    `shop=other`: the alert is routed to the other shop's team, and `sandbox`'s on-call,
    grepping `shop=sandbox`, sees nothing of why its night did not run."""
    config = tmp_path / "config" / "recon.toml"
    config.parent.mkdir()
    config.write_text(CONFIG.format(extra=""), encoding="utf-8")
    interrupts: list[Interrupt] = []

    class Recorded(Interrupt):
        def __init__(self) -> None:
            super().__init__()
            interrupts.append(self)

    class OneNight:
        """Fires the job once (through the scheduler's own guard, which logs the failure)
        after the edit, then stops the schedule as SIGTERM would."""

        def __init__(self, job: Any) -> None:
            self.job = job

        def start(self) -> None:
            config.write_text(CONFIG.format(extra='[shop]\nslug = "other"\n'), encoding="utf-8")
            recon.scheduler._guarded(self.job)()
            logging.getLogger("recon.scheduler").warning("the schedule goes on")
            interrupts[-1].request(signal.SIGTERM)

        def shutdown(self, wait: bool) -> None:
            pass

    built: list[str] = []

    def build_app(settings: Any) -> Any:
        built.append(settings.shop.slug)
        return contextlib.nullcontext(types.SimpleNamespace(truth=None))

    monkeypatch.setattr(recon.bootstrap, "build_app", build_app)
    monkeypatch.setattr(recon.summary, "print_outcome", lambda *_: None)
    monkeypatch.setattr(recon.scheduler, "build_scheduler", lambda cron, job, **_: OneNight(job))
    monkeypatch.setattr(recon.cli, "Interrupt", Recorded)

    schedule(cron="0 2 * * *", now=False, config=config)

    assert built == []  # the other shop's night was refused, not run
    failed = [shop for shop, line in shop_lines.lines if "scheduled run failed" in line]
    after = [shop for shop, line in shop_lines.lines if line == "the schedule goes on"]
    assert failed == ["sandbox"] and after == ["sandbox"]
