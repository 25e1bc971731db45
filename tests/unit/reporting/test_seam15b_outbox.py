"""Seam review (session 15, b): the outbox's free names (``recon.outbox.move`` / ``place``)
versus stale claims and a run that dies mid-move.

A move renames the file aside (``<name>.<token>.moving``) and then links it to its new name
and unlinks the aside name: two steps where ``replace`` was one.

- Two runs taking back one stale claim at once: the second lists the first's ``.moving`` file
  and moves it (once: sound); the first's link then finds its aside name gone, and ``move``
  raises that ``FileNotFoundError`` through ``reclaim_stale``, which ``_resend_waiting`` calls
  unguarded: ``deliver`` fails before it sends the run's own report (``send_report`` reads an
  ``OSError`` as "the report's files cannot be written").
- A run that dies between the link and the unlink (a second Ctrl-C exits at once,
  ``recon.interrupt``; a kill) leaves the aside name in its claim, its link already made:
  the next run takes it back as a waiting copy, and the report goes out again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from recon.delivery import deliver, write_eml
from recon.outbox import SENT_DIR, claim
from tests.unit.reporting.test_outbox_names import A, B, Relay, copies, report


class Died(BaseException):
    """The process ends here (a kill, or a second signal's ``os._exit``): nothing after runs."""


def linking(hook: Callable[[str, str], None]) -> Callable[..., None]:
    """``os.link`` that makes the link, then calls ``hook(source, target)``."""
    real = os.link

    def link(src: str, dst: str, *args: object, **kwargs: object) -> None:
        real(src, dst, *args, **kwargs)  # type: ignore[arg-type]
        hook(str(src), str(dst))

    return link


def test_two_runs_taking_back_one_stale_claim_interleaved_send_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run died holding the report (mail naming no shop, resent by every shop's run). The
    next nights of two shops sharing the outbox start together: acme's run sets the file aside
    to take the claim back, and globex's run lists the claim at that moment. The report must go
    out once, by one of them, and acme's run must still send tonight's own report (to B)."""
    outbox = tmp_path / "outbox"
    held = claim(write_eml(report(A, shop=None), outbox), holder="elsewhere:-:-:1:-")
    assert held is not None
    tonight = report(B)
    tonight.replace_header("Message-ID", "<run-2.finance@recon.local>")
    tonight.replace_header("X-Recon-Run", "run-2")
    acme, globex = Relay(), Relay()
    real_link = os.link
    interleaved: list[bool] = []

    def link(src: str, dst: str, *args: object, **kwargs: object) -> None:
        if not interleaved:  # acme has set the file aside and is about to link it
            interleaved.append(True)
            deliver([], globex, outbox, shop="globex", claim_timeout=0.0)
        real_link(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", link)
    failed: list[BaseException] = []
    try:
        deliver([tonight], acme, outbox, shop="acme", claim_timeout=0.0)
    except OSError as exc:
        failed.append(exc)
    monkeypatch.undo()
    assert interleaved
    waiting = sorted(p.name for p in outbox.iterdir() if p.is_file())
    assert (sorted(acme.got + globex.got), failed) == ([A, B], []), f"outbox holds {waiting}"


def test_a_run_killed_as_it_files_a_sent_report_does_not_send_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last night's report waits for A. Tonight's run sends it and files it in ``sent/``; the
    process is killed right after the copy is linked there. The report went out and is filed
    as sent: the next run must not send it to A again."""
    outbox = tmp_path / "outbox"
    write_eml(report(A), outbox)

    def die_once_filed(src: str, dst: str) -> None:
        if Path(dst).parent.name == SENT_DIR:
            raise Died

    monkeypatch.setattr(os, "link", linking(die_once_filed))
    tonight = Relay()
    with pytest.raises(Died):
        deliver([], tonight, outbox, shop="acme")
    monkeypatch.undo()
    assert tonight.got == [A]
    assert copies(outbox / SENT_DIR) == {frozenset({A}): 1}
    tomorrow = Relay()  # the dead run's claim is taken back (its process is gone)
    deliver([], tomorrow, outbox, shop="acme", claim_timeout=0.0)
    assert tomorrow.got == [], "the report filed in sent/ went to A a second time"


def test_a_run_killed_as_it_puts_a_report_back_leaves_it_waiting_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay is down: tonight's run puts the waiting report back in the outbox and is
    killed right after the link. The next run must send A the report once, not twice."""
    outbox = tmp_path / "outbox"
    write_eml(report(A), outbox)

    class Down(Relay):
        def send(self, message: object) -> None:
            from recon.errors import DeliveryError

            raise DeliveryError("451 try later")

    def die_once_back(src: str, dst: str) -> None:
        if Path(dst).parent == outbox:
            raise Died

    monkeypatch.setattr(os, "link", linking(die_once_back))
    with pytest.raises(Died):
        deliver([], Down(), outbox, shop="acme")
    monkeypatch.undo()
    tomorrow = Relay()
    deliver([], tomorrow, outbox, shop="acme", claim_timeout=0.0)
    assert tomorrow.got == [A], "the report put back once went to A twice"
