"""The chaos campaign accepts a failed night only when its faults explain the failure.

Dataset: the exit code and stderr a night's child process leaves (``bench/chaos_child.py``
prints ``recon failed: <class>: <message>``), and the faults the night ran under.
"""

from __future__ import annotations

from bench.chaos_nights import FAILED_LINE, judge_exit, read_failure
from recon.sandbox.faults import Faults

FIVE_XX = Faults(error_rate=0.1)
LOST_ANSWERS = Faults(drop_write_rate=0.3)


def failed(cls: str, message: str) -> str:
    return "warning: something\n" + FAILED_LINE.format(cls=cls, message=message) + "\n"


def test_a_failure_the_faults_explain_passes():
    budget = failed("RetryBudgetExhaustedError", "Shopify: retry budget of 60 s spent")
    assert judge_exit(2, budget, FIVE_XX, None) is None
    assert judge_exit(2, failed("OutcomeUnknownError", "refund sent"), LOST_ANSWERS, None) is None


def test_a_store_error_under_faults_is_a_violation_naming_it():
    stderr = failed("StoreError", "database is locked")
    why = judge_exit(2, stderr, FIVE_XX, None)
    assert why is not None and "StoreError: database is locked" in why and "error_rate" in why


def test_an_error_another_fault_explains_is_still_a_violation():
    """Lost write answers do not explain a throttle: only the fault that causes it does."""
    stderr = failed("ThrottledError", "THROTTLED past the throttle budget")
    assert judge_exit(2, stderr, LOST_ANSWERS, None) is not None
    assert judge_exit(2, stderr, Faults(throttle_storm=True), None) is None


def test_exit_2_on_a_clean_night_or_without_an_error_named_is_a_violation():
    stderr = failed("RetryExhaustedError", "Loop: 5 attempts")
    assert judge_exit(2, stderr, Faults(), None) is not None
    assert "no error named" in (judge_exit(2, "Traceback ...", FIVE_XX, None) or "")


def test_a_kill_passes_only_at_a_planned_crash_point():
    assert judge_exit(137, "", FIVE_XX, "after_send") is None
    assert judge_exit(137, "", FIVE_XX, None) is not None
    assert judge_exit(1, "Traceback ...", FIVE_XX, "after_send") is not None


def test_the_last_error_printed_is_the_runs():
    stderr = failed("ThrottledError", "first") + failed("StoreError", "second")
    failure = read_failure(stderr)
    assert failure is not None and (failure.cls, failure.message) == ("StoreError", "second")
