"""findings.json: write and read the findings contract of docs/findings.md (atomic write)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from recon.models import Finding, Severity
from recon.money import format_amount

FORMAT = "recon-findings"
# 2: ``status`` may be ``left_out`` and findings carry ``acknowledged_at`` (docs/findings.md).
VERSION = 2
READABLE_VERSIONS = frozenset({1, VERSION})  # a version 1 report (older folders) reads the same
_SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
_FIELDS = (
    "key", "category", "rma", "shopify_order_id", "shopify_order_name", "shopify_refund_ids",
    "transaction_ids", "payout_id", "sku", "location_id", "loop_line_item_ids", "amount_at_risk",
    "currency", "severity", "owner", "status", "first_seen", "last_seen", "resolved_at", "detail",
    "next_step", "acknowledged_by", "acknowledged_note", "acknowledged_at",
)  # fmt: skip


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def report_order(finding: Finding) -> tuple[int, bool, str, Decimal, str]:
    """The order findings are listed in, in ``findings.json`` and every report: severity
    (critical first), then currency (ISO code; none last), then amount at risk descending, then
    key. Amounts are only compared within one currency: recon has no exchange rates, and
    ¥3,000 is not more money at risk than $900."""
    currency = finding.currency or ""
    return (
        _SEVERITY_ORDER[finding.severity], not currency, currency, -finding.amount_at_risk,
        finding.key,
    )  # fmt: skip


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """``findings`` in ``report_order`` (deterministic: the key breaks every tie)."""
    return sorted(findings, key=report_order)


def finding_json(finding: Finding) -> dict[str, Any]:
    """One finding as findings.json lists it (docs/findings.md), also ``findings list --json``."""
    data = finding.model_dump(mode="python")
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = data[name]
        if name == "amount_at_risk":
            value = format_amount(value, finding.currency) if finding.currency else f"{value:f}"
        elif isinstance(value, datetime) or name.endswith(("_seen", "_at")):
            value = _when(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "value"):
            value = value.value
        out[name] = value
    return out


def write_findings_json(
    path: Path, findings: list[Finding], *, shop: str, run_id: str, as_of: datetime
) -> None:
    """Write findings.json atomically (temp file in the same directory, then rename).

    Raises:
        OSError: if the directory is not writable; the previous file is left intact.
    """
    document = {
        "format": FORMAT, "version": VERSION, "shop": shop, "run_id": run_id,
        "as_of": _when(as_of), "findings": [finding_json(f) for f in sort_findings(findings)],
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_findings_json(path: Path) -> tuple[dict[str, Any], list[Finding]]:
    """Read findings.json back: (header without findings, findings).

    Raises:
        ValueError: if the file is not a recon findings document of a known version.
        OSError: if the file cannot be read.
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != FORMAT or document.get("version") not in READABLE_VERSIONS:
        known = " or ".join(f"v{v}" for v in sorted(READABLE_VERSIONS))
        raise ValueError(f"{path} is not a {FORMAT} {known} document")
    findings = [
        Finding.model_validate({**item, "amount_at_risk": Decimal(item["amount_at_risk"])})
        for item in document["findings"]
    ]
    header = {k: v for k, v in document.items() if k != "findings"}
    return header, findings
