"""Reading and writing world files and their ground truth beside them (``docs/world-format.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from recon.errors import WorldError
from recon.sandbox.world import World


def _error_path(error: Any) -> str:
    parts: list[str] = []
    for item in error["loc"]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(root)"


def parse_world(data: Any, *, source: str = "world") -> World:
    """Validate a decoded world document.

    Raises:
        WorldError: naming the path of the first bad fields and what was expected.
    """
    try:
        return World.model_validate(data)
    except ValidationError as exc:
        lines = [f"{_error_path(e)}: {e['msg']}" for e in exc.errors()[:10]]
        more = exc.error_count() - len(lines)
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        raise WorldError(
            f"{source} is not a valid world:\n  " + "\n  ".join(lines) + suffix
        ) from None


def load_world(path: Path) -> World:
    """Read and validate a world file.

    Raises:
        WorldError: if the file is missing, not JSON, or invalid (with the bad field's path).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorldError(
            f"{path} is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return parse_world(data, source=str(path))


def dump_world(world: World, path: Path) -> None:
    """Write a world file (compact JSON; amounts and ids as strings)."""
    path.write_text(world.model_dump_json(exclude_defaults=False), encoding="utf-8")


def truth_path(world_path: Path) -> Path:
    """Where a world's ground truth lives: ``x.json`` → ``x.truth.json``."""
    return world_path.with_name(world_path.stem + ".truth.json")
