"""``outbox retry`` beside a nightly run of the same shop, and beside another retry: no copy of a
report is lost, and each goes out once.

A report the relay took for no one: finance's B refused for now (a 4xx: a copy waits in the
outbox), C refused for good (a 5xx: a copy is parked). Both copies carry the report's
Message-ID, so both are ``<run>-finance-<digest>.eml``, one waiting, one parked."""

from __future__ import annotations

import asyncio
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from recon.bootstrap import open_store, run_clock
from recon.config import load_settings
from recon.delivery import deliver, read_eml
from recon.errors import DeliveryError, RecipientsRefusedError
from recon.lock import RunLock, holder_name
from recon.mail_messages import SHOP_HEADER, TEAM_HEADER
from recon.service import RUN_LEASE, sessions
from recon.smtp import RESEND_TO_HEADER
from tests.ports import HOST, free_port
from tests.unit.cli.test_cli import recon
from tests.unit.cli.test_cli_delivery import sandbox_config

B, C = "b@acme.test", "c@acme.test"
RECIPIENTS = {"finance": [B, C]}


def shop_config(tmp_path: Path, port: int) -> Path:
    """The sandbox shop in smtp mode on ``port``, finance being B and C."""
    config = sandbox_config(tmp_path, "smtp", port)
    text = config.read_text().replace('["finance@acme.test"]', f'["{B}", "{C}"]')
    config.write_text(text, encoding="utf-8")
    return config


def report(run: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[recon] acme report {run}"
    message["From"] = "recon@acme.test"
    message["To"] = f"{B}, {C}"
    message["Message-ID"] = f"<{run}.finance@recon.local>"
    message["X-Recon-Run"] = run
    message[TEAM_HEADER] = "finance"
    message[SHOP_HEADER] = "sandbox"
    message.set_content("report")
    return message


class SplitRefusal:
    """The relay of the night the report went out: B refused for now, C for good."""

    def send(self, message: EmailMessage) -> None:
        raise RecipientsRefusedError(
            "some recipients refused",
            {B: (451, "4.3.0 try again later"), C: (550, "5.1.1 no such mailbox")},
        )


class Relay:
    """aiosmtpd handler: who got which Message-ID, after ``delay`` seconds per message."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.got: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.delay)
        text = envelope.content.decode("utf-8", "replace")
        ident = next(line for line in text.splitlines() if line.startswith("Message-ID:"))
        with self._lock:
            self.got.extend((to, ident.split(":", 1)[1].strip()) for to in envelope.rcpt_tos)
        return "250 OK"


def parked_and_waiting(tmp_path: Path, config: Path, runs: list[str]) -> None:
    """For each run, finance's report: a copy for B waiting, a copy for C parked; the shop's
    store made, as the runs that sent them made it."""
    settings = load_settings(config)
    open_store(settings).close()
    outbox = settings.delivery.outbox_dir
    reports = [report(run) for run in runs]
    deliver(reports, SplitRefusal(), outbox, shop="sandbox", recipients=RECIPIENTS)
    assert len(list(outbox.glob("*.eml"))) == len(runs)
    assert len(list((outbox / "refused").glob("*.eml"))) == len(runs)


def retry(config: Path) -> Any:
    return recon("outbox", "retry", "--config", str(config))


class RetriedWhileSending:
    """The nightly run's relay connection hangs, then fails (the relay is down); meanwhile the
    operator, who fixed C's address, runs ``outbox retry`` (the relay is down for it too)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.retries: list[Any] = []

    def send(self, message: EmailMessage) -> None:
        self.retries.append(retry(self.config))
        raise DeliveryError("cannot reach the SMTP relay: timed out")


def test_an_outbox_retry_during_a_nightly_runs_resend_loses_no_copy(tmp_path: Path) -> None:
    """The nightly run claims B's waiting copy and tries to send it; while its connection
    hangs, ``outbox retry`` moved C's parked copy into the outbox under the name B's copy had
    (free while claimed), and, the relay being down, left it waiting there. The run's failed
    send put B's copy back under that name, over C's: C's copy was gone, though the retry had
    said it waits for the next run, and C never got the report. ``outbox retry`` now takes
    the shop's run lock: during a run it exits 4 and moves nothing, and once the relay is up
    a retry sends each copy once, to B and to C."""
    dead = free_port()  # nothing listens: the relay is down
    config = shop_config(tmp_path, dead)
    parked_and_waiting(tmp_path, config, ["run-1"])
    settings = load_settings(config)
    store = open_store(settings)
    lock = RunLock(sessions(store), run_clock(settings))
    lease = lock.acquire(settings.shop.slug, holder_name(), RUN_LEASE)  # as run_nightly does
    mailer = RetriedWhileSending(config)
    try:
        deliver([], mailer, settings.delivery.outbox_dir, shop="sandbox", recipients=RECIPIENTS)
    finally:
        lock.release(lease)
        store.close()
    relay = Relay()
    controller = Controller(relay, hostname=HOST, port=dead)
    controller.start()
    try:
        after = retry(config)
    finally:
        controller.stop()
    report_id = "<run-1.finance@recon.local>"
    assert relay.got.count((C, report_id)) == 1, f"C's copy was lost ({relay.got})"
    waiting = [read_eml(p) for p in settings.delivery.outbox_dir.glob("*.eml")]
    waiting_for_b = [m for m in waiting if m[RESEND_TO_HEADER] == B]
    assert relay.got.count((B, report_id)) + len(waiting_for_b) == 1, "B's copy: lost or twice"
    assert after.returncode == 0, after.stderr
    assert len(mailer.retries) == 1
    during = mailer.retries[0]
    assert during.returncode == 4, during.stdout + during.stderr
    assert "run lock" in during.stderr, during.stderr


def test_two_outbox_retries_at_once_send_each_parked_copy_once(tmp_path: Path) -> None:
    """Two people run ``outbox retry`` at the same moment (a slow relay keeps both going):
    each copy reaches its recipient once; the retry that finds the other holding the shop's
    run lock exits 4 and moves nothing."""
    relay = Relay(delay=0.3)
    port = free_port()
    config = shop_config(tmp_path, port)
    runs = ["run-1", "run-2", "run-3"]
    parked_and_waiting(tmp_path, config, runs)
    controller = Controller(relay, hostname=HOST, port=port)
    controller.start()
    results: list[Any] = []
    try:
        both = [threading.Thread(target=lambda: results.append(retry(config))) for _ in range(2)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
    finally:
        controller.stop()
    codes = sorted(r.returncode for r in results)
    assert codes in ([0, 0], [0, 4]), [r.stderr for r in results]
    expected = sorted((to, f"<{run}.finance@recon.local>") for run in runs for to in (B, C))
    assert sorted(relay.got) == expected, "a copy went twice or not at all"
    outbox = load_settings(config).delivery.outbox_dir
    assert list(outbox.glob("*.eml")) == [] and list((outbox / "refused").glob("*.eml")) == []
