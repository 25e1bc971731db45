"""Loading settings: the TOML file and the environment, and errors that name the key at fault.

``recon.config.load_settings`` is the entry point; the models and their checks are in
``recon.config``. Errors never echo a value that may be a secret.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from recon.config import _ENV_PREFIX, DEFAULT_CONFIG, Settings
from recon.errors import ConfigError

# Keys whose bad values are never echoed in an error (a secret pasted in the wrong place, a
# password inside a database URL).
_HIDDEN_KEYS = re.compile(r"(_env|token|password|secret|api_key|url)$", re.IGNORECASE)
_SHOWN_MAX = 80


def _shown(key: str, value: Any) -> str:
    """The bad value for an error message, unless it may be a secret (then only its kind)."""
    if _HIDDEN_KEYS.search(key) or isinstance(value, (dict, list, tuple)):
        return "value not shown"  # a table or list may hold a secret a level down
    shown = repr(value)
    return f"got {shown}" if len(shown) <= _SHOWN_MAX else "a long value, not shown"


def _format_location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def load(path: Path | None = None) -> Settings:
    """Load settings from a TOML file (default ``config/recon.toml``) and the environment.

    Raises:
        ConfigError: the file is missing, unreadable or not TOML, or a key is unknown or has a
            bad value; the message names the key and what was expected.
    """
    path = path or Path(os.environ.get("RECON_CONFIG", DEFAULT_CONFIG))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:  # a directory, no permission, not UTF-8
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    _check_env_sections()
    try:
        settings = Settings(**_env_tables_over_defaults(data))
    except SettingsError as exc:  # an environment value that is not JSON where a table is due
        raise ConfigError(_env_unreadable(str(exc))) from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:10]:
            key = _format_location(error["loc"])
            problems.append(_problem(key, error, _env_source(error["loc"])))
        raise ConfigError(f"{path}: invalid settings:\n  " + "\n  ".join(problems)) from None
    return _resolve_paths(settings, _project(path))


# Tables of currency = amount: the environment sets one currency's value
# (RECON_REMEDIATION__MAX_REFUND_AMOUNT__EUR) or several (a JSON table) over the others'; an
# empty JSON table ('{}') clears the table, as an empty table in the file does: no currency
# named, so for max_refund_amount and max_run_total every refund goes to review, and for
# max_daily_total (empty by default) no daily limit applies.
# Not [delivery.recipients]: its default is a placeholder (finance@example.com), which an
# address set from the environment must not keep.
_MERGED_TABLES = (
    ("remediation", "max_refund_amount"),
    ("remediation", "max_run_total"),
    ("remediation", "max_daily_total"),
)


def _env_tables_over_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (the file's settings) with the default of each currency table the file leaves
    unset and the environment sets, so the environment's currencies join the defaults; and
    with an empty table for each the environment sets to an empty JSON table, so it clears the
    file's and the default's currencies.

    pydantic-settings merges an environment table into the file's key by key, but into nothing
    when the file has none: ``..._AMOUNT__EUR`` alone dropped the USD default, and every USD
    refund went to review. Merged key by key, ``'{}'`` changed nothing: a merchant could not
    turn the USD default off from the environment.
    """
    names = _env_names()
    for section, key in _MERGED_TABLES:
        table = data.get(section, {})
        if not isinstance(table, dict):
            continue  # a bad section: its own error names it
        if _env_clears(names, section, key):
            data = {**data, section: {**table, key: {}}}
            continue
        if key in table:
            continue  # the file's own table, merged with the environment's
        variable = f"{_ENV_PREFIX}{section}__{key}".upper()
        whole_section = f"{_ENV_PREFIX}{section}".upper()
        if not any(
            name in (variable, whole_section) or name.startswith(variable + "__") for name in names
        ):
            continue
        model: Any = Settings.model_fields[section].annotation
        default = model.model_fields[key].get_default(call_default_factory=True)
        if default:
            data = {**data, section: {**table, key: dict(default)}}
    return data


def _env_clears(names: dict[str, str], section: str, key: str) -> bool:
    """Whether the environment sets ``[section] key`` to an empty JSON table: by its own
    variable (``RECON_REMEDIATION__MAX_REFUND_AMOUNT='{}'``) or inside the section's
    (``RECON_REMEDIATION='{"max_refund_amount": {}}'``). A value that is not JSON is left to
    pydantic-settings, whose error names the variable."""
    variable = names.get(f"{_ENV_PREFIX}{section}__{key}".upper())
    if variable is not None and _json(os.environ[variable]) == {}:
        return True
    whole = names.get(f"{_ENV_PREFIX}{section}".upper())
    table = _json(os.environ[whole]) if whole is not None else None
    return isinstance(table, dict) and table.get(key, None) == {}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _project(path: Path) -> Path:
    """The directory relative paths of the settings file at ``path`` start from: the project
    (the parent of its ``config/``), however the file was named.

    `--config recon.toml` from inside config/ names a parent "" (so the path is made absolute
    first). The project's ``config/recon.toml`` may be a link out (a Kubernetes ConfigMap's
    ``..data/recon.toml``, or ``/etc/recon/acme.toml``): its own place decides, not its target's.
    A link elsewhere to a project's ``config/recon.toml`` finds the project by the target.
    Otherwise the file's own directory.
    """
    named = Path(os.path.abspath(path))  # noqa: PTH100 - lexical: ".." resolved, links kept
    for candidate in (named, path.resolve()):
        if candidate.parent.name == "config":
            return candidate.parent.parent
    return named.parent


def _problem(key: str, error: Any, source: str) -> str:
    """One line of a ``ValidationError``: the key, what is wrong and what was expected, and
    ``source`` (the environment variable it came from, if any)."""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key{source}{_did_you_mean(error['loc'])}"
    if not key:  # a check across sections names its keys itself
        return f"{message}{source}"
    return f"{key}: {message} ({_shown(key, error.get('input'))}){source}"


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    """`` (did you mean lookback_hours?)`` for a misspelt key, naming the closest key of its
    section, or ``''`` when none is close."""
    model: Any = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""  # inside a table of values (a currency, a team): no fixed keys
        model = annotation
    names = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _env_names() -> dict[str, str]:
    """The environment's ``RECON_`` variables, upper-cased name → name as set."""
    return {name.upper(): name for name in os.environ if name.upper().startswith(_ENV_PREFIX)}


def _check_env_sections() -> None:
    """Refuse ``RECON_<SECTION>__<KEY>`` naming no section, and ``RECON_<SECTION>_<KEY>`` (one
    underscore) naming a key of its section: pydantic-settings ignores both, without a word.

    Raises:
        ConfigError: naming the variable and the sections there are, or the spelling meant.
    """
    sections = set(Settings.model_fields)
    for upper, name in sorted(_env_names().items()):
        section = upper.removeprefix(_ENV_PREFIX).split("__", 1)[0].lower()
        if "__" in upper and section not in sections:
            raise ConfigError(
                f"environment variable {name}: unknown section {section!r} "
                f"(expected RECON_<SECTION>__<KEY>, a section one of {', '.join(sorted(sections))})"
            )
        meant = _one_underscore(upper) if "__" not in upper else None
        if meant is not None:
            raise ConfigError(
                f"environment variable {name}: recon reads this setting as {meant} (two "
                "underscores after the section); as written it is ignored"
            )


def _one_underscore(upper: str) -> str | None:
    """``RECON_STORE__URL`` for ``RECON_STORE_URL``: a section, one underscore and one of its
    keys (the secrets' variables, e.g. ``RECON_LOOP_API_KEY``, name no key), else None."""
    rest = upper.removeprefix(_ENV_PREFIX).lower()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not rest.startswith(section + "_") or not isinstance(model, type):
            continue
        if not issubclass(model, BaseModel):
            continue
        key = rest.removeprefix(section + "_")
        if key in {f.alias or k for k, f in model.model_fields.items()}:
            return f"{_ENV_PREFIX}{section.upper()}__{key.upper()}"
    return None


def _env_source(loc: tuple[Any, ...]) -> str:
    """`` (environment variable RECON_...)`` when the bad key's value came from one, else ''."""
    names = _env_names()
    for end in range(len(loc), 0, -1):
        name = names.get(_ENV_PREFIX + "__".join(str(part) for part in loc[:end]).upper())
        if name is not None:
            return f" (environment variable {name})"
    return ""


def _env_unreadable(detail: str) -> str:
    """The message for an environment value pydantic-settings could not decode."""
    found = re.search(r'field "(\w+)"', detail)
    section = (found.group(1) if found else "").upper()
    names = [
        name
        for upper, name in sorted(_env_names().items())
        if section
        and (upper == _ENV_PREFIX + section or upper.startswith(f"{_ENV_PREFIX}{section}__"))
    ]
    return (
        f"environment variable {' or '.join(names) or 'RECON_...'}: cannot be read as settings "
        f"(a table or list is written as JSON, e.g. "
        f'RECON_REMEDIATION__MAX_REFUND_AMOUNT=\'{{"USD": "500.00"}}\')'
    )


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make relative paths in the file relative to the project directory holding ``config/``."""

    def fix(value: Path) -> Path:
        return value if value.is_absolute() else base / value

    if settings.sandbox.world is not None:
        settings.sandbox.world = fix(settings.sandbox.world)
    settings.delivery.outbox_dir = fix(settings.delivery.outbox_dir)
    settings.reports.dir = fix(settings.reports.dir)
    if settings.delivery.smtp.ca_file is not None:
        settings.delivery.smtp.ca_file = fix(settings.delivery.smtp.ca_file)
    relative = sqlite_file(settings.store.url)
    if relative is not None and not relative[1].is_absolute():
        head, path, tail = relative
        settings.store.url = f"{head}{fix(path)}{tail}"
    return settings


# An SQLite URL naming a file, whatever driver it names (``sqlite+pysqlite:///``): a relative
# path is the project's, wherever the command starts (a cron run from $HOME and a run by hand
# must open one mirror, one ledger). Not ``:memory:`` or a ``file:`` URI (``?uri=true``).
_SQLITE_FILE = re.compile(
    r"^(sqlite(?:\+\w+)?:///)(?!:memory:|file:)([^?]+)(\?.*)?$", re.IGNORECASE
)


def sqlite_file(url: str) -> tuple[str, Path, str] | None:
    """(scheme and slashes, file path, query) of an SQLite URL naming a file, else None."""
    match = _SQLITE_FILE.match(url)
    if match is None:
        return None
    return match.group(1), Path(match.group(2)), match.group(3) or ""
