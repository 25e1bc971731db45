"""Resending waiting mail from an outbox shared by several shops' runs: each waiting message is
claimed (moved out of the waiting list) before it is sent, so two runs resending at the same
moment send it once; a claim its run left behind (crashed) is taken back, so nothing is lost."""

from __future__ import annotations

import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from recon.delivery import deliver, write_eml
from recon.errors import DeliveryError
from recon.outbox import CLAIMS_DIR, claim, reclaim_stale

SHOPS = ("shop-a", "shop-b")


def legacy_message(n: int) -> EmailMessage:
    """Mail an older version kept after a failed send: it names no shop."""
    message = EmailMessage()
    message["Subject"] = f"[recon] report {n}"
    message["From"] = "recon@example.com"
    message["To"] = "fin@example.com"
    message["Message-ID"] = f"<run-{n}.finance@recon.local>"
    message["X-Recon-Run"] = f"run-{n}"
    message["X-Recon-Team"] = "finance"
    message.set_content("report")
    return message


class CountingRelay:
    """One SMTP relay both shops' runs send through: counts each Message-ID it accepts.

    A send waits (at most ``patience`` seconds) until the other run is inside ``send`` too or
    has finished resending: so both runs are past their look at the outbox before either
    finishes a send, the moment at which a message could go out twice.
    """

    def __init__(self, patience: float = 10.0) -> None:
        self.delivered: dict[str, int] = {}
        self.patience = patience
        self._lock = threading.Lock()
        self._sending: set[str] = set()
        self.finished: set[str] = set()
        self._changed = threading.Condition(self._lock)

    def mailer(self, shop: str) -> _RelayClient:
        return _RelayClient(self, shop)

    def accept(self, shop: str, message: EmailMessage) -> None:
        with self._changed:
            self._sending.add(shop)
            self._changed.notify_all()
            self._changed.wait_for(
                lambda: all(s in self._sending | self.finished for s in SHOPS),
                timeout=self.patience,
            )
            key = str(message["Message-ID"])
            self.delivered[key] = self.delivered.get(key, 0) + 1

    def done(self, shop: str) -> None:
        with self._changed:
            self.finished.add(shop)
            self._changed.notify_all()


class _RelayClient:
    def __init__(self, relay: CountingRelay, shop: str) -> None:
        self.relay, self.shop = relay, shop

    def send(self, message: EmailMessage) -> None:
        self.relay.accept(self.shop, message)


class DownMailer:
    def send(self, message: EmailMessage) -> None:
        raise DeliveryError("connection refused")


def resend_in_parallel(outbox: Path, relay: CountingRelay) -> None:
    errors: list[BaseException] = []

    def run(shop: str) -> None:
        try:
            deliver([], relay.mailer(shop), outbox, shop=shop)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            relay.done(shop)

    threads = [threading.Thread(target=run, args=(shop,)) for shop in SHOPS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors


def test_two_shops_resending_at_the_same_moment_send_mail_naming_no_shop_once(
    tmp_path: Path,
) -> None:
    """Mail an older version kept (no shop named) waits in the outbox both shops share; their
    next runs resend waiting mail at the same moment. Each message reaches the relay once, and
    every one of them ends in ``sent/``."""
    outbox = tmp_path / "outbox"
    for n in range(3):
        write_eml(legacy_message(n), outbox)
    relay = CountingRelay()
    resend_in_parallel(outbox, relay)
    assert relay.delivered == {f"<run-{n}.finance@recon.local>": 1 for n in range(3)}
    assert not list(outbox.glob("*.eml"))
    assert len(list((outbox / "sent").glob("*.eml"))) == 3
    assert not list((outbox / CLAIMS_DIR).rglob("*.eml"))


def test_a_message_that_still_fails_waits_again_unclaimed(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    kept = write_eml(legacy_message(1), outbox)
    result = deliver([], DownMailer(), outbox, shop="shop-a")
    assert result.kept == [kept] and kept.exists()
    assert not list((outbox / CLAIMS_DIR).rglob("*.eml"))
    relay = CountingRelay(patience=0)
    deliver([], relay.mailer("shop-a"), outbox, shop="shop-a")
    assert relay.delivered == {"<run-1.finance@recon.local>": 1}


def test_a_claim_another_live_run_holds_is_left_to_it(tmp_path: Path) -> None:
    """Another run (alive: this very process) claimed the message a moment ago and is sending
    it: this run neither sends it nor takes it back."""
    outbox = tmp_path / "outbox"
    held = claim(write_eml(legacy_message(1), outbox))
    assert held is not None
    relay = CountingRelay(patience=0)
    result = deliver([], relay.mailer("shop-a"), outbox, shop="shop-a")
    assert relay.delivered == {} and result.ok
    assert held.path.exists()


@pytest.mark.parametrize("left_by", ["a process that died", "a run silent past the timeout"])
def test_a_claim_left_by_a_crashed_run_is_taken_back_and_sent(tmp_path: Path, left_by: str) -> None:
    """A run claimed a waiting message and crashed before sending it: the next run takes the
    claim back and sends it, so the message is not lost in the claims directory."""
    outbox = tmp_path / "outbox"
    path = write_eml(legacy_message(1), outbox)
    if left_by == "a process that died":
        # holder name of a process of this host and boot whose PID is free (this process's
        # own name with its start time changed: the PID now belongs to another process)
        from recon.lock import holder_name

        host, boot, namespace, pid, _ = holder_name().split(":")
        held = claim(path, holder=f"{host}:{boot}:{namespace}:{pid}:1")
        timeout = 3600.0
    else:
        held = claim(path, holder="elsewhere:-:-:1:-")
        timeout = 0.0
    assert held is not None and not path.exists()
    relay = CountingRelay(patience=0)
    result = deliver([], relay.mailer("shop-a"), outbox, shop="shop-a", claim_timeout=timeout)
    assert relay.delivered == {"<run-1.finance@recon.local>": 1}
    assert result.ok and (outbox / "sent" / path.name).exists()
    assert not list((outbox / CLAIMS_DIR).iterdir())


class OutwaitedMailer:
    """A relay that hangs until another run, deeming this run's claim stale (a send past the
    timeout, or a host whose clock is ahead), takes the claim back; then the send fails."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send(self, message: EmailMessage) -> None:
        reclaim_stale(self.outbox, timeout=0.0)  # the other run, on another host
        raise DeliveryError("timed out")


def test_a_run_whose_claim_was_taken_back_meanwhile_still_keeps_its_own_mail(
    tmp_path: Path,
) -> None:
    """Another run took this run's claim back while the send hung, then the send failed. The
    message waits again once (the other run put it back), and this run does not fail: its own
    new report, which the relay also refused, is kept in the outbox rather than lost with a
    crash (its findings are saved, so the next run would not mail them as new)."""
    outbox = tmp_path / "outbox"
    waiting = write_eml(legacy_message(1), outbox)
    tonight = legacy_message(2)
    result = deliver([tonight], OutwaitedMailer(outbox), outbox, shop="shop-a")
    assert waiting.exists()
    assert sorted(p.name for p in result.kept) == sorted(
        [waiting.name, write_eml(tonight, tmp_path / "names").name]
    )
    assert sorted(p.name for p in outbox.glob("*.eml")) == sorted(p.name for p in result.kept)
