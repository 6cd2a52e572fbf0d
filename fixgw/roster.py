"""The participant roster: who may log on, with which password, and how their orders rank.

Passwords are never stored: each entry keeps a salted scrypt hash, checked in constant time.
The roster, not the client, decides a participant's role (and so its orders' priority
class), its self-trade prevention mode and whether its orders die with its session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
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
