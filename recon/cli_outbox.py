"""``run_recon.py outbox``: mail the relay refused for good, parked, and sending it again.

A 5xx answer to MAIL, RCPT or DATA parks the message in ``<outbox>/refused/`` with the answer
beside it (``recon.mail_parked``); no run resends it on its own. ``outbox list`` shows it and
``outbox retry`` sends it again once the cause is fixed (a recipient, the sender, the size).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from recon.cli_json import JsonOption, print_document
from recon.cli_options import ConfigOption
from recon.errors import ConfigError, DeliveryError, LockError

if TYPE_CHECKING:
    from recon.config import Settings

# The lease a retry holds the shop's run lock by; renewed while it sends (``LeaseKeeper``), so a
# retry that died frees the shop this long after (at once on the same host: ``holder_name``).
RETRY_LEASE = timedelta(minutes=15)
# The first line of a parked message's answer file: when the relay refused it for good.
_REFUSED_AT = re.compile(r"refused for good at (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC")
# The relay's answer in it: up to the closing line saying what to do (a relay may answer in
# several lines).
_RELAY_ANSWER = re.compile(r"^answer: (.*?)\n(?:once the cause is fixed|\Z)", re.M | re.S)

outbox_app = typer.Typer(
    no_args_is_help=True,
    help="Mail the relay refused for good (parked in the outbox's refused/): list, send again.",
)


@outbox_app.command("list")
def outbox_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List this shop's parked mail: each message, whom it was for and the relay's answer."""
    from recon.cli import _settings

    settings = _settings(config)  # before the mail modules: a bad config is refused at once
    from recon.mail_parked import parked_mail

    outbox = settings.delivery.outbox_dir
    console = Console(soft_wrap=True)
    paths = parked_mail(outbox, settings.shop.slug)
    if as_json:
        rows = [row for path in paths if (row := _parked_json(path)) is not None]
        print_document("outbox", settings.shop.slug, "messages", rows, outbox=str(outbox))
        return
    if not paths:
        console.print(escape(f"no parked mail for shop {settings.shop.slug} in {outbox}"))
        return
    for path in paths:
        if (said := _answer(path)) is None:
            continue  # sent again since the listing
        console.print(escape(str(path)))
        said = said or "(no answer kept)\n"
        console.print(escape("".join(f"  {line}\n" for line in said.splitlines())), end="")


def _answer(path: Path) -> str | None:
    """The answer kept beside parked ``path`` ("" if none); None once the message is gone:
    an ``outbox retry`` moves it and drops its answer, at any moment after the listing."""
    from recon.mail_parked import ANSWER_SUFFIX

    try:
        return path.with_name(path.name + ANSWER_SUFFIX).read_text("utf-8")
    except FileNotFoundError:
        return "" if path.exists() else None


def _parked_json(path: Path) -> dict[str, str | None] | None:
    """A parked message for ``--json``: its file, and what the answer beside it records
    (``mail_parked.write_answer``): when it was refused, the shop, team, subject, recipients
    and the relay's answer (whole, however many lines); null where no answer was kept. None
    when a retry took the message since the listing (``_answer``): it is parked no more."""
    if (said := _answer(path)) is None:
        return None
    lines = said.splitlines()
    fields = {
        name: next((x.removeprefix(f"{name}: ") for x in lines if x.startswith(f"{name}: ")), None)
        for name in ("shop", "team", "subject", "to")
    }
    refused = _REFUSED_AT.match(said)
    relay = _RELAY_ANSWER.search(said)
    return {
        "name": path.name, "path": str(path),
        "refused_at": refused.expand(r"\1T\2Z") if refused else None, **fields,
        "answer": relay.group(1) if relay else None,
    }  # fmt: skip


@outbox_app.command("retry")
def outbox_retry(config: ConfigOption = None) -> None:
    """Send this shop's parked mail again, now, once the cause is fixed (the recipients, the
    sender or the relay): to the team's recipients and from the sender as the settings name
    them now. Refused again for good, a message is parked again (exit 5, with the answer).

    \f
    Raises:
        ConfigError: delivery is in outbox mode (nothing is mailed, so nothing is parked).
        LockError: a run of the shop (or another retry) holds its run lock (exit 4): nothing
            is moved or sent.
        DeliveryError: the parked mail cannot be moved back into the outbox.
        ReportNotDeliveredError: a message was not delivered (exit 5): parked again, or
            waiting for the next run (a relay down).
    """
    from recon.cli import _settings

    settings = _settings(config)  # before the mail modules: a bad config is refused at once
    from recon.mail_parked import parked_mail

    if settings.delivery.mode != "smtp":
        raise ConfigError(
            'outbox retry: [delivery] mode is "outbox": recon mails nothing, so nothing is '
            'parked or sent again; set mode = "smtp" to mail the reports'
        )
    outbox, shop = settings.delivery.outbox_dir, settings.shop.slug
    if not parked_mail(outbox, shop):
        Console(soft_wrap=True).print(escape(f"no parked mail for shop {shop} in {outbox}"))
        return
    with _run_lock(settings):
        _retry(settings)


@contextmanager
def _run_lock(settings: Settings) -> Iterator[None]:
    """Hold the shop's run lock (renewed while held) for the block.

    A run's delivery and a retry work on the same outbox files: a parked copy the retry put
    back under the name of a copy the run had claimed (both named by the report's Message-ID)
    was once written over when the run's failed send put its copy back, and that recipient
    never got the report. No file is written over now (``recon.outbox.place``), and the claims
    keep two senders from sending one file twice; holding the lock, as a run does, keeps a
    retry and a run of the shop apart all the same (one resends the outbox at a time).

    Raises:
        LockError: a run (or another retry) holds the shop's lock: exit 4, nothing moved.
        LockReleaseError: the block completed, but the store failed as the lock was given up
            (an error of the block's own wins: ``recon.lock.give_up``).
    """
    from recon.bootstrap import open_store, run_clock
    from recon.lease_keeper import LeaseKeeper
    from recon.lock import RunLock, give_up, holder_name
    from recon.run_steps import sessions

    store = open_store(settings)
    try:
        # By the clock the shop's runs date their lease by (in the sandbox, the world's).
        lock = RunLock(sessions(store), run_clock(settings))
        try:
            lease = lock.acquire(settings.shop.slug, holder_name(), RETRY_LEASE)
        except LockError as exc:
            raise LockError(
                f"outbox retry: {exc}; nothing was moved or sent: run it again once that run "
                "has ended"
            ) from None
        try:
            with LeaseKeeper(lock, lease, RETRY_LEASE):
                yield
        except BaseException:
            give_up(lock, lease, completed=None, ttl=RETRY_LEASE)  # the retry's own error wins
            raise
        done = "outbox retry completed (the parked mail was sent or waits in the outbox)"
        give_up(lock, lease, completed=done, ttl=RETRY_LEASE)
    finally:
        store.close()


def _retry(settings: Settings) -> None:
    """Put the shop's parked mail back in the outbox and send what waits there now.

    Raises:
        DeliveryError: the parked mail cannot be moved back into the outbox.
        ReportNotDeliveredError: a message was not delivered.
    """
    from recon.deliverables import mailer_for, undelivered_error
    from recon.delivery import deliver
    from recon.mail_parked import unpark

    outbox, shop = settings.delivery.outbox_dir, settings.shop.slug
    try:
        back = unpark(outbox, shop)
    except OSError as exc:
        raise DeliveryError(
            f"outbox retry: cannot move parked mail back to {outbox}: {exc}"
        ) from exc
    console = Console(soft_wrap=True)
    if not back:  # another retry took it between the look and the lock
        console.print(escape(f"no parked mail for shop {shop} in {outbox}"))
        return
    recipients = {str(team): people for team, people in settings.delivery.recipients.items()}
    result = deliver([], mailer_for(settings), outbox, shop=shop, recipients=recipients)
    console.print(
        f"outbox retry: {len(back)} parked message(s) taken back; {len(result.resent)} sent, "
        f"{len(result.parked)} refused again (parked), {len(result.kept)} waiting"
    )
    problem = undelivered_error(
        settings, result.errors, lead="outbox retry: not every message was delivered"
    )
    if problem is not None:
        raise problem
