"""What every operator request is answered with: a JSON object the CLI shows as a table
and scripts read with `--json`."""

from __future__ import annotations

from typing import Any

Answer = dict[str, Any]


def ok(message: str = "", rows: list[dict[str, Any]] | None = None) -> Answer:
    return {"ok": True, "message": message, "rows": rows or []}
