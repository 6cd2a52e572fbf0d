"""What an attacker with a raw socket tries, against the real gateway over loopback.

Each test here was written against a defect an adversarial run found (issue 15): a session
acting as another participant through SOH inside a data field, bytes that are not UTF-8,
pre-logon traffic stalling every session, a stranger locking a participant out, secrets on
disk, unbounded values and subscriptions, a bind address that was not what it said.
"""

from __future__ import annotations

import resource
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixclient import FixClient
from tests.support.gateway import (
    GOOD_ORDER,
    PASSWORDS,
    Connect,
    GatewayProcess,
    book_snapshot,
    logged_on,
    new_order,
    report,
)
from tests.support.rawfix import SOH, RawSession, Value, frame


def order(cid: str, **changes: Value) -> list[tuple[int, Value]]:
    """GOOD_ORDER with its ClOrdID and any tag (`t44="..."`) changed."""
    fields: list[tuple[int, Value]] = [
        (t, changes.get(f"t{t}", cid if t == 11 else v)) for t, v in GOOD_ORDER
    ]
    return fields


def smuggled(tag_length: int, tag_data: int, payload: str) -> list[tuple[int, Value]]:
    """A data field whose bytes hold SOH and fields of their own, correctly length-prefixed,
    so that QuickFIX parses it as one value."""
    return [(tag_length, str(len(payload.encode()))), (tag_data, payload)]


def quiet(client: FixClient, req_id: str) -> list[str]:
    """The message types `client` received before the answer to a request of its own."""
    book_snapshot(client, req_id)
    return [m.type for m in client.skipped]


# -- 1. the participant is the authenticated session, whatever the text says --


@pytest.mark.parametrize(
    ("length_tag", "data_tag", "payload"),
    [
        (354, 355, f"x{SOH}49=CLIENT1"),  # EncodedText
        (212, 213, f"<x/>{SOH}49=CLIENT1"),  # XmlData (header)
        (90, 91, f"s{SOH}49=CLIENT1{SOH}54=2"),  # SecureData (header)
        (212, 213, f"<x>{SOH}abc=1"),  # not even a tag: used to get no answer at all
    ],
)
def test_a_data_field_cannot_make_an_order_another_participants(
    raw: RawSession, bystander: FixClient, length_tag: int, data_tag: int, payload: str
) -> None:
    before = book_snapshot(bystander, "d1")
    bystander.skipped.clear()
    data = smuggled(length_tag, data_tag, payload)
    fields = [*data, *order("sm1")] if length_tag != 354 else [*order("sm1"), *data]
    seq = raw.seq
    raw.send("D", fields)
    reject = raw.receive()
    assert (reject[35], reject[45], reject[372], reject[380]) == ("j", str(seq), "D", "0")
    assert f"tag {length_tag} is a data field" in reject[58]
    assert book_snapshot(bystander, "d2") == before
    assert quiet(bystander, "d3") == []  # CLIENT1 heard of no order


def test_data_fields_cannot_replace_or_cancel_another_participants_orders(
    raw: RawSession, bystander: FixClient
) -> None:
    cid = new_order(bystander, "1", "0.2", "690000")
    victim = report(bystander, cid, "0")
    before = book_snapshot(bystander, "r1")
    bystander.skipped.clear()
    replace = [
        *smuggled(212, 213, f"<x/>{SOH}49=CLIENT1"),
        (11, "r-1"),
        (41, cid),
        (37, victim[37]),
        (55, "BTC-HKD"),
        (54, "1"),
        (38, "0.1"),
        (40, "2"),
        (44, "690001"),
        (60, "20261121-10:00:00.000"),
    ]
    raw.send("G", replace)
    assert raw.receive()[35] == "j"
    mass_cancel = [(11, "mc-1"), (530, "7"), (60, "20261121-10:00:00.000")]
    raw.send("q", [*mass_cancel, *smuggled(354, 355, f"x{SOH}49=CLIENT1")])
    assert raw.receive()[35] == "j"
    assert book_snapshot(bystander, "r2") == before
    assert quiet(bystander, "r3") == []


def test_a_market_maker_cannot_borrow_a_customers_priority(
    gateway: GatewayProcess, bystander: FixClient
) -> None:
    mm = RawSession(gateway.port, "MM1")
    assert mm.logon(PASSWORDS["MM1"])[35] == "A"
    mm.send("D", [*order("mm-1", t44="690000"), *smuggled(354, 355, f"x{SOH}49=CLIENT1")])
    assert mm.receive()[35] == "j"
    mm.send("D", order("mm-2", t44="690000"))  # the same order, honestly: MM1's own
    accepted = mm.receive()
    assert (accepted[35], accepted[150], accepted[11]) == ("8", "0", "mm-2")
    bystander.skipped.clear()
    assert quiet(bystander, "m1") == []
    mm.close()


# -- 2. one decoding rule, before the engine --


@pytest.mark.parametrize("tag", [11, 55, 1])
def test_bytes_that_are_not_utf8_are_refused_before_the_engine(
    raw: RawSession, bystander: FixClient, tag: int
) -> None:
    before = book_snapshot(bystander, "u1")
    seq = raw.seq
    fields = order("u-1", **{f"t{tag}": b"\xff\xfe"}) if tag != 1 else [*order("u-1"), (1, b"\xff")]
    raw.send("D", fields)
    reject = raw.receive()
    assert (reject[35], reject[45]) == ("j", str(seq))
    assert f"tag {tag} holds a character that is not printable ASCII" in reject[58]
    raw.send("D", order("u-1"))  # the ClOrdID was never used: nothing was journaled
    assert (raw.receive()[150], book_snapshot(bystander, "u2")) == (
        "0",
        [("699000", "0.1"), *before],
    )


def test_control_characters_are_refused(raw: RawSession) -> None:
    raw.send("D", order("c\x7fc"))
    assert "tag 11 holds a character that is not printable ASCII" in raw.receive()[58]


# -- 3. pre-logon traffic cannot delay a logged-on session --


def test_half_messages_before_logon_do_not_stall_logged_on_sessions(
    gateway: GatewayProcess, connect: Connect
) -> None:
    trader = logged_on(connect, "CLIENT1")
    loiterers = []
    for i in range(12):
        loiterer = socket.create_connection(("127.0.0.1", gateway.port))
        loiterer.sendall(b"8=FIX.4.4\x019=" if i % 2 else b"8=FIX.4.4\x019=99999\x0135=A\x01")
        loiterers.append(loiterer)
    for i in range(10):  # QuickFIX 1.16 held its one thread ~1 s per partial read
        report(trader, new_order(trader, "1", "0.01", "690000", cid=f"st-{i}"), "0", timeout=2)
    for loiterer in loiterers:
        loiterer.close()


def test_a_flood_of_pre_logon_connections_cannot_keep_a_client_out(
    gateway: GatewayProcess, connect: Connect
) -> None:
    flood = []
    for _ in range(60):
        loiterer = socket.create_connection(("127.0.0.1", gateway.port))
        loiterer.sendall(b"8=FIX.4.4")
        flood.append(loiterer)
    client = connect("CLIENT2")
    assert client.connect(timeout=5)
    for loiterer in flood:
        loiterer.close()


class Gateways:
    """Gateways of a test's own configuration, and initiators to them; at the end every
    initiator is closed and every gateway must still be up."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self.started: list[GatewayProcess] = []
        self.clients: list[FixClient] = []

    def __call__(
        self, data_dir_mode: int = 0, old_log: bool = False, **settings: Any
    ) -> GatewayProcess:
        """`data_dir_mode`: make the data dir first, with that mode (as an older version did)."""
        workdir = self._root / f"gateway{len(self.started)}"
        workdir.mkdir()
        if data_dir_mode:  # and, if `old_log`, a log dir and file as QuickFIX's were
            (workdir / "var").mkdir()
            (workdir / "var").chmod(data_dir_mode)
            if old_log:
                (workdir / "var" / "log").mkdir(mode=0o755)
                (workdir / "var" / "log" / "GLOBAL.event.current.log").write_text("old\n")
                (workdir / "var" / "log" / "GLOBAL.event.current.log").chmod(0o644)
        self.started.append(GatewayProcess(workdir, **settings))
        return self.started[-1]

    def client(self, gateway: GatewayProcess, comp_id: str) -> FixClient:
        client = FixClient(comp_id, PASSWORDS[comp_id], gateway.port, gateway.workdir / comp_id)
        self.clients.append(client)
        assert client.connect()
        return client


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[Gateways]:
    made = Gateways(tmp_path)
    yield made
    for client in made.clients:
        client.close()
    for process in made.started:
        if process.proc.returncode is None:
            assert process.alive(), "a gateway died during the test"
            assert "Traceback" not in process.stop()


STRICT = "prelogon_timeout_seconds = 1\nprelogon_max_bytes = 512\n"


def test_a_connection_that_does_not_log_on_in_time_is_closed(
    gateways: Gateways,
) -> None:
    silent = RawSession(gateways(gateway_settings=STRICT).port, "CLIENT2")
    silent.send_raw(b"8=FIX.4.4\x01")
    assert silent.closed_by_peer(timeout=10)


def test_a_first_message_longer_than_the_bound_is_closed(
    gateways: Gateways,
) -> None:
    chatty = RawSession(gateways(gateway_settings=STRICT).port, "CLIENT2")
    chatty.send_raw(b"8=FIX.4.4\x019=100000\x0135=A\x01" + b"58=" + b"x" * 600)
    assert chatty.closed_by_peer(timeout=10)


# -- 5. nobody else can lock a participant out --


def test_a_strangers_wrong_passwords_do_not_keep_the_participant_out(
    gateway: GatewayProcess, connect: Connect
) -> None:
    for attempt in range(3):
        stranger = RawSession(gateway.port, "CLIENT2")
        refused = stranger.logon("guess")
        assert (refused[35], refused[58].endswith(": wrong password")) == ("5", True)
        stranger.close()
        client = connect("CLIENT2")
        assert client.connect(), f"attempt {attempt}: {client.skipped}"
        client.close()


def test_a_heartbeat_interval_above_the_venues_maximum_is_refused(gateway: GatewayProcess) -> None:
    slow = RawSession(gateway.port, "CLIENT2")
    slow.send("A", [(98, "0"), (108, "31"), (553, "CLIENT2"), (554, PASSWORDS["CLIENT2"])])
    refused = slow.receive()
    assert refused[35] == "5"
    assert refused[58].endswith(": HeartBtInt must be between 1 and 30 seconds")


def logon_fields(password: str, reset: bool) -> list[tuple[int, Value]]:
    fields: list[tuple[int, Value]] = [(98, "0"), (108, "30")]
    return [*fields, *([(141, "Y")] if reset else []), (553, "CLIENT1"), (554, password)]


def test_a_reset_logon_with_a_wrong_password_resets_nothing(
    gateway: GatewayProcess, connect: Connect
) -> None:
    """QuickFIX 1.16 reset the sequence numbers and the stored reports before the password
    was checked: a stranger could erase a participant's undelivered fills."""
    owner = RawSession(gateway.port, "CLIENT1")
    owner.send("A", logon_fields(PASSWORDS["CLIENT1"], reset=True))
    assert owner.receive()[35] == "A"
    owner.send("D", order("rest-1", t54="2", t44="700100"))
    assert owner.receive()[150] == "0"
    owner.send("5", [])
    assert owner.receive()[35] == "5"
    owner.close()
    taker = logged_on(connect, "CLIENT2")  # fills it while CLIENT1 is away: report no. 4
    report(taker, new_order(taker, "1", "0.1", "700100", tif="3"), "F")
    stranger = RawSession(gateway.port, "CLIENT1")
    stranger.send("A", logon_fields("guess", reset=True))
    assert stranger.receive()[35] == "5"
    stranger.close()
    back = RawSession(gateway.port, "CLIENT1")
    back.seq = 4
    back.send("A", logon_fields(PASSWORDS["CLIENT1"], reset=False))
    # the numbers went on where they were: 4 the fill, 5 the Logout refusing the stranger
    assert back.receive()[34] == "6"
    back.send("2", [(7, "4"), (16, "4")])
    resent = back.receive()
    assert (resent[35], resent[150], resent[11], resent.get(43)) == ("8", "F", "rest-1", "Y")
    back.close()


def test_a_first_message_that_does_not_log_on_ends_its_connection(
    gateway: GatewayProcess,
) -> None:
    """A Logon answered with a session Reject used to keep the connection, and with it the
    session: nobody else could log that participant on."""
    squatter = RawSession(gateway.port, "CLIENT1")
    squatter.send("A", [*logon_fields(PASSWORDS["CLIENT2"], reset=True), (4999, "x")])
    assert squatter.closed_by_peer(timeout=10)
    owner = RawSession(gateway.port, "CLIENT1")
    assert owner.logon(PASSWORDS["CLIENT1"])[35] == "A"


def test_what_comes_with_the_logon_is_answered_at_once(gateway: GatewayProcess) -> None:
    eager = RawSession(gateway.port, "CLIENT2")
    logon = eager.message("A", [(98, "0"), (108, "30"), (141, "Y"), (553, "CLIENT2"),
                                (554, PASSWORDS["CLIENT2"])])  # fmt: skip
    eager.send_raw(logon + eager.message("D", order("eager-1")))
    assert eager.receive()[35] == "A"
    assert eager.receive(timeout=5)[11] == "eager-1"


def test_messages_past_a_gap_never_filled_are_bounded(raw: RawSession) -> None:
    raw.seq += 5  # a gap the client will never fill
    for _ in range(1001):
        raw.send("0", [])
    while (reply := raw.receive())[35] != "5":
        assert reply[35] in ("2", "0", "1"), reply  # the ResendRequest, heartbeats
    assert reply[58] == "more than 1000 messages ahead of a sequence gap"


# -- 6. secrets never reach a file, a log or a traceback --


def test_files_are_private_and_hold_no_password(gateways: Gateways) -> None:
    gateway = gateways()
    trader = gateways.client(gateway, "CLIENT1")
    report(trader, new_order(trader, "1", "0.01", "690000"), "0")
    wrong = RawSession(gateway.port, "CLIENT2")
    assert wrong.logon(PASSWORDS["CLIENT1"])[35] == "5"  # another's password, refused
    undecodable = RawSession(gateway.port, "CLIENT2")
    undecodable.send("A", [(98, "0"), (108, "30"), (553, "CLIENT2"), (554, b"SECRET\xff\xfe")])
    refused = undecodable.receive()
    assert (refused[35], "printable ASCII" in refused[58]) == ("5", True)
    data_dir = gateway.workdir / "var"
    secrets = [p.encode() for p in PASSWORDS.values()] + [b"SECRET"]
    roster = (gateway.workdir / "roster.toml").read_text()
    hashes = [line.split("$") for line in roster.splitlines() if "scrypt$" in line]
    secrets += [part.strip('"').encode() for parts in hashes for part in parts[4:]]
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:o}"
        if path.is_file():
            content = path.read_bytes()
            assert not [s for s in secrets if s in content], path
    output = gateway.stop() + gateway.final_output
    assert not [s for s in secrets if s.decode() in output]
    assert "Traceback" not in output


def test_a_data_dir_readable_by_others_is_narrowed_all_through(gateways: Gateways) -> None:
    gateway = gateways(data_dir_mode=0o755, old_log=True)
    data_dir = gateway.workdir / "var"
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:o}"
    assert "were readable by others; now owner-only" in gateway.stop()


def test_a_host_that_is_not_a_numeric_ipv4_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="host 'localhost' is not a numeric IPv4 address"):
        GatewayProcess(tmp_path, extra_args=("--host", "localhost"))


# -- 7. bounded values and subscriptions --


def test_a_value_longer_than_64_characters_is_refused(raw: RawSession) -> None:
    raw.send("D", order("x" * 64))
    assert raw.receive()[150] == "0"  # the bound itself is fine
    raw.send("D", order("y" * 65))
    reject = raw.receive()
    assert (reject[35], "tag 11 is longer than 64 characters" in reject[58]) == ("j", True)
    raw.send("D", [*order("z" * 64), (1, "a" * 64)])
    assert raw.receive()[150] == "0"
    raw.send("D", order("w" * 65_536))
    reject = raw.receive()
    assert (reject[35], "longer than 4096 characters" in reject[58]) == ("j", True)


def market_data(raw: RawSession, req_id: str, symbols: list[str]) -> dict[int, str]:
    fields: list[tuple[int, Value]] = [(262, req_id), (263, "1"), (264, "1"), (265, "1")]
    fields += [(267, "1"), (269, "0"), (146, str(len(symbols)))]
    fields += [(55, symbol) for symbol in symbols]
    raw.send("V", fields)
    return raw.receive()


def test_subscriptions_and_their_symbols_are_bounded(raw: RawSession) -> None:
    repeated = market_data(raw, "rep", ["BTC-HKD", "BTC-HKD"])
    assert (repeated[35], repeated[281], repeated[58]) == ("Y", "2", "'BTC-HKD' is listed twice")
    for i in range(16):
        assert market_data(raw, f"s{i}", ["BTC-HKD"])[35] == "W"
    over = market_data(raw, "s16", ["ETH-HKD"])
    assert (over[35], over[281], over[58]) == ("Y", "2", "at most 16 subscriptions per session")


def test_a_full_depth_view_shows_the_best_100_levels_a_side(connect: Connect) -> None:
    """Every subscription's view is compared level by level on each change of its book: a
    full-depth one over a book of thousands of levels made every session wait."""
    maker = logged_on(connect, "CLIENT1")
    for i in range(101):
        report(maker, new_order(maker, "1", "0.0001", str(690000 - i), cid=f"lv-{i}"), "0")
    levels = book_snapshot(maker, "full")
    assert len(levels) == 100
    assert levels[0] == ("690000", "0.0001") and levels[-1] == ("689901", "0.0001")


def test_a_client_that_stops_reading_is_disconnected_not_waited_for(
    gateways: Gateways,
) -> None:
    gateway = gateways(gateway_settings="send_queue_max_bytes = 65536\n")
    reader = RawSession(gateway.port, "CLIENT2")
    reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert reader.logon(PASSWORDS["CLIENT2"])[35] == "A"
    for i in range(16):
        assert market_data(reader, f"s{i}", ["BTC-HKD"])[35] == "W"
    trader = gateways.client(gateway, "CLIENT1")  # and CLIENT2 reads nothing more
    event_logs = gateway.workdir / "var" / "log"
    for i in range(4000):  # each order a new best bid or offer: an update to every subscription
        side, price = ("1", str(680000 + i)) if i % 2 else ("2", str(720000 - i))
        report(trader, new_order(trader, side, "0.0001", price, cid=f"q-{i}"), "0")
        if i % 200 == 199 and any(
            "slow consumer" in p.read_text() for p in event_logs.glob("*CLIENT2.event*.log")
        ):
            break
    else:
        raise AssertionError("4,000 orders of market data never overflowed the reader's queue")
    report(trader, new_order(trader, "1", "0.0001", "690000", cid="after"), "0")
    (event_log,) = event_logs.glob("*CLIENT2.event*.log")
    assert event_log.read_text().rstrip().endswith("Disconnecting")
    reader.close()


# -- 8. where the acceptor listens, and from where a participant may log on --


def listening_addresses(port: int) -> list[str]:
    """Local addresses of LISTEN sockets on `port`, from the kernel's table."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_the_acceptor_binds_only_the_configured_address(gateway: GatewayProcess) -> None:
    assert f"listening on 127.0.0.1:{gateway.port}" in gateway.ready
    assert listening_addresses(gateway.port) == ["127.0.0.1"]


def test_a_logon_from_outside_the_participants_networks_is_refused(
    gateways: Gateways,
) -> None:
    gateway = gateways(participant_settings={"CLIENT2": 'networks = ["10.0.0.0/8"]\n'})
    outsider = RawSession(gateway.port, "CLIENT2")
    refused = outsider.logon(PASSWORDS["CLIENT2"])
    assert refused[35] == "5"
    assert refused[58].endswith(": logons as CLIENT2 are not accepted from 127.0.0.1")
    insider = RawSession(gateway.port, "CLIENT1")  # loopback by default
    assert insider.logon(PASSWORDS["CLIENT1"])[35] == "A"


def test_a_connection_from_no_participants_network_is_closed_at_once(
    gateways: Gateways,
) -> None:
    elsewhere = {name: 'networks = ["192.0.2.0/24"]\n' for name in PASSWORDS}
    stranger = RawSession(gateways(participant_settings=elsewhere).port, "CLIENT1")
    stranger.send_raw(b"8=FIX.4.4\x01")
    assert stranger.closed_by_peer(timeout=10)


# -- 9. conformance --


def test_a_four_digit_checksum_is_garbled_and_ignored(raw: RawSession) -> None:
    good = raw.message("D", order("ck-1"))
    checksum = good[good.rindex(b"\x0110=") + 4 : -1]
    raw.send_raw(good[: good.rindex(b"\x0110=") + 4] + b"0" + checksum + b"\x01")
    raw.send_raw(good)  # the same sequence number, correctly framed
    accepted = raw.receive()
    assert (accepted[35], accepted[150], accepted[11]) == ("8", "0", "ck-1")
    raw.send("D", order("ck-2"))  # had the garbled one counted, this would be a gap
    assert (raw.receive()[11]) == "ck-2"


def test_a_header_field_after_the_body_gets_a_session_reject(raw: RawSession) -> None:
    body = frame(
        [
            (35, "D"),
            (49, "CLIENT2"),
            (56, "FIXGW"),
            (34, str(raw.seq)),
            *order("oo-1"),
            (52, "20261121-10:00:00.000"),
        ]
    )
    raw.seq += 1
    raw.send_raw(body)
    reject = raw.receive()
    assert (reject[35], reject[373]) == ("3", "14")


def test_a_currency_other_than_the_quote_is_refused(raw: RawSession) -> None:
    raw.send("D", [*order("cur-1"), (15, "XYZ")])
    rejected = raw.receive()
    assert (rejected[35], rejected[150]) == ("8", "8")
    assert rejected[58] == "Currency 'XYZ' is not BTC-HKD's quote currency HKD"
    raw.send("D", [*order("cur-2"), (15, "HKD")])
    assert raw.receive()[150] == "0"


def test_every_report_repeats_the_orders_terms(connect: Connect) -> None:
    maker, taker = logged_on(connect, "CLIENT1"), logged_on(connect, "CLIENT2")
    resting = new_order(maker, "2", "0.5", "700100")
    report(maker, resting, "0")
    report(taker, new_order(taker, "1", "0.2", "700100", tif="3"), "F")
    fill = report(maker, resting, "F")
    maker.send("F", [(11, "cx-1"), (41, resting), (55, "BTC-HKD"), (54, "2"),
                     (60, "20261121-10:00:00.000")])  # fmt: skip
    cancelled = report(maker, "cx-1", "4")
    for msg in (fill, cancelled):
        assert (msg[38], msg[40], msg[59], msg[44]) == ("0.5", "2", "1", "700100"), msg
        assert msg[14] == "0.2"


def test_the_open_file_limit_is_raised_to_what_the_system_allows() -> None:
    script = (
        "import resource; from fixgw.server import raise_open_file_limit; "
        "raise_open_file_limit(); print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = subprocess.run(
        [sys.executable, "-c", script],
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(low.stdout) == min(hard if hard != resource.RLIM_INFINITY else 2**20, 2**20)
