"""A report waiting in the outbox goes to the team's recipients as the settings name them now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.ports import HOST, free_port
from tests.unit.cli.test_cli import recon
from tests.unit.cli.test_cli_delivery import sandbox_config, waiting

TYPO, FIXED = "finance@acme.tset", "finance@acme.test"


def parked(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "reports" / "outbox" / "refused").glob("*.eml"))


class Relay:
    """Refuses mail for ``TYPO`` (no such domain), keeps who got each subject."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], str]] = []

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == TYPO:
            return f"550 5.1.2 <{address}>: Recipient address rejected: Domain not found"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        text = envelope.content.decode("utf-8", "replace")
        subject = next(line for line in text.splitlines() if line.startswith("Subject:"))
        self.received.append((list(envelope.rcpt_tos), subject.removeprefix("Subject:").strip()))
        return "250 OK"


def test_a_report_refused_for_a_mistyped_recipient_goes_to_the_corrected_one(
    tmp_path: Path,
) -> None:
    """Finance's address mistyped: the relay refuses it for good (550), the report is parked
    (exit 5) and the error names the address. Corrected in ``[delivery.recipients]``, a resend
    went to the address written in the ``.eml``, refused again: the report of that night never
    reached finance. The next run sends its own report and leaves the parked one (exit 0);
    ``outbox retry`` sends it to finance as configured now."""
    relay = Relay()
    controller = Controller(relay, hostname=HOST, port=free_port())
    controller.start()
    try:
        config = sandbox_config(tmp_path, "smtp", controller.port)
        config.write_text(config.read_text().replace(FIXED, TYPO), encoding="utf-8")
        first = recon("run", "--config", str(config))
        assert first.returncode == 5, first.stderr
        assert TYPO in first.stderr and relay.received == []
        assert waiting(tmp_path) == [] and len(parked(tmp_path)) == 1

        config.write_text(config.read_text().replace(TYPO, FIXED), encoding="utf-8")
        second = recon("run", "--config", str(config))
        assert second.returncode == 0, second.stderr
        assert [to for to, _ in relay.received] == [[FIXED]]  # tonight's only
        retried = recon("outbox", "retry", "--config", str(config))
    finally:
        controller.stop()
    assert retried.returncode == 0, retried.stderr
    assert waiting(tmp_path) == [] and parked(tmp_path) == []
    assert [to for to, _ in relay.received] == [[FIXED], [FIXED]]  # tonight's, then last night's
    assert "(run 2)" in relay.received[0][1] and "(run 2)" not in relay.received[1][1]
