"""Nothing in the outbox is written over: every copy of a report (for the recipients the relay
refused for now, those it refused for good, the audit copies in ``sent/``) keeps a file of its
own, though all carry the report's Message-ID and so its file name; and none goes out twice.

The relay here answers per recipient, as ``recon.smtp.SmtpMailer`` reports it: some refused
(``RecipientsRefusedError``), every one refused for good (``MailRefusedError``) or for now
(``DeliveryError``)."""

from __future__ import annotations

import threading
from collections import Counter
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest

from recon import outbox as outbox_module
from recon.delivery import deliver, read_eml, write_eml
from recon.errors import DeliveryError, MailRefusedError, RecipientsRefusedError, permanent
from recon.mail_messages import SHOP_HEADER, TEAM_HEADER
from recon.mail_parked import ANSWER_SUFFIX, unpark
from recon.outbox import CLAIMS_DIR, REFUSED_DIR, SENT_DIR, claim, reclaim_stale
from recon.smtp import RESEND_TO_HEADER

A, B, C, D = "a@acme.test", "b@acme.test", "c@acme.test", "d@acme.test"
REPORT_ID = "<run-1.finance@recon.local>"


def report(*to: str, shop: str | None = "acme") -> EmailMessage:
    """Finance's report of run-1 (``shop`` None: mail kept by a version that named none)."""
    message = EmailMessage()
    message["Subject"] = "[recon] acme report run-1"
    message["From"] = "recon@acme.test"
    message["To"] = ", ".join(to)
    message["Message-ID"] = REPORT_ID
    message["X-Recon-Run"] = "run-1"
    message[TEAM_HEADER] = "finance"
    if shop is not None:
        message[SHOP_HEADER] = shop
    message.set_content("report")
    return message


def owed(message: EmailMessage) -> frozenset[str]:
    """Whom a copy is for: its refused recipients alone, else everyone it names."""
    header = message.get_all(RESEND_TO_HEADER) or message.get_all("To", [])
    return frozenset(address for _, address in getaddresses([str(h) for h in header]))


class Relay:
    """Answers each recipient by ``answers`` (code; 250 when not named) and records who got
    which message."""

    def __init__(self, answers: dict[str, int] | None = None) -> None:
        self.answers = answers or {}
        self.got: list[str] = []

    def send(self, message: EmailMessage) -> None:
        to = sorted(owed(message))
        refused = {a: (self.answers[a], "no") for a in to if self.answers.get(a, 250) >= 400}
        if len(refused) == len(to):
            final = all(permanent(code) for code, _ in refused.values())
            raise (MailRefusedError if final else DeliveryError)(f"refused {sorted(refused)}")
        self.got.extend(a for a in to if a not in refused)
        if refused:
            raise RecipientsRefusedError(f"refused {sorted(refused)}", refused)


def copies(directory: Path) -> Counter[frozenset[str]]:
    """The copies of the report in ``directory``, by whom each is for."""
    return Counter(owed(read_eml(path)) for path in directory.glob("*.eml"))


def night_one(outbox: Path) -> None:
    """The report to A, B and C: A got it, B was refused for now, C for good."""
    relay = Relay({B: 451, C: 550})
    deliver([report(A, B, C)], relay, outbox, shop="acme")
    assert relay.got == [A]
    assert copies(outbox) == {frozenset({B}): 1}
    assert copies(outbox / REFUSED_DIR) == {frozenset({C}): 1}


def test_two_copies_of_one_report_for_different_recipients_are_both_written(
    tmp_path: Path,
) -> None:
    """One copy waits for B, another for C and D: same report, same file name. The second
    used to replace the first, and B never got the report."""
    outbox = tmp_path / "outbox"
    for who in ((B,), (C, D)):
        copy = report(A, B, C, D)
        copy[RESEND_TO_HEADER] = ", ".join(who)
        write_eml(copy, outbox)
    assert copies(outbox) == {frozenset({B}): 1, frozenset({C, D}): 1}


def test_a_copy_kept_for_one_recipient_does_not_replace_another_copy_waiting(
    tmp_path: Path,
) -> None:
    """Night one: B refused for now (a copy waits), C and D for good (a copy parked). C's and
    D's mailboxes are fixed and ``outbox retry`` puts their copy back; B is still refused
    for now, and D's mailbox is full (a 4xx) this time. The copy kept for D used to take the
    name B's waiting copy had, over it: B's copy was gone. Both now wait, and C got it once."""
    outbox = tmp_path / "outbox"
    relay = Relay({B: 451, C: 550, D: 550})
    deliver([report(A, B, C, D)], relay, outbox, shop="acme")
    assert copies(outbox) == {frozenset({B}): 1}
    assert copies(outbox / REFUSED_DIR) == {frozenset({C, D}): 1}
    assert len(unpark(outbox, "acme")) == 1
    relay.answers = {B: 451, D: 452}
    deliver([], relay, outbox, shop="acme")
    assert copies(outbox) == {frozenset({B}): 1, frozenset({D}): 1}
    assert Counter(relay.got) == {A: 1, C: 1}


def test_every_copy_of_a_report_sent_from_the_outbox_is_kept_in_sent(tmp_path: Path) -> None:
    """B's copy went out the next night, C's after ``outbox retry``: ``sent/`` kept only the
    last (the audit copy of what B got was written over). Each is kept, each sent once."""
    outbox = tmp_path / "outbox"
    night_one(outbox)
    relay = Relay()
    deliver([], relay, outbox, shop="acme")  # the next night: B's mailbox takes it
    assert relay.got == [B]
    unpark(outbox, "acme")  # C's address fixed: outbox retry
    deliver([], relay, outbox, shop="acme")
    assert relay.got == [B, C]
    assert copies(outbox / SENT_DIR) == {frozenset({B}): 1, frozenset({C}): 1}
    assert not list(outbox.glob("*.eml")) and not list((outbox / REFUSED_DIR).glob("*.eml"))


def test_copies_refused_for_good_on_different_nights_are_both_parked_with_their_answer(
    tmp_path: Path,
) -> None:
    """C's copy parked on night one; B's, refused for good the next night, is parked beside
    it under a name of its own, each with the relay's answer about its own recipient."""
    outbox = tmp_path / "outbox"
    night_one(outbox)
    deliver([], Relay({B: 550}), outbox, shop="acme")
    refused = outbox / REFUSED_DIR
    assert copies(refused) == {frozenset({B}): 1, frozenset({C}): 1}
    for path in refused.glob("*.eml"):
        (who,) = owed(read_eml(path))
        answer = path.with_name(path.name + ANSWER_SUFFIX).read_text("utf-8")
        assert f"to: {who}" in answer, answer


class RetriedMeanwhile:
    """Shop B's relay, down: while it tries the waiting copy (claimed, so its name is free),
    shop A's ``outbox retry`` (A's run lock, not B's) puts the parked copy of the same report
    back in the shared outbox under that name."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.unparked: list[Path] = []

    def send(self, message: EmailMessage) -> None:
        self.unparked += unpark(self.outbox, "shop-a")
        raise DeliveryError("cannot reach the SMTP relay")


def test_shops_sharing_an_outbox_keep_both_copies_of_mail_that_names_no_shop(
    tmp_path: Path,
) -> None:
    """Mail an older version kept names no shop, so every shop's run and retry takes it. Its
    copy for B waits, its copy for C is parked. Shop B's run claims B's copy; shop A's retry
    moves C's copy to the name B's copy had; B's send fails and its copy went back under that
    name, over C's. Both copies now wait, and the next run sends each once."""
    outbox = tmp_path / "outbox"
    relay = Relay({B: 451, C: 550})
    deliver([report(A, B, C, shop=None)], relay, outbox, shop=None)
    meanwhile = RetriedMeanwhile(outbox)
    result = deliver([], meanwhile, outbox, shop="shop-b")
    assert len(meanwhile.unparked) == 1
    assert copies(outbox) == {frozenset({B}): 1, frozenset({C}): 1}
    (kept,) = result.kept  # B's copy, named where it waits now
    assert owed(read_eml(kept)) == {B}
    relay = Relay()
    deliver([], relay, outbox, shop="shop-a")
    assert Counter(relay.got) == {B: 1, C: 1}
    assert copies(outbox / SENT_DIR) == {frozenset({B}): 1, frozenset({C}): 1}


def test_copies_written_at_the_same_moment_each_keep_a_file(tmp_path: Path) -> None:
    """Eight processes' worth of copies of one report written at once: each gets a file of
    its own (a name is taken by one writer only), none is half written."""
    outbox = tmp_path / "outbox"
    start = threading.Barrier(8)
    everyone = [f"r{n}@acme.test" for n in range(8)]

    def write(n: int) -> None:
        copy = report(*everyone)
        copy[RESEND_TO_HEADER] = everyone[n]
        start.wait()
        write_eml(copy, outbox)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert copies(outbox) == {frozenset({who}): 1 for who in everyone}
    assert not [p for p in outbox.iterdir() if p.suffix != ".eml"]


def test_two_runs_taking_back_one_stale_claim_at_once_put_it_back_once(tmp_path: Path) -> None:
    """A run died holding a claim; the next two runs (two shops) take it back at the same
    moment: the message waits once, not twice (it would then go out twice)."""
    outbox = tmp_path / "outbox"
    held = claim(write_eml(report(A, shop=None), outbox), holder="elsewhere:-:-:1:-")
    assert held is not None
    start = threading.Barrier(2)
    back: list[list[Path]] = []

    def take_back() -> None:
        start.wait()
        back.append(reclaim_stale(outbox, timeout=0.0))

    threads = [threading.Thread(target=take_back) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(len(paths) for paths in back) == [0, 1]
    assert copies(outbox) == {frozenset({A}): 1}
    assert not list((outbox / CLAIMS_DIR).rglob("*"))


def test_a_claim_another_run_removes_after_the_listing_is_skipped_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs taking back stale claims at once: the other run takes this claim back and
    removes its directory between this run's listing and its look inside. That claim is the
    other run's now; this run goes on (it raised FileNotFoundError and its delivery stopped)."""
    outbox = tmp_path / "outbox"
    held = claim(write_eml(report(A, shop=None), outbox), holder="elsewhere:-:-:1:-")
    assert held is not None
    stale = outbox_module._stale

    def taken_by_the_other_run(name: str, timeout: float) -> bool:
        directory = outbox / CLAIMS_DIR / name
        for path in directory.iterdir():
            path.rename(outbox / path.name)
        directory.rmdir()
        return stale(name, timeout)

    def scandir_too_late(self: Path, pattern: str) -> list[Path]:
        # pathlib checks that the directory is there, then lists it: the other run removed it
        # in between (the race CI met), and the listing raises.
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(outbox_module, "_stale", taken_by_the_other_run)
    monkeypatch.setattr(Path, "glob", scandir_too_late)
    back = reclaim_stale(outbox, timeout=0.0)
    monkeypatch.undo()
    assert back == []
    assert copies(outbox) == {frozenset({A}): 1}
