"""The remediation modes, apart from the settings' models: ``run --mode`` takes one, and the
command line is built (``--help`` answered, a bad argument refused) without loading pydantic."""

from __future__ import annotations

from enum import StrEnum


class RemediationMode(StrEnum):
    PLAN = "plan"
    APPROVAL = "approval"
    APPLY = "apply"

    def covering(self) -> tuple[RemediationMode, ...]:
        """The modes a run does at least what a run in this mode does in: plan < approval <
        apply (plan writes nothing; approval writes what was approved; apply writes what policy
        allows too). A night the schedule runs in apply is not run by a ``run --mode plan``
        preview: the refunds and restocks it would have made were not made."""
        order = tuple(RemediationMode)  # declared weakest first
        return order[order.index(self) :]
