"""A client's application message read from its text by one rule, before anything uses it.

QuickFIX hands the message over as text: bytes that are not UTF-8 arrive as lone
surrogates, and a length-prefixed data field (EncodedText 355, XmlData 213, ...) may hold
SOH and whole `tag=value` sequences, so splitting such a text on SOH can read fields that
were never sent. The venue uses no data field in an application message, so a message
carrying one is refused, and then splitting on SOH is exact: the first length field of a
message is always read as itself (every field before it is plain), so a message whose split
shows none has none. Every value must also be printable ASCII and short; anything else is
refused whole, with a Text that names the tag, before any value reaches the engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

MAX_VALUE_CHARS = 64  # any one value: ClOrdID, Symbol, MDReqID, ...
MAX_MESSAGE_CHARS = 4096
MAX_FIELDS = 128
_NOT_PRINTABLE_ASCII = re.compile("[^\x01\x20-\x7e]")


class Unreadable(Exception):
    """The message breaks the reading rule; the text says how, for the client."""


def data_tags(dictionary: Path) -> frozenset[int]:
    """The dictionary's data fields and the length fields that announce them (BodyLength
    apart): the tags an application message may not carry here."""
    root = ElementTree.parse(dictionary).getroot()
    return frozenset(
        int(field.attrib["number"])
        for field in root.iter("field")
        if field.attrib.get("type") in ("DATA", "LENGTH") and field.attrib.get("number") != "9"
    )


def _tag_at(raw: str, position: int) -> str:
    start = raw.rfind("\x01", 0, position) + 1
    end = raw.find("=", start, position)
    return raw[start:end] if end > start else "?"


def _plain_pairs(raw: str, refused_tags: frozenset[int]) -> list[tuple[int, str]] | None:
    """Every field of a text that keeps the rule, in one pass over its characters: what
    nearly every message is. None at the first thing the rule refuses, or that it reads
    with more care (a tag of ten digits, a field without `=`): `_checked_pairs` then reads
    the whole text again and says what is wrong, so a refusal is worded one way only."""
    pairs: list[tuple[int, str]] = []
    tag = 0
    digits = 0
    in_value = False
    value_start = 0
    for i, char in enumerate(raw):
        if char == "\x01":
            if in_value:
                if i - value_start > MAX_VALUE_CHARS or tag in refused_tags:
                    return None
                pairs.append((tag, raw[value_start:i]))
            elif digits:
                return None  # a field without `=`
            tag = digits = 0
            in_value = False
        elif char < " " or char > "~":
            return None
        elif in_value:
            continue
        elif "0" <= char <= "9" and digits < 9:
            tag = tag * 10 + (ord(char) - 48)
            digits += 1
        elif char == "=" and digits:
            in_value = True
            value_start = i + 1
        else:
            return None
    if in_value or digits:  # the last field, with no SOH after it
        if not in_value or len(raw) - value_start > MAX_VALUE_CHARS or tag in refused_tags:
            return None
        pairs.append((tag, raw[value_start:]))
    return pairs if len(pairs) <= MAX_FIELDS else None


def _checked_pairs(raw: str, refused_tags: frozenset[int]) -> list[tuple[int, str]]:
    """The rule, read field by field; raises `Unreadable` naming the first thing wrong."""
    bad = _NOT_PRINTABLE_ASCII.search(raw)
    if bad is not None:
        raise Unreadable(
            f"tag {_tag_at(raw, bad.start())} holds a character that is not printable "
            "ASCII (only bytes 0x20 to 0x7E are accepted)"
        )
    pairs: list[tuple[int, str]] = []
    for pair in raw.split("\x01"):
        if not pair:
            continue
        tag, sep, value = pair.partition("=")
        if not sep or not tag.isdigit() or len(tag) > 9:
            raise Unreadable(f"{pair[:16]!r} is not a tag=value field")
        number = int(tag)
        if number in refused_tags:
            raise Unreadable(f"tag {number} is a data field, which this venue does not accept")
        if len(value) > MAX_VALUE_CHARS:
            raise Unreadable(f"tag {number} is longer than {MAX_VALUE_CHARS} characters")
        pairs.append((number, value))
    if len(pairs) > MAX_FIELDS:
        raise Unreadable(f"the message has more than {MAX_FIELDS} fields")
    return pairs


class MessageFields:
    """A message's fields read once: `get` the last value of a tag, `all` every value of a
    tag that repeats in a group. Raises `Unreadable` for a text the venue does not read."""

    __slots__ = ("_last", "_pairs")

    def __init__(self, raw: str, refused_tags: frozenset[int]) -> None:
        if len(raw) > MAX_MESSAGE_CHARS:
            raise Unreadable(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
        pairs = _plain_pairs(raw, refused_tags)
        if pairs is None:
            pairs = _checked_pairs(raw, refused_tags)
        self._pairs = pairs
        self._last = dict(pairs)

    def get(self, tag: int) -> str | None:
        return self._last.get(tag)

    def all(self, tag: int) -> list[str]:
        return [value for t, value in self._pairs if t == tag]

    def pairs(self) -> list[tuple[int, str]]:
        """Every (tag, value) in the order of the text: a repeating group's entries."""
        return list(self._pairs)
