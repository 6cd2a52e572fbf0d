"""The link's reconnection back-off: the pure policy over QuickFIX's fixed retry."""

from __future__ import annotations

from fixgw.affiliates.reconnect import GRACE, MAX_WAIT, Reconnect, Step


def test_each_try_that_ends_in_no_logon_doubles_the_wait_up_to_the_cap() -> None:
    policy = Reconnect(5.0)
    now = 0.0
    assert policy.step(now, logged_on=False) is Step.TRY
    waits = []
    for _ in range(6):
        now += 5.0 + GRACE  # one retry interval and the grace: no logon came of it
        assert policy.step(now, logged_on=False) is Step.PAUSE
        paused_at = now
        while policy.step(now, logged_on=False) is not Step.TRY:
            now += 0.5
        waits.append(now - paused_at)
    assert waits == [10.0, 20.0, 40.0, MAX_WAIT, MAX_WAIT, MAX_WAIT]
    assert policy.failures == 6


def test_a_try_is_given_one_interval_and_the_grace_before_it_counts_as_failed() -> None:
    policy = Reconnect(5.0)
    assert policy.step(0.0, logged_on=False) is Step.TRY
    assert policy.step(5.0 + GRACE - 0.1, logged_on=False) is Step.STAY
    assert policy.step(5.0 + GRACE, logged_on=False) is Step.PAUSE


def test_a_logon_starts_it_over_and_a_drop_is_tried_again_at_once() -> None:
    policy = Reconnect(5.0)
    policy.step(0.0, logged_on=False)
    policy.step(7.0, logged_on=False)  # paused, 10 s
    assert policy.step(8.0, logged_on=True) is Step.STAY  # the retry already under way won
    assert policy.failures == 0
    assert policy.step(9.0, logged_on=False) is Step.TRY  # dropped: try again now
