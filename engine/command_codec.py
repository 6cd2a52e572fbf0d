"""Commands to and from the journal's text form: a kind name and a JSON object.

The encoding is derived from each command dataclass's own fields and type hints, so adding
a command needs no change here; enums are stored by value, everything else is an int, a
bool or a string. JSON keys are sorted so the same command always has the same text.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from enum import Enum
from typing import Any

from engine import commands
from engine.commands import Command

KINDS: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(commands.Command)}
_FIELD_TYPES: dict[type[Any], dict[str, Any]] = {
    cls: typing.get_type_hints(cls) for cls in KINDS.values()
}


def encode(command: Command) -> tuple[str, str]:
    body = {
        f.name: (v.value if isinstance(v, Enum) else v)
        for f in dataclasses.fields(command)
        for v in (getattr(command, f.name),)
    }
    return type(command).__name__, json.dumps(body, sort_keys=True, separators=(",", ":"))


def decode(kind: str, body: str) -> Command:
    cls = KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown command kind {kind!r} in the journal")
    types = _FIELD_TYPES[cls]
    values = json.loads(body)
    args = {}
    for name, value in values.items():
        field_type = types[name]
        args[name] = (
            field_type(value)
            if isinstance(field_type, type) and issubclass(field_type, Enum)
            else value
        )
    command: Command = cls(**args)
    return command
