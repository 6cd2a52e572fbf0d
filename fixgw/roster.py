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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_address, ip_network
from pathlib import Path

from engine.model.terms import Participant, Role, StpMode
from fixgw.affiliates.fatf import FatfList, jurisdiction_code, load_fatf_list

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
        secret = password.encode()
    except ValueError:  # UnicodeEncodeError included
        return False
    digest = hashlib.scrypt(secret, salt=salt, dklen=32, n=n, r=r, p=p)
    return hmac.compare_digest(digest, expected)


WRONG_PASSWORD = "wrong password"
BACKOFF_CAP_NS = 60 * 10**9
REMEMBERED_WRONG = 8  # wrong passwords remembered per stored hash
FREE_WRONG = 3  # new wrong passwords in a row from one address before a back-off
CHECKS_PER_SECOND = 4  # scrypt checks of new passwords, venue-wide (~30 % of one thread)
CHECKS_AT_ONCE = 16  # so that a venue's opening logons all pass
MAX_BACKOFFS = 4096  # (hash, source) pairs in a back-off before expired ones are dropped


class LogonCheck:
    """Passwords checked at logon without letting scrypt (~77 ms) stall the venue, and
    without letting a stranger keep a participant out.

    QuickFIX's acceptor serves every session on one thread, so each scrypt holds up every
    other session's orders for its whole length. Three things keep scrypt rare:

    - for each stored hash, a keyed digest of the password that last matched it is kept,
      so logging on again costs a SHA-256;
    - so are digests of the last few wrong passwords: a client retrying a stale password is
      refused for the cost of a SHA-256, however often it retries, and that costs nobody
      else anything;
    - the third new wrong password in a row from one source address starts a back-off for
      that address: for 1 s, doubling with each further one up to 60 s, a password from
      there that is not the remembered one is refused unchecked. Guessing from one address
      costs one scrypt a minute at most, and a participant logging on from another address
      is not affected.

    And venue-wide, new passwords are checked at most CHECKS_PER_SECOND a second (a few at
    once), whatever their addresses: guesses spread over many addresses cost the sessions
    trading at most that, and delay other first logons instead.

    So a typo or a stranger's wrong password never keeps a participant out; a third party
    can, from the participant's own address by guessing new passwords again and again, or
    from many addresses by using up the venue's checks, and never once the participant's
    password is remembered. The digests are keyed with a secret made at start and never
    leave memory.
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
        self._refused: dict[str, deque[bytes]] = {}  # stored hash -> the last wrong ones
        # (stored hash, source address) -> (new wrong passwords in a row, wait until)
        self._backoff: dict[tuple[str, str], tuple[int, int]] = {}
        self._checks = float(CHECKS_AT_ONCE)  # scrypt checks the venue may run now
        self._checks_at = clock()

    def refusal(self, password: str, stored: str, source: str) -> str | None:
        """None if the password is right; otherwise the reason the logon is refused. The
        password must be text that encodes (the logon callback checks it is ASCII)."""
        digest = hmac.digest(self._key, password.encode(), "sha256")
        key = (stored, source)
        known = self._passed.get(stored)
        if known is not None and hmac.compare_digest(known, digest):
            self._backoff.pop(key, None)
            return None
        refused = self._refused.setdefault(stored, deque(maxlen=REMEMBERED_WRONG))
        if any(hmac.compare_digest(wrong, digest) for wrong in refused):
            return WRONG_PASSWORD
        now = self._clock()
        in_a_row, until = self._backoff.get(key, (0, 0))
        if now < until:
            wait = -(-(until - now) // 10**9)
            return (
                f"too many wrong passwords from {source} ({in_a_row} in a row): "
                f"try again in {wait} s"
            )
        if not self._take_check(now):
            return "too many logons being checked: try again in 1 s"
        if not self._verify(password, stored):
            refused.append(digest)
            if len(self._backoff) >= MAX_BACKOFFS:
                self._backoff = {k: v for k, v in self._backoff.items() if v[1] > now}
            in_a_row += 1
            past_free = in_a_row - FREE_WRONG
            backoff = min(10**9 << min(past_free, 6), BACKOFF_CAP_NS) if past_free >= 0 else 0
            self._backoff[key] = (in_a_row, now + backoff)
            return WRONG_PASSWORD
        self._backoff.pop(key, None)
        self._passed[stored] = digest
        return None

    def _take_check(self, now: int) -> bool:
        """One of the venue's scrypt checks, if any is left: CHECKS_PER_SECOND refill, up to
        CHECKS_AT_ONCE saved. Guesses spread over many addresses get past every back-off;
        this keeps what they cost QuickFIX's thread (and so every session) bounded."""
        elapsed = max(now - self._checks_at, 0)
        self._checks = min(CHECKS_AT_ONCE, self._checks + elapsed * CHECKS_PER_SECOND / 10**9)
        self._checks_at = now
        if self._checks < 1:
            return False
        self._checks -= 1
        return True


def parse_networks(values: object) -> tuple[IPv4Network, ...]:
    """IPv4 networks in CIDR notation (a bare address is a /32); ValueError names a bad one."""
    if not isinstance(values, list) or not values:
        raise ValueError("networks must be a non-empty list of IPv4 networks")
    networks = []
    for value in values:
        try:
            network = ip_network(str(value), strict=False)
        except ValueError:
            raise ValueError(f"networks: {value!r} is not an IPv4 network") from None
        if not isinstance(network, IPv4Network):
            raise ValueError(f"networks: {value!r} is not IPv4 (the acceptor listens on IPv4)")
        networks.append(network)
    return tuple(networks)


def allowed_from(networks: tuple[IPv4Network, ...], source: str) -> bool:
    try:
        address = ip_address(source)
    except ValueError:
        return False
    return any(address in network for network in networks)


LOOPBACK_ONLY = (IPv4Network("127.0.0.0/8"),)


@dataclass(frozen=True, slots=True)
class RosterEntry:
    comp_id: str
    participant: Participant
    password_hash: str
    cancel_on_disconnect: bool
    opening_deposits: tuple[tuple[str, str], ...] = ()  # (asset, decimal) for a new venue
    networks: tuple[IPv4Network, ...] = LOOPBACK_ONLY  # where its logons may come from
    jurisdiction: str = ""  # ISO 3166-1 alpha-2, where given
    local_only: str = "not opted in to the shared book"  # why, or "" if it may share
    # the entry's margin facility keys as written, read against the venue's loan asset by
    # fixgw/margin_config.py (`facility_of`); empty: no facility
    margin: tuple[tuple[str, object], ...] = ()
    # perpetuals (fixgw/perps_config.py): only a professional investor may trade them, at
    # most at its leverage cap (0: the contract's tiers alone decide)
    professional_investor: bool = False
    perp_max_leverage: int = 0
    # a price feed's session sends index prices (spec/README.md) and may not trade
    price_feed: bool = False


ROLES = {
    "customer": Role.CUSTOMER,
    "affiliate_venue": Role.AFFILIATE_VENUE,
    "market_maker": Role.MARKET_MAKER,
}
STP_MODES = {mode.name.lower(): mode for mode in StpMode}
MARGIN_KEYS = frozenset(
    (
        "margin",
        "securities_margin_client",
        "role",
        "credit_limit",
        "call_level_percent",
        "liquidation_level_percent",
        "interest_percent",
    )
)


def load_roster(path: Path, fatf: FatfList | None = None) -> dict[str, RosterEntry]:
    """Entries by CompID; a bad entry stops the load with its CompID named. Who may trade
    with affiliates' liquidity is decided against `fatf` (the shipped list by default)."""
    fatf = fatf or load_fatf_list()
    with path.open("rb") as f:
        table = tomllib.load(f)["participants"]
    roster = {}
    for comp_id, entry in table.items():
        try:
            feed = entry["role"] == "price_feed"
            role = Role.CUSTOMER if feed else ROLES[entry["role"]]
            jurisdiction, local_only = _shared_book(entry, role, fatf)
            participant = Participant(
                comp_id,
                int(entry["account"]),
                role,
                STP_MODES[entry.get("stp", "cancel_resting")],
                int(entry.get("maker_fee_ppm", 0)),
                int(entry.get("taker_fee_ppm", 0)),
                shared_book=not local_only,
            )
            parse_password_hash(entry["password_hash"])
            roster[comp_id] = RosterEntry(
                comp_id,
                participant,
                entry["password_hash"],
                bool(entry.get("cancel_on_disconnect", False)),
                tuple((asset, str(amount)) for asset, amount in entry.get("funding", {}).items()),
                parse_networks(entry["networks"]) if "networks" in entry else LOOPBACK_ONLY,
                jurisdiction,
                local_only,
                tuple((k, v) for k, v in entry.items() if k in MARGIN_KEYS),
                *_perps(entry, feed),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as bad:
            raise ValueError(f"{path}: participant {comp_id}: bad or missing {bad}") from None
    return roster


def _perps(entry: dict[str, object], feed: bool) -> tuple[bool, int, bool]:
    """(professional investor, leverage cap, price feed) as the roster gives them."""
    professional = entry.get("professional_investor", False)
    cap = entry.get("perp_max_leverage", 0)
    if not isinstance(professional, bool):
        raise ValueError("professional_investor must be true or false")
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
        raise ValueError("perp_max_leverage must be a whole number, 0 for no cap")
    if feed and (professional or entry.get("funding") or entry.get("margin")):
        raise ValueError("role: a price_feed sends prices only: no trading, funding or margin")
    return professional, cap, feed


def _shared_book(entry: dict[str, object], role: Role, fatf: FatfList) -> tuple[str, str]:
    """(jurisdiction, why its orders trade locally only or ""). A client opts in with
    `shared_book = true`; an affiliate venue coming in shares by its nature, and one outside
    the FATF list may not connect at all."""
    given = entry.get("jurisdiction")
    jurisdiction = jurisdiction_code(given, "roster") if given is not None else ""
    opted_in = entry.get("shared_book", role is Role.AFFILIATE_VENUE)
    if not isinstance(opted_in, bool):
        raise ValueError("shared_book must be true or false")
    if not opted_in:
        return jurisdiction, "not opted in to the shared book"
    if not jurisdiction:
        raise ValueError("jurisdiction: the shared book needs the participant's jurisdiction")
    refusal = fatf.refusal(jurisdiction)
    if refusal is not None and role is Role.AFFILIATE_VENUE:
        raise ValueError(f"jurisdiction: an affiliate venue must be FATF-member: {refusal}")
    return jurisdiction, refusal or ""
