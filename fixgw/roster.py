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


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(digest.hex(), expected)


class LogonCheck:
    """Passwords checked at logon, remembering for each stored hash a keyed digest of the
    password that last matched it, so that logging on again costs a SHA-256 instead of
    ~77 ms of scrypt. QuickFIX's acceptor serves every session on one thread, so each scrypt
    held up every other session's orders for its whole length: with another session logging
    on 10 times a second, a one-order-in-flight session's p99.9 was 70-75 ms, and 2.3-2.5 ms
    with re-logons remembered (2026-11-22, README "Where the time goes").

    Only a participant's first logon per process, and every wrong password, pays for
    scrypt. The digests are keyed with a secret made at start and never leave memory.
    """

    def __init__(self, verify: Callable[[str, str], bool] = verify_password) -> None:
        self._verify = verify
        self._key = secrets.token_bytes(32)
        self._passed: dict[str, bytes] = {}  # stored hash -> keyed digest of its password

    def __call__(self, password: str, stored: str) -> bool:
        digest = hmac.digest(self._key, password.encode(), "sha256")
        known = self._passed.get(stored)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        if not self._verify(password, stored):
            return False
        self._passed[stored] = digest
        return True


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
