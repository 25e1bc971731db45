"""Build pydantic model trees from generator dicts without validation (fast, dump-identical)."""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

Json = dict[str, Any]


@dataclass(frozen=True)
class _Plan:
    """How to build one model class without validation: defaults, enums, nested models."""

    template: dict[str, Any]  # every field in declaration order, with its default (or None)
    factories: tuple[tuple[str, Callable[[], Any]], ...]
    enums: tuple[tuple[str, type[Enum]], ...]
    nested: tuple[tuple[str, type[BaseModel], bool], ...]  # (name, model, is a list)


@cache
def _plan(cls: type[BaseModel]) -> _Plan:
    template: dict[str, Any] = {}
    factories, enums, nested = [], [], []
    for name, info in cls.model_fields.items():
        template[name] = None if info.default is PydanticUndefined else info.default
        if info.default_factory is not None:
            factories.append((name, info.default_factory))
        args = typing.get_args(info.annotation)
        many = typing.get_origin(info.annotation) is list and bool(args)
        inner = args[0] if many else info.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            nested.append((name, inner, many))
        elif isinstance(inner, type) and issubclass(inner, Enum):
            enums.append((name, inner))
    return _Plan(template, tuple(factories), tuple(enums), tuple(nested))  # type: ignore[arg-type]


def construct(cls: type[BaseModel], data: Json) -> Any:
    """Build a model tree from generator dicts without validating.

    Validating a 100,000-return world costs ~40 s; building it this way ~3 s. The generator's
    output is proven valid by tests that dump and re-load (validate) its worlds.
    """
    plan = _plan(cls)
    values = dict(plan.template)
    values.update(data)  # existing keys keep declaration order, so dumps match validated models
    for name, factory in plan.factories:
        if name not in data:
            values[name] = factory()
    for name, enum in plan.enums:
        if values[name] is not None:
            values[name] = enum(values[name])
    for name, model, many in plan.nested:
        value = values[name]
        if many:
            values[name] = [construct(model, item) for item in value]
        elif isinstance(value, dict):
            values[name] = construct(model, value)
    # What ``model_construct`` does for a model without extras or private attributes, minus its
    # per-field Python loop (5x faster on 300,000 records).
    record = object.__new__(cls)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", set(data))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record
