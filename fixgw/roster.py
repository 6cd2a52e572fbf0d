"""The participant roster: who may log on, with which password, and how their orders rank.

Passwords are never stored: each entry keeps a salted scrypt hash, checked in constant time.
The roster, not the client, decides a participant's role (and so its orders' priority
class), its self-trade prevention mode and whether its orders die with its session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.model import Participant, Role, StpMode

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, hex; the format carries its parameters for later upgrades."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


# hashlib.scrypt's memory limit (OpenSSL's default); a hash asking for more can never be
# checked, so the roster refuses it rather than every logon failing
SCRYPT_MAX_MEMORY = 32 * 1024 * 1024


def parse_password_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, digest) of a `scrypt$n$r$p$salt$hash` text that scrypt can check;
    ValueError otherwise, saying how to make a good one."""
    parts = stored.split("$")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
        memory = 128 * r * (p + n + 2)
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or memory > SCRYPT_MAX_MEMORY:
            raise ValueError
        if not salt or len(digest) != 32:
            raise ValueError
    except ValueError:
        raise ValueError(
            "password_hash is not an scrypt hash this gateway can check "
            "(make one with `fixgw hash-password`)"
        ) from None
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; False, never an exception, for a hash that cannot
    be checked: a logon callback that raised would be taken by QuickFIX as accepted."""
    try:
        n, r, p, salt, expected = parse_password_hash(stored)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, n=n, r=r, p=p)
    return hmac.compare_digest(digest, expected)


WRONG_PASSWORD = "wrong password"
BACKOFF_CAP_NS = 60 * 10**9


class LogonCheck:
    """Passwords checked at logon without letting scrypt (~77 ms) stall the venue.

    QuickFIX's acceptor serves every session on one thread, so each scrypt held up every
    other session's orders for its whole length: with another session logging on 10 times
    a second, a one-order-in-flight session's p99.9 was 70-75 ms (README "Where the time
    goes"). Two things keep scrypt rare:

    - for each stored hash, a keyed digest of the password that last matched it is kept,
      so logging on again costs a SHA-256 (p99.9 about 2 ms in the same test);
    - after a wrong password, a password that is not the remembered one is refused
      without being checked for 1 s, doubling with each wrong one in a row up to 60 s. A
      client retrying a stale password every second then costs one scrypt a minute, not
      77 ms of every second, and a participant whose password is remembered still gets in.

    The digests are keyed with a secret made at start and never leave memory.
    """

    def __init__(
        self,
        verify: Callable[[str, str], bool] = verify_password,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._verify = verify
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._passed: dict[str, bytes] = {}  # stored hash -> keyed digest of its password
        self._wrong: dict[str, tuple[int, int]] = {}  # stored hash -> (in a row, wait until)

    def refusal(self, password: str, stored: str) -> str | None:
        """None if the password is right; otherwise the reason the logon is refused."""
        digest = hmac.digest(self._key, password.encode(), "sha256")
        known = self._passed.get(stored)
        if known is not None and hmac.compare_digest(known, digest):
            self._wrong.pop(stored, None)
            return None
        now = self._clock()
        in_a_row, until = self._wrong.get(stored, (0, 0))
        if now < until:
            wait = -(-(until - now) // 10**9)
            return f"too many wrong passwords ({in_a_row} in a row): try again in {wait} s"
        if not self._verify(password, stored):
            backoff = min(10**9 << min(in_a_row, 6), BACKOFF_CAP_NS)
            self._wrong[stored] = (in_a_row + 1, now + backoff)
            return WRONG_PASSWORD
        self._wrong.pop(stored, None)
        self._passed[stored] = digest
        return None


@dataclass(frozen=True, slots=True)
class RosterEntry:
    comp_id: str
    participant: Participant
    password_hash: str
    cancel_on_disconnect: bool
    opening_deposits: tuple[tuple[str, str], ...] = ()  # (asset, decimal) for a new venue


ROLES = {
    "customer": Role.CUSTOMER,
    "affiliate_venue": Role.AFFILIATE_VENUE,
    "market_maker": Role.MARKET_MAKER,
}
STP_MODES = {mode.name.lower(): mode for mode in StpMode}


def load_roster(path: Path) -> dict[str, RosterEntry]:
    """Entries by CompID; a bad entry stops the load with its CompID named."""
    with path.open("rb") as f:
        table = tomllib.load(f)["participants"]
    roster = {}
    for comp_id, entry in table.items():
        try:
            participant = Participant(
                comp_id,
                int(entry["account"]),
                ROLES[entry["role"]],
                STP_MODES[entry.get("stp", "cancel_resting")],
                int(entry.get("maker_fee_ppm", 0)),
                int(entry.get("taker_fee_ppm", 0)),
            )
            parse_password_hash(entry["password_hash"])
            roster[comp_id] = RosterEntry(
                comp_id,
                participant,
                entry["password_hash"],
                bool(entry.get("cancel_on_disconnect", False)),
                tuple((asset, str(amount)) for asset, amount in entry.get("funding", {}).items()),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as bad:
            raise ValueError(f"{path}: participant {comp_id}: bad or missing {bad}") from None
    return roster
