"""Commands to and from the journal's text form: a kind name and a JSON object.

The encoding is derived from each command dataclass's own fields, worked out once per kind,
so adding a command needs no change here; enums (the fields `commands.ENUM_FIELDS` names)
are stored by value, everything else is an int, a bool, a string or a tuple of ints.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from engine.model import commands
from engine.model.commands import Command

KINDS: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(commands.Command)}


_REQUIRED = object()


def _layout(cls: type[Any]) -> tuple[tuple[str, Any, Any, dict[Any, Any] | None], ...]:
    """(field name, enum class or None, default, the enum's members by value) in declaration
    order, worked out once per kind. A field added later with a default (e.g. `operator`)
    reads from older journals as that default. Replay reads every command: a member found
    by value in a dict costs a tenth of calling the enum class."""
    out = []
    for f in dataclasses.fields(cls):
        enum = commands.ENUM_FIELDS.get(f.name)
        members = {member.value: member for member in enum} if enum is not None else None
        default = _REQUIRED if f.default is dataclasses.MISSING else f.default
        out.append((f.name, enum, default, members))
    return tuple(out)


_LAYOUTS = {cls: _layout(cls) for cls in KINDS.values()}
_BY_KIND = {name: (cls, _LAYOUTS[cls]) for name, cls in KINDS.items()}


_ENCODER = json.JSONEncoder(separators=(",", ":"))
# `raw_decode`, not `json.loads`: the latter adds two whitespace matches and two Python
# calls around it, a third of a row's decoding, and the journal writes no spaces
_DECODER = json.JSONDecoder()
_NAMES = {cls: tuple(name for name, _, _, _ in layout) for cls, layout in _LAYOUTS.items()}


def encode(command: Command) -> tuple[str, str]:
    """Keys in declaration order, so equal commands always encode to equal text. The
    engine's enums are int and str enums, which JSON writes as their plain values."""
    body = {name: getattr(command, name) for name in _NAMES[type(command)]}
    return type(command).__name__, _ENCODER.encode(body)


def decode(kind: str, body: str) -> Command:
    entry = _BY_KIND.get(kind)
    if entry is None:
        raise ValueError(f"unknown command kind {kind!r} in the journal")
    cls, layout = entry
    try:
        values, end = _DECODER.raw_decode(body)
    except json.JSONDecodeError:
        raise ValueError(f"the body of a {kind} is not JSON: {body[:40]!r}") from None
    if end != len(body) or not isinstance(values, dict):
        raise ValueError(f"the body of a {kind} is not one JSON object: {body[:40]!r}")
    fields = []
    for name, enum, default, members in layout:
        value = values.get(name, default)
        if value is _REQUIRED:
            raise KeyError(name)
        if members is not None and value is not default:
            member = members.get(value) if isinstance(value, int | str) else None
            value = member if member is not None else enum(value)  # the enum's own refusal
        elif type(value) is list:  # a tuple of ints (a mirrored depth's levels)
            value = tuple(value)
        fields.append(value)
    command: Command = cls(*fields)
    return command
