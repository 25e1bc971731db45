"""config/recon.example.toml documents every setting recon reads, and only those.

The example is what an integration engineer copies: a key missing from it is a setting nobody
finds; a key the models do not have is refused as unknown (exit 2) the day someone uncomments
it; a default the comment names that the code does not use is a wrong promise. Commented-out
keys (``# key = value``) count: they are documented, just not switched on.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from recon.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "recon.example.toml"
_COMMENTED_KEY = re.compile(r"^# (?=[a-z_]+ = )", re.MULTILINE)
# Commented-out keys whose value is an example of what to set, not what recon uses when unset.
NOT_DEFAULTS = {
    "shop.base_url",
    "sandbox.world",
    "sandbox.returns",
    "engine.rma_patterns",
    "remediation.max_daily_total",
    "remediation.max_daily_count",
    "delivery.smtp.ca_file",
}


def _uncommented() -> str:
    return _COMMENTED_KEY.sub("", EXAMPLE.read_text(encoding="utf-8"))


def _commented_keys() -> set[str]:
    """Dotted names of the keys the example shows commented out."""
    keys, section = set(), ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[([a-z_.]+)\]", line)
        if header:
            section = header.group(1)
        key = re.match(r"^# ([a-z_]+) = ", line)
        if key:
            keys.add(f"{section}.{key.group(1)}")
    return keys


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted names of every setting, descending into sections (tables of values are leaves)."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _model_keys(annotation, key + ".")
        else:
            keys.add(key)
    return keys


def _file_keys(table: dict[str, Any], model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    for name, value in table.items():
        field = fields.get(name)
        annotation = field.annotation if field is not None else None
        section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if isinstance(value, dict) and section:
            keys |= _file_keys(value, annotation, prefix + name + ".")  # type: ignore[arg-type]
        else:
            keys.add(prefix + name)
    return keys


def _default(key: str) -> Any:
    node: Any = Settings()
    for part in key.split("."):
        node = getattr(node, "schema_" if part == "schema" else part)
    return node


def test_every_setting_is_in_the_example_and_every_example_key_is_a_setting() -> None:
    documented = _file_keys(tomllib.loads(_uncommented()), Settings)
    settings = _model_keys(Settings)
    assert sorted(settings - documented) == [], "settings the example does not document"
    assert sorted(documented - settings) == [], "example keys recon does not read"


def test_the_example_with_every_commented_key_switched_on_loads(tmp_path: Path) -> None:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir()
    path.write_text(_uncommented(), encoding="utf-8")
    assert load_settings(path).shop.base_url == "https://acme.myshopify.com"


@pytest.mark.parametrize("key", sorted(_commented_keys() - NOT_DEFAULTS))
def test_a_commented_out_key_shows_the_default_recon_uses(key: str) -> None:
    """``# seed = 7`` reads as "unset, recon uses 7"."""
    shown = tomllib.loads(_uncommented())
    for part in key.split("."):
        shown = shown[part]
    assert str(_default(key)) == str(shown)


def _named_defaults() -> list[tuple[str, str]]:
    """``(key, value)`` for each key whose comment names its default: ``default UTC``,
    ``plan (default)``."""
    named, section = [], ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[([a-z_.]+)\]", line)
        if header:
            section = header.group(1)
        found = re.match(r"^(?:# )?([a-z_]+) = .*?#(.*)$", line)
        if not found:
            continue
        comment = found.group(2)
        value = re.search(r"\bdefault:? ([\w./:<>-]+)", comment) or re.search(
            r"([\w./-]+) \(default\)", comment
        )
        if value and "<" not in value.group(1):
            named.append((f"{section}.{found.group(1)}", value.group(1).strip('":.,;')))
    return named


def test_the_example_names_some_defaults() -> None:
    assert len(_named_defaults()) >= 4  # the parser below still finds what it checks


@pytest.mark.parametrize(("key", "value"), _named_defaults())
def test_a_default_the_example_names_is_the_one_recon_uses(key: str, value: str) -> None:
    default = _default(key)
    assert str(getattr(default, "value", default)) == value
