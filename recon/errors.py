"""The project's error tree; the CLI maps ReconError to an exit code in exactly one place.

    ReconError                  exit 1 unless stated
    ├── ConfigError             exit 2  a bad setting; the message names the key and the expectation
    ├── WorldError              exit 2  an invalid sandbox world file; names the bad field's path
    ├── SourceError                     talking to Loop or Shopify failed
    │   ├── AuthError           exit 3  401/403/ACCESS_DENIED: bad token or missing scope
    │   ├── RetryExhaustedError         retriable failures outlasted one request's attempts
    │   │   └── RetryBudgetExhaustedError   ... or the run's retry budget for that API
    │   ├── FatalHTTPError              a non-retriable 4xx, or a GraphQL validation error (a bug)
    │   │   └── RequestRejectedError    top-level GraphQL errors and no data: nothing ran
    │   ├── CursorLoopError             a server handed back a cursor it had already given
    │   ├── PagingError                 a page says there is more but gives no way to it
    │   ├── ThrottledError              THROTTLED/429 that the policy decided not to wait out
    │   ├── SyncCancelledError          one side of the sync stopped because the other failed
    │   │                               (internal: the run reports the other side's error)
    │   ├── SourcesFailedError          both APIs failed in one sync: names both, Loop first
    │   └── OutcomeUnknownError         a write was sent and no answer came (5xx, timeout, reset)
    ├── StoreError                      the local mirror is unusable (migration, lock, corrupt)
    │   └── LockReleaseError            a run completed, but the store failed as it gave its run
    │                                   lock up: the lease expires by itself
    ├── LockError               exit 4  another run holds the run lock / our lease was taken over
    ├── RunInterruptedError     exit 128+signal (130 Ctrl-C, 143 SIGTERM)  the run stopped at a
    │                                   safe point on a signal; the next run resumes
    ├── RemediationError                a write could not be planned or applied safely
    └── DeliveryError                   the report could not be delivered (kept in the outbox)
        ├── ReportNotDeliveredError exit 5  the run completed, but SMTP did not take its report:
        │                                   it waits in the outbox and the next run resends it
        │                                   (refused for good: parked, ``outbox retry`` resends)
        ├── RecipientsRefusedError          the relay took a message for some recipients only
        │                                   (``deliver`` keeps it for the refused ones alone)
        ├── MailRefusedError                the relay refused a message for good (5xx to MAIL,
        │                                   RCPT or DATA): parked in the outbox's refused/
        └── MailLostError                   a message could be neither sent nor kept in the
                                            outbox; names it, and the teams whose mail went out

Bad *records* are not errors: they are quarantined with the record id, field and reason, and the
run goes on (see ``recon.models.Quarantined``).
"""

from __future__ import annotations


class ReconError(Exception):
    """Base of every error recon raises on purpose."""

    exit_code = 1


class ConfigError(ReconError):
    """A setting is missing or invalid; the message names the key and the expected value."""

    exit_code = 2


class WorldError(ReconError):
    """A sandbox world file is invalid; the message names the path of the bad field."""

    exit_code = 2


class SourceError(ReconError):
    """Talking to Loop or Shopify failed."""


class AuthError(SourceError):
    """The API refused our credentials or scopes (401, 403, ACCESS_DENIED)."""

    exit_code = 3


class RetryExhaustedError(SourceError):
    """Retriable failures (429, 5xx, timeouts, THROTTLED) outlasted the retry budget."""


class RetryBudgetExhaustedError(RetryExhaustedError):
    """One run's retries to one API outran ``[sync] retry_budget``, ``retry_budget_seconds`` or
    ``throttle_budget_seconds``."""


class FatalHTTPError(SourceError):
    """A non-retriable response: other 4xx, GraphQL validation errors, malformed bodies."""


class RequestRejectedError(FatalHTTPError):
    """Shopify rejected the whole document before running it: top-level ``errors`` and no
    ``data`` (a validation or parse error, shopify-admin-api.md §16). A mutation so answered
    wrote nothing; one answered with ``data`` beside the errors may have run."""


class CursorLoopError(SourceError):
    """A paginated endpoint returned a cursor it had already returned."""


class PagingError(SourceError):
    """A list page's ``pageInfo`` cannot be followed (``hasNextPage`` with no ``endCursor``, or
    no ``pageInfo``): the list was read in part and must not pass for the whole."""


class ThrottledError(SourceError):
    """The API throttled us and the policy chose not to wait (e.g. the wait exceeds the budget)."""


class SyncCancelledError(SourceError):
    """One side of the sync stopped reading because the other side failed (``recon.fetch.Stop``).

    Never the run's error: the sync raises the failure that stopped it, naming its API.
    """


class SourcesFailedError(SourceError):
    """Both sides of one sync failed; the message names both, Loop's first, whichever failed
    first, so the run's error does not hang on which thread lost the race.

    Its exit code is the first specific one (not 1) in that order: a refused token (3) on
    either side is the one the operator must fix.
    """

    def __init__(self, errors: list[tuple[str, ReconError]]) -> None:
        parts = [
            str(error) if str(error).startswith(side) else f"{side}: {error}"
            for side, error in errors
        ]
        super().__init__("both APIs failed: " + "; ".join(parts))
        self.errors = tuple(errors)
        specific = [e.exit_code for _, e in errors if e.exit_code != ReconError.exit_code]
        self.exit_code = specific[0] if specific else ReconError.exit_code


class OutcomeUnknownError(SourceError):
    """A write was sent but its outcome is unknown; resend only with the same idempotency key."""


class StoreError(ReconError):
    """The local mirror cannot be used."""


class LockReleaseError(StoreError):
    """A run completed but the store failed as it gave its run lock up: nothing of the run is
    lost, and its lease expires by itself (until then other runs of the shop are refused)."""


class LockError(ReconError):
    """Another run holds the run lock, or this run's lease was taken over."""

    exit_code = 4


class RunInterruptedError(ReconError):
    """The run stopped at its next safe point because the process was asked to stop (SIGINT,
    SIGTERM); the message says what was done, and the next run resumes from there.

    Its exit code is the shell's for that signal: 130 for Ctrl-C, 143 for SIGTERM.
    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class RemediationError(ReconError):
    """A remediation action could not be planned or applied safely."""


class DeliveryError(ReconError):
    """A report could not be delivered; the message stays in the outbox."""


class MailLostError(DeliveryError):
    """Messages of a run could be neither sent nor kept in the outbox: they are lost.

    ``went_out`` names the teams whose message of the same run was sent or kept (the others
    were tried all the same): a report whose finance mail went out has gone out. ``refused``
    names those of them whose message the relay refused for good (parked: it reached no one).
    """

    def __init__(
        self, message: str, went_out: tuple[str, ...] = (), refused: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.went_out = went_out
        self.refused = refused


class RecipientsRefusedError(DeliveryError):
    """The relay accepted a message for some of its recipients and refused the others.

    ``refused`` maps each refused address to the relay's answer (code, text). The message went
    to everyone else, so it must not be sent to them again: only the refused addresses wait.
    """

    def __init__(self, message: str, refused: dict[str, tuple[int, str]]) -> None:
        super().__init__(message)
        self.refused = refused

    def split(self) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
        """The refused addresses whose answer refuses for good (``permanent``: parked), and
        those refused for now (a 4xx: they wait for the next run)."""
        final = {a: answer for a, answer in self.refused.items() if permanent(answer[0])}
        return final, {a: answer for a, answer in self.refused.items() if a not in final}


def permanent(code: int, stage: str = "RCPT") -> bool:
    """Whether an SMTP reply ``code`` refuses for good: a 5xx, so resending the same message
    gets the same answer (RFC 5321 §4.2.1). A 552 to RCPT is the exception: RFC 5321
    §4.5.3.1.10 has clients read it as 452 (too many recipients, or a mailbox over quota for
    now)."""
    return 500 <= code < 600 and not (code == 552 and stage == "RCPT")


class MailRefusedError(DeliveryError):
    """The relay refused a message for good: a 5xx answer to MAIL (the sender), RCPT (every
    recipient) or DATA (its size or content). Sent again unchanged it would be refused again,
    so ``deliver`` parks it in the outbox's ``refused/`` with the answer beside it, and only
    ``outbox retry`` (after the cause is fixed) sends it again.
    """


class ReportNotDeliveredError(DeliveryError):
    """The run completed (findings, reports, remediation saved) but, in smtp mode, its report
    e-mail could not be sent: it waits in the outbox as ``.eml`` and the next run resends it.

    A distinct exit code (5) so cron notices an SMTP setup that stays broken (a changed
    password) before finance does; outbox mode never raises it (the outbox is the delivery).
    """

    exit_code = 5


def exit_code_of(exc: BaseException) -> int:
    """The exit code the CLI ends with for ``exc`` (1 for anything not recon's own error)."""
    return exc.exit_code if isinstance(exc, ReconError) else 1
