"""The one reading rule for a client's message text (pure logic: no QuickFIX here)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.fix.text import (
    MAX_VALUE_CHARS,
    MessageFields,
    Unreadable,
    _checked_pairs,
    _plain_pairs,
    data_tags,
)
from tests.support.launch import REPO

DATA_TAGS = data_tags(REPO / "spec" / "FIX44.xml")
PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=64)
PLAIN_TAGS = st.integers(1, 99_999).filter(lambda t: t not in DATA_TAGS)


def text(fields: list[tuple[int, str]]) -> str:
    return "".join(f"{tag}={value}\x01" for tag, value in fields)


def test_the_dictionarys_data_fields_and_their_lengths_are_refused_but_not_body_length() -> None:
    assert {89, 90, 91, 93, 95, 96, 212, 213, 354, 355, 618, 619} <= DATA_TAGS
    assert 9 not in DATA_TAGS


@given(st.lists(st.tuples(PLAIN_TAGS, PRINTABLE), max_size=40))
def test_printable_fields_read_back_exactly(fields: list[tuple[int, str]]) -> None:
    read = MessageFields(text(fields), DATA_TAGS)
    assert _plain_pairs(text(fields), DATA_TAGS) is not None  # in one pass
    for tag in {t for t, _ in fields}:
        values = [v for t, v in fields if t == tag]
        assert read.all(tag) == values
        assert read.get(tag) == values[-1]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("35=D\x0111=ok\x01354=3\x01355=a\x0149=X\x01", "tag 354 is a data field"),
        ("35=D\x01212=9\x01213=<x>\x01abc\x01", "tag 212 is a data field"),
        ("35=D\x0111=\udcff\udcfe\x01", "tag 11 holds a character that is not printable ASCII"),
        ("35=D\x0155=BTC\x7f\x01", "tag 55 holds a character that is not printable ASCII"),
        ("35=D\x0111=é\x01", "tag 11 holds a character"),
        ("35=D\x01" + "11=" + "x" * 65 + "\x01", f"tag 11 is longer than {MAX_VALUE_CHARS}"),
        ("35=D\x01abc=1\x01", "'abc=1' is not a tag=value field"),
        ("35=D\x01novalue\x01", "'novalue' is not a tag=value field"),
        ("35=D\x01" + "58=x\x01" * 200, "more than 128 fields"),
        ("35=D\x01" + "58=" + "x" * 5000 + "\x01", "longer than 4096 characters"),
    ],
)
def test_texts_the_venue_does_not_read_are_refused_with_the_tag_named(raw: str, says: str) -> None:
    with pytest.raises(Unreadable) as refused:
        MessageFields(raw, DATA_TAGS)
    assert says in str(refused.value)


def test_a_value_of_exactly_the_bound_is_read() -> None:
    assert MessageFields(text([(11, "x" * MAX_VALUE_CHARS)]), DATA_TAGS).get(11) == "x" * 64


FIELD_TEXT = st.text(alphabet="0123456789=\x01aZ~ \x7f\x00é", max_size=40)
FIELDISH = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 10**10), st.text(alphabet="ab=~ 9", max_size=70)).map(
            lambda pair: f"{pair[0]}={pair[1]}\x01"
        ),
        FIELD_TEXT,
    ),
    max_size=12,
).map("".join)


@given(st.one_of(FIELD_TEXT, FIELDISH), st.sampled_from([DATA_TAGS, frozenset()]))
def test_the_one_pass_reader_agrees_with_the_rule_field_by_field(
    raw: str, refused: frozenset[int]
) -> None:
    """Whatever the text, the fast reader gives the rule's fields or leaves the text to
    the rule, which then refuses it: it never reads what the rule would not."""
    fast = _plain_pairs(raw, refused)
    try:
        checked = _checked_pairs(raw, refused)
    except Unreadable:
        assert fast is None
        return
    assert fast is None or fast == checked
