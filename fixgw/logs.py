"""How the gateway logs: one plain line per event, tracebacks without local variables.

structlog's default renderer draws tracebacks with rich and shows every frame's locals: a
password being checked, a stored hash, a client's raw bytes, and about a second of the
sequencer's time per exception. Here a traceback is the standard library's: file, line and
source, never a value.
"""

from __future__ import annotations

import structlog


def configure() -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        cache_logger_on_first_use=True,
    )
