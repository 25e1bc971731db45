"""Review 17: a report that waited in the outbox, then was refused for good, reached no one.

docs/commands.md: "Finance's report refused whole reached no one, so what it showed is not
marked reported: the next report that reaches finance lists those findings as new". A report
left waiting in the outbox (relay down) marks its findings reported at once: the next run
resends it. When that resend is refused for good (a 554: parked, resent by no run), the marks
stay, and the findings it listed as new are never new in a report finance gets.

Dataset: the small sandbox shop of ``test_cli_delivery``. Night 1: nothing listens on the SMTP
port (finance's report waits in the outbox). Night 2: the relay answers DATA with 554, the
waiting report and the night's own are parked. Neither reached finance.
"""

from __future__ import annotations

from pathlib import Path

from aiosmtpd.controller import Controller

from tests.ports import HOST, free_port
from tests.unit.cli.test_cli import recon
from tests.unit.cli.test_cli_delivery import Refusing, sandbox_config, unreported, waiting


def test_findings_of_a_waiting_report_parked_on_resend_are_not_marked_reported(
    tmp_path: Path,
) -> None:
    port = free_port()  # the relay is down
    config = sandbox_config(tmp_path, "smtp", port)
    first = recon("run", "--config", str(config))
    assert first.returncode == 5, first.stderr
    assert waiting(tmp_path)  # finance's report waits for the next run
    inbox = Refusing()
    controller = Controller(inbox, hostname=HOST, port=port)
    controller.start()
    try:
        second = recon("run", "--config", str(config))
    finally:
        controller.stop()
    assert second.returncode == 5, second.stderr
    assert waiting(tmp_path) == [] and inbox.subjects == []  # both parked: none reached finance
    assert sorted((tmp_path / "reports" / "outbox" / "refused").glob("*.eml"))
    total, fresh = unreported(tmp_path)
    assert total > 0 and fresh == total  # finance has been told of none of them
