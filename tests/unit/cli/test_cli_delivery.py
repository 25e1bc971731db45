"""Exit codes of a run whose report could not be mailed: cron must notice a broken SMTP setup."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.ports import HOST, free_port
from tests.unit.cli.test_cli import recon


class Inbox:
    """aiosmtpd handler keeping the subjects of the messages it accepts."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.startswith("Subject:"):
                self.subjects.append(line.removeprefix("Subject:").strip())
        return "250 OK"


def sandbox_config(tmp_path: Path, mode: str, port: int) -> Path:
    """A small sandbox shop delivering by ``mode``; SMTP (plain, local) on ``port``."""
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"""
[sandbox]
enabled = true
returns = 20
[sync]
initial_days = 150
[store]
url = "sqlite:///var/recon.db"
[delivery]
mode = "{mode}"
outbox_dir = "reports/outbox"
[delivery.smtp]
host = "{HOST}"
port = {port}
security = "none"
timeout_seconds = 5
[delivery.recipients]
finance = ["finance@acme.test"]
""",
        encoding="utf-8",
    )
    return path


def waiting(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "reports" / "outbox").glob("*.eml"))


def test_a_report_that_could_not_be_mailed_exits_5_until_it_is_sent(tmp_path: Path) -> None:
    """SMTP down: the run completes (findings, reports) but exits 5 naming the outbox. Once
    SMTP is back the next run sends the waiting mail and exits 0."""
    port = free_port()  # nothing listens there yet
    config = sandbox_config(tmp_path, "smtp", port)
    down = recon("run", "--config", str(config))
    assert down.returncode == 5, down.stderr
    assert "findings:" in down.stdout  # the run itself completed and said so
    assert "not delivered" in down.stderr and "reports/outbox" in down.stderr
    kept = waiting(tmp_path)
    assert kept

    inbox = Inbox()
    controller = Controller(inbox, hostname=HOST, port=port)
    controller.start()
    try:
        up = recon("run", "--config", str(config))
    finally:
        controller.stop()
    assert up.returncode == 0, up.stderr
    assert waiting(tmp_path) == []
    assert len(inbox.subjects) == 2 * len(kept)  # last night's, resent, and tonight's


def test_outbox_mode_exits_0_whatever_smtp_would_say(tmp_path: Path) -> None:
    """In outbox mode the outbox is the delivery: a report there is delivered, not waiting."""
    config = sandbox_config(tmp_path, "outbox", free_port())
    result = recon("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert waiting(tmp_path)


class Refusing(Inbox):
    """A relay that answers DATA with a permanent 554 while ``refusing``."""

    refusing = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refusing:
            return "554 5.6.0 Message content rejected by policy"
        return await super().handle_DATA(server, session, envelope)


def test_a_report_the_relay_refuses_for_good_is_parked_once_then_sent_by_outbox_retry(
    tmp_path: Path,
) -> None:
    """A 554 was kept in the outbox and resent every night, refused every night: exit 5 for
    ever, and the night's real failures drowned in it. The run that gets the answer exits 5
    naming it and parks the mail in refused/; the next night does not resend it and exits 0,
    saying it is parked; ``outbox retry`` sends it once the cause is fixed."""
    inbox = Refusing()
    controller = Controller(inbox, hostname=HOST, port=free_port())
    controller.start()
    try:
        config = sandbox_config(tmp_path, "smtp", controller.port)
        first = recon("run", "--config", str(config))
        assert first.returncode == 5, first.stderr
        assert "554 5.6.0" in first.stderr and "outbox retry" in first.stderr
        refused = tmp_path / "reports" / "outbox" / "refused"
        parked = sorted(refused.glob("*.eml"))
        assert parked and waiting(tmp_path) == [] and inbox.subjects == []
        assert all(Path(f"{p}.answer.txt").is_file() for p in parked)

        inbox.refusing = False  # the policy was fixed at the relay
        second = recon("run", "--config", str(config))
        assert second.returncode == 0, second.stderr
        assert "refused for good" in second.stdout + second.stderr
        assert "outbox retry" in second.stdout + second.stderr
        assert all("(run 2)" in subject for subject in inbox.subjects)  # only its own mail
        assert sorted(refused.glob("*.eml")) == parked

        listed = recon("outbox", "list", "--config", str(config))
        assert listed.returncode == 0 and "554 5.6.0" in listed.stdout

        retried = recon("outbox", "retry", "--config", str(config))
        assert retried.returncode == 0, retried.stderr
        assert f"{len(parked)} sent" in retried.stdout
        assert list(refused.glob("*")) == [] and waiting(tmp_path) == []
        resent = [s for s in inbox.subjects if "(run 2)" not in s]
        assert len(resent) == len(parked)
    finally:
        controller.stop()


def test_an_outbox_retry_the_relay_still_refuses_says_what_it_did_not_a_run(
    tmp_path: Path,
) -> None:
    """``outbox retry`` runs no reconciliation; refused again, its exit 5 said "the run
    completed but its report was not delivered", naming a run that never took place. It says
    the retry did not deliver, and still how many were refused and what to check."""
    inbox = Refusing()
    controller = Controller(inbox, hostname=HOST, port=free_port())
    controller.start()
    try:
        config = sandbox_config(tmp_path, "smtp", controller.port)
        assert recon("run", "--config", str(config)).returncode == 5
        retried = recon("outbox", "retry", "--config", str(config))  # the relay still refuses
        assert retried.returncode == 5, retried.stderr
        assert "outbox retry: not every message was delivered" in retried.stderr
        assert "refused for good" in retried.stderr and "554 5.6.0" in retried.stderr
        assert "run completed" not in retried.stderr
    finally:
        controller.stop()


def unreported(tmp_path: Path) -> tuple[int, int]:
    """(open findings, those no report that reached finance has shown yet), from the store."""
    with sqlite3.connect(tmp_path / "var" / "recon.db") as db:
        loud = "status IN ('new', 'open')"
        (total,) = db.execute(f"SELECT count(*) FROM findings WHERE {loud}").fetchone()
        (fresh,) = db.execute(
            f"SELECT count(*) FROM findings WHERE {loud} AND reported_at IS NULL"
        ).fetchone()
    return total, fresh


def statuses(tmp_path: Path) -> list[str]:
    """The nightly runs' statuses in the runs table, in the order they were recorded."""
    with sqlite3.connect(tmp_path / "var" / "recon.db") as db:
        rows = db.execute("SELECT status FROM runs WHERE kind = 'nightly' ORDER BY rowid")
        return [str(status) for (status,) in rows]


def test_findings_of_a_report_the_relay_refused_for_good_are_new_in_the_next_report(
    tmp_path: Path,
) -> None:
    """Finance's report parked (a 554 to DATA) was counted as gone out: its findings were
    marked reported, so the next report did not list them as new and finance, who never got
    the parked one, never heard of them. The parked run ends 5, recorded ``undelivered``, and
    marks nothing reported; the next report that reaches finance lists them as new."""
    inbox = Refusing()
    controller = Controller(inbox, hostname=HOST, port=free_port())
    controller.start()
    try:
        config = sandbox_config(tmp_path, "smtp", controller.port)
        first = recon("run", "--config", str(config))
        assert first.returncode == 5, first.stderr
        assert statuses(tmp_path) == ["undelivered"]
        total, fresh = unreported(tmp_path)
        assert total > 0 and fresh == total  # finance has been told of none of them

        inbox.refusing = False
        second = recon("run", "--config", str(config))
        assert second.returncode == 0, second.stderr
        assert statuses(tmp_path) == ["undelivered", "ok"]
        assert inbox.subjects and unreported(tmp_path)[1] == 0  # this report told finance
    finally:
        controller.stop()
