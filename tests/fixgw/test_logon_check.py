"""Logon password checks: a remembered password spares scrypt, a repeated wrong one costs
nothing, new wrong ones back off per source address, and only the right password passes."""

from __future__ import annotations

from fixgw.roster import LogonCheck, hash_password, verify_password

S = 10**9
STORED = hash_password("s3cret")
HERE, THERE = "10.0.0.1", "10.0.0.2"


class CountingScrypt:
    """The real scrypt check, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: str, stored: str) -> bool:
        self.calls += 1
        return verify_password(password, stored)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * S

    def __call__(self) -> int:
        return self.now


def checker() -> tuple[LogonCheck, CountingScrypt, Clock]:
    scrypt, clock = CountingScrypt(), Clock()
    return LogonCheck(scrypt, clock), scrypt, clock


def test_the_right_password_is_checked_with_scrypt_once_then_remembered() -> None:
    check, scrypt, _ = checker()
    assert [check.refusal("s3cret", STORED, HERE) for _ in range(3)] == [None, None, None]
    assert scrypt.calls == 1


def test_a_repeated_wrong_password_is_refused_without_scrypt_and_delays_no_one() -> None:
    check, scrypt, _ = checker()
    assert [check.refusal("stale", STORED, THERE) for _ in range(5)] == ["wrong password"] * 5
    assert scrypt.calls == 1
    assert check.refusal("s3cret", STORED, HERE) is None  # a fresh gateway: checked, passes


def test_three_new_wrong_passwords_make_new_ones_from_that_address_wait() -> None:
    check, scrypt, _ = checker()
    for guess in ("guess1", "guess2", "guess3"):
        assert check.refusal(guess, STORED, HERE) == "wrong password"
    assert check.refusal("s3cret", STORED, HERE) == (
        "too many wrong passwords from 10.0.0.1 (3 in a row): try again in 1 s"
    )
    assert scrypt.calls == 3  # refused unchecked
    assert check.refusal("s3cret", STORED, THERE) is None  # elsewhere: not affected
    assert scrypt.calls == 4


def test_one_or_two_wrong_passwords_keep_no_one_out() -> None:
    check, _, _ = checker()
    assert check.refusal("typo", STORED, HERE) == "wrong password"
    assert check.refusal("other", STORED, HERE) == "wrong password"
    assert check.refusal("s3cret", STORED, HERE) is None


def test_new_wrong_passwords_in_a_row_double_the_wait_up_to_a_minute() -> None:
    check, scrypt, clock = checker()
    assert check.refusal("free1", STORED, HERE) == check.refusal("free2", STORED, HERE)
    waits = []
    for attempt in range(9):
        assert check.refusal(f"guess{attempt}", STORED, HERE) == "wrong password"
        refusal = check.refusal("another", STORED, HERE) or ""
        waits.append(int(refusal.rsplit("in ", 1)[1].removesuffix(" s")))
        clock.now += waits[-1] * S
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert scrypt.calls == 11
    assert check.refusal("s3cret", STORED, HERE) is None
    for guess in ("again1", "again2", "again3"):  # the count started again
        assert check.refusal(guess, STORED, HERE) == "wrong password"
    assert check.refusal("again4", STORED, HERE) == (
        "too many wrong passwords from 10.0.0.1 (3 in a row): try again in 1 s"
    )


def test_a_remembered_password_gets_in_while_others_wait() -> None:
    check, scrypt, clock = checker()
    assert check.refusal("s3cret", STORED, HERE) is None
    for guess in ("guess1", "guess2", "guess3"):
        assert check.refusal(guess, STORED, HERE) == "wrong password"
    assert check.refusal("guess4", STORED, HERE) is not None
    assert check.refusal("s3cret", STORED, HERE) is None
    clock.now += S  # the venue's checks come back, the address's wait does not
    assert check.refusal("guess5", STORED, HERE) == "wrong password"  # the wait was reset
    assert scrypt.calls == 5


def test_a_remembered_password_is_tied_to_the_hash_it_matched() -> None:
    """Another participant, or a new hash after a password change, is checked afresh."""
    check = LogonCheck()
    other = hash_password("s3cret")
    assert check.refusal("s3cret", STORED, HERE) is None
    assert check.refusal("s3cret", other, HERE) is None  # same password, its own salt and scrypt
    assert check.refusal("s3cret", hash_password("rotated"), HERE) == "wrong password"
    assert check.refusal("s3cret", "not-a-hash", THERE) == "wrong password"


def test_a_password_that_does_not_encode_is_simply_wrong() -> None:
    assert verify_password("s\udcff", STORED) is False


def test_new_passwords_are_checked_at_most_four_a_second_venue_wide() -> None:
    check, scrypt, clock = checker()
    answers = [check.refusal(f"guess{i}", STORED, f"10.0.1.{i}") for i in range(18)]
    busy = "too many logons being checked: try again in 1 s"
    assert answers == ["wrong password"] * 16 + [busy] * 2
    assert scrypt.calls == 16
    assert check.refusal("s3cret", STORED, HERE) == busy  # a first logon waits too
    clock.now += S // 4  # one check back
    assert check.refusal("s3cret", STORED, HERE) is None
    assert check.refusal("s3cret", STORED, HERE) is None  # remembered: needs no check
    assert scrypt.calls == 17
