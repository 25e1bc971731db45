"""A credential read with a line break (a key file's newline) never reaches a log or an error."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from recon.clock import VirtualClock
from recon.errors import SourceError
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient
from recon.sources.redact import redact_text

KEY = "loopkey-7Hq2Zr9Wm4"  # Loop's keys carry no prefix: only their value can be masked


@pytest.fixture
def listening() -> Iterator[str]:
    """A port that accepts connections: the request fails in the client, before an answer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api"


def test_a_key_read_with_its_newline_is_masked_in_the_retry_log_and_the_error(
    listening: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``RECON_LOOP_API_KEY`` from a Kubernetes secret made with ``--from-file`` ends with a
    line break. h11 refuses the header and says why with its value: ``Illegal header value
    b'loopkey-...\\n'``. The escaped form is not the value recon masked, so the key went into
    every retry warning, the run's error (stderr, cron's mail) and the runs table."""
    clock = VirtualClock(datetime(2026, 11, 1, tzinfo=UTC))
    client = LoopClient(
        httpx.Client(timeout=5),
        base_url=listening,
        api_version="2026-07",
        api_key=KEY + "\n",
        clock=clock,
        policy=RetryPolicy(max_attempts=2, zero_wait=True),
    )
    # INFO: the most recon's logging ever prints (``-v``), httpx's request lines included.
    with caplog.at_level(logging.INFO), pytest.raises(SourceError) as failed:
        list(client.iter_returns(clock.now() - timedelta(days=1), clock.now(), "closed"))
    assert "header" in str(failed.value)  # the cause is still said
    assert KEY not in str(failed.value)
    assert caplog.records and KEY not in caplog.text


@pytest.mark.parametrize(
    "said",
    [
        f"Illegal header value b'{KEY}\\n'",
        f"Illegal header value '{KEY}\\r\\n'",
        f"value={KEY}",  # the key alone, as the variable trimmed by a shell would send it
    ],
)
def test_every_written_form_of_a_secret_is_masked(said: str) -> None:
    assert KEY not in redact_text(said, [f"{KEY}\r\n"])


def test_a_traceback_in_the_log_is_masked_like_its_message() -> None:
    """The root handlers' filter masked the message alone, while a logged traceback (APScheduler
    logs a scheduled run's unexpected exception with its traceback, chained causes included)
    was written as it came: an exception quoting a header carried the key into the log."""
    import io

    from recon.logs import FORMAT, ShopFilter
    from recon.sources.redact import RedactingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([KEY]))
    handler.addFilter(ShopFilter("acme"))
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger("test.secret_forms.scheduler")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            try:
                raise httpx.LocalProtocolError(f"Illegal header value b'{KEY}\\n'")
            except httpx.LocalProtocolError as cause:
                raise RuntimeError(f"request with X-Authorization {KEY} failed") from cause
        except RuntimeError:
            logger.exception('Job "nightly" raised an exception')
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert 'Job "nightly" raised an exception' in written and "RuntimeError" in written
    assert KEY not in written
