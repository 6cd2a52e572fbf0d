"""FIX timestamps from the sequencer's nanosecond stamps."""

from fixgw.fix.messages import utc_timestamp


def test_timestamps_of_one_second_share_its_text_but_keep_their_milliseconds() -> None:
    assert utc_timestamp(1_763_800_000_123_456_789) == "20251122-08:26:40.123"
    assert utc_timestamp(1_763_800_000_999_999_999) == "20251122-08:26:40.999"
    assert utc_timestamp(1_763_800_001_000_000_000) == "20251122-08:26:41.000"
    assert utc_timestamp(1_763_800_000_000_000_001) == "20251122-08:26:40.000"


def test_a_timestamp_crosses_midnight_and_the_epoch_is_not_special() -> None:
    assert utc_timestamp(1_763_855_999_999_000_000) == "20251122-23:59:59.999"
    assert utc_timestamp(1_763_856_000_000_000_000) == "20251123-00:00:00.000"
    assert utc_timestamp(0) == "19700101-00:00:00.000"
