"""Logon password checks: a remembered password spares scrypt, wrong ones back off, and
nothing but the right password ever passes."""

from __future__ import annotations

from fixgw.roster import LogonCheck, hash_password, verify_password

S = 10**9
STORED = hash_password("s3cret")


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
    assert [check.refusal("s3cret", STORED) for _ in range(3)] == [None, None, None]
    assert scrypt.calls == 1


def test_after_a_wrong_password_others_wait_a_second_then_are_checked_again() -> None:
    check, scrypt, clock = checker()
    assert check.refusal("guess", STORED) == "wrong password"
    assert check.refusal("s3cret", STORED) == (
        "too many wrong passwords (1 in a row): try again in 1 s"
    )
    assert scrypt.calls == 1  # refused unchecked
    clock.now += S
    assert check.refusal("s3cret", STORED) is None
    assert scrypt.calls == 2


def test_wrong_passwords_in_a_row_double_the_wait_up_to_a_minute() -> None:
    check, scrypt, clock = checker()
    waits = []
    for _ in range(9):
        assert check.refusal("guess", STORED) == "wrong password"
        refusal = check.refusal("guess", STORED) or ""
        waits.append(int(refusal.rsplit("in ", 1)[1].removesuffix(" s")))
        clock.now += waits[-1] * S
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert scrypt.calls == 9
    assert check.refusal("s3cret", STORED) is None
    assert check.refusal("guess", STORED) == "wrong password"  # the count started again
    assert check.refusal("guess", STORED) == (
        "too many wrong passwords (1 in a row): try again in 1 s"
    )


def test_a_remembered_password_gets_in_while_others_wait() -> None:
    check, scrypt, _ = checker()
    assert check.refusal("s3cret", STORED) is None
    assert check.refusal("guess", STORED) == "wrong password"
    assert check.refusal("guess", STORED) is not None
    assert check.refusal("s3cret", STORED) is None
    assert check.refusal("guess", STORED) == "wrong password"  # the right one reset the wait
    assert scrypt.calls == 3


def test_a_remembered_password_is_tied_to_the_hash_it_matched() -> None:
    """Another participant, or a new hash after a password change, is checked afresh."""
    check = LogonCheck()
    other = hash_password("s3cret")
    assert check.refusal("s3cret", STORED) is None
    assert check.refusal("s3cret", other) is None  # same password, its own salt and scrypt
    assert check.refusal("s3cret", hash_password("rotated")) == "wrong password"
    assert check.refusal("s3cret", "not-a-hash") == "wrong password"
