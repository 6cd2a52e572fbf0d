"""Logon password checks: a remembered password spares scrypt, and nothing else passes."""

from __future__ import annotations

from fixgw.roster import LogonCheck, hash_password, verify_password


class CountingScrypt:
    """The real scrypt check, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: str, stored: str) -> bool:
        self.calls += 1
        return verify_password(password, stored)


def test_the_right_password_is_checked_with_scrypt_once_then_remembered() -> None:
    scrypt = CountingScrypt()
    check = LogonCheck(scrypt)
    stored = hash_password("s3cret")
    assert check("s3cret", stored) and check("s3cret", stored) and check("s3cret", stored)
    assert scrypt.calls == 1


def test_a_wrong_password_never_passes_and_always_pays_for_scrypt() -> None:
    scrypt = CountingScrypt()
    check = LogonCheck(scrypt)
    stored = hash_password("s3cret")
    assert not check("guess", stored)
    assert check("s3cret", stored)
    assert not check("guess", stored)
    assert not check("s3cret ", stored)
    assert not check("", stored)
    assert scrypt.calls == 5
    assert check("s3cret", stored)
    assert scrypt.calls == 5


def test_a_remembered_password_is_tied_to_the_hash_it_matched() -> None:
    """Another participant, or a new hash after a password change, is checked afresh."""
    check = LogonCheck()
    old, other = hash_password("s3cret"), hash_password("s3cret")
    assert check("s3cret", old)
    assert check("s3cret", other)  # same password, its own salt: its own scrypt
    assert not check("s3cret", hash_password("rotated"))
    assert not check("s3cret", "not-a-hash")
