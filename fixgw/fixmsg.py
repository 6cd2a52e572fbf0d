"""Building outgoing FIX messages from plain tags and strings, and FIX timestamps.

Typed QuickFIX field objects cost far more per message than `setField(tag, str)`.
"""

from __future__ import annotations

import time

import quickfix as fix


def utc_timestamp(ns: int) -> str:
    """FIX UTCTimestamp with milliseconds, from the sequencer's nanosecond stamp."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}"


def message(msg_type: str, fields: list[tuple[int, str]]) -> fix.Message:
    msg = fix.Message()
    msg.getHeader().setField(35, msg_type)
    for tag, value in fields:
        msg.setField(tag, value)
    return msg
