"""The remediation modes, apart from the settings' models: ``run --mode`` takes one, and the
command line is built (``--help`` answered, a bad argument refused) without loading pydantic."""

from __future__ import annotations

from enum import StrEnum


class RemediationMode(StrEnum):
    PLAN = "plan"
    APPROVAL = "approval"
    APPLY = "apply"
