"""A bounded, seeded fuzz campaign against the real gateway over loopback.

A raw session as CLIENT2 sends thousands of mutated application messages of every supported
type (tests/support/fuzz_mutations.py: non-UTF-8 bytes, control characters, oversize and empty
values, numbers at and past the int64 edges, bad quantities and prices, unknown symbols, duplicated,
dropped and unknown tags, data fields smuggling SOH and whole fields, group counts that do
not match, other participants named in the text), while a thread keeps opening connections
that never log on. Asserted:

1. the gateway stays up and logs no Traceback (the `gateway` fixture checks stderr; its
   structlog lines go to stdout, checked here);
2. nothing changes another participant's state: a bystander CLIENT1 with resting ETH-HKD
   orders sees the same open orders and balances afterwards, and no message meanwhile;
3. every fuzzed message that used a sequence number is answered (a Reject or
   BusinessMessageReject naming its MsgSeqNum, and then nothing else; or a reply echoing
   one of its ids), and every reply is well-formed FIX text;
4. a logged-on session's orders are answered within PROBE_TIMEOUT throughout.

A failure names the seed and the message; FIXGW_FUZZ_SEED=<seed> replays another seed.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.support.fixclient import FixClient, Received
from tests.support.fuzz_mutations import Mutator
from tests.support.fuzz_noise import PreLogonNoise
from tests.support.fuzz_wire import (
    ID_TAGS,
    NOW,
    Field,
    Fuzzed,
    FuzzSession,
    Outcome,
    Reply,
    Wire,
    frame,
    sending_time,
)
from tests.support.gateway import PASSWORDS, Connect, GatewayProcess, logged_on, new_order, report

PROBE_TIMEOUT = 2.0  # seconds for each of the probe session's orders to be answered
CLEANUP_EVERY = 64  # a well-formed mass cancel now and then keeps CLIENT2's book small
MAX_LOGOUT_SHARE = 0.02  # more means the mutations hit session-level fields too often
ADMIN = {"0", "1"}


def seed_for(default: int) -> int:
    return int(os.environ.get("FIXGW_FUZZ_SEED", default))


# -- THE BYSTANDER --


@dataclass
class Bystander:
    client: FixClient
    ids: list[str]  # ClOrdIDs of its resting orders
    order_ids: list[str]
    requests: Counter[str] = field(default_factory=Counter)

    def open_orders(self) -> list[tuple[str | None, ...]]:
        req = self._request_id("af")
        self.client.send("AF", [(584, req), (585, "7")])
        rows = []
        while True:
            r = self.client.expect(lambda m: m.type == "8" and m.get(584) == req)
            if r.get(911) == "0":
                break
            rows.append(tuple(r.get(t) for t in (11, 37, 55, 54, 38, 44, 39, 151, 14, 59)))
            if r.get(912) == "Y":
                break
        return sorted(rows)

    def balances(self) -> list[tuple[str, ...]]:
        req = self._request_id("bb")
        self.client.send("BB", [(909, req)])
        ack = self.client.expect(lambda m: m.type == "BG" and m.get(909) == req)
        rows = [
            self.client.expect(lambda m: m.type == "BA" and m.get(909) == req)
            for _ in range(int(ack[911]))
        ]
        return [(r[15], r[53], r[899], r[901]) for r in rows]

    def _request_id(self, kind: str) -> str:
        self.requests[kind] += 1
        return f"by-{kind}{self.requests[kind]}"

    def received_meanwhile(self) -> list[Received]:
        """Everything but heartbeats the bystander received and no test asked for."""
        seen = list(self.client.skipped)
        self.client.skipped.clear()
        while True:
            try:
                seen.append(self.client.inbox.get_nowait())
            except queue.Empty:
                break
        return [m for m in seen if m.type not in ADMIN]


@pytest.fixture
def eth_bystander(connect: Connect) -> Bystander:
    """CLIENT1, resting on ETH-HKD: a bid and an offer a smuggled order would cross."""
    client = logged_on(connect, "CLIENT1")
    ids = [
        new_order(client, "1", "2", "24900", "ETH-HKD"),
        new_order(client, "2", "1.5", "25100", "ETH-HKD"),
    ]
    order_ids = [report(client, cid, "0")[37] for cid in ids]
    bystander = Bystander(client, ids, order_ids)
    assert [m.type for m in bystander.received_meanwhile()] == ["A"]  # its own Logon
    return bystander


# -- THE PROBE: a logged-on session that must never be kept waiting --


class Probe(threading.Thread):
    """MM1 places a post-only bid below the market and cancels it, again and again; each
    order and each cancel must be answered within PROBE_TIMEOUT. Post-only, so it never
    takes liquidity from CLIENT2: everything CLIENT2 receives answers its own messages."""

    def __init__(self, client: FixClient) -> None:
        super().__init__(name="probe", daemon=True)
        self.client = client
        self.stopping = threading.Event()
        self.answered = 0
        self.late: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set() and len(self.late) < 5:
            cid = new_order(self.client, "1", "0.0001", "668000", t18="6")
            self._answered(cid, "order")
            cancel = f"{cid}-c"
            self.client.send("F", [(11, cancel), (41, cid), (55, "BTC-HKD"), (54, "1"),
                                   (60, NOW)])  # fmt: skip
            self._answered(cancel, "cancel")
            self.client.skipped.clear()
            self.stopping.wait(0.05)  # pacing, not synchronisation

    def _answered(self, cid: str, what: str) -> None:
        try:
            self.client.expect(lambda m: m.type in ("8", "9") and m.get(11) == cid, PROBE_TIMEOUT)
            self.answered += 1
        except AssertionError:
            self.late.append(f"{what} {cid} was not answered within {PROBE_TIMEOUT}s")

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


# -- JUDGING ONE MESSAGE --


def unsolicited(reply: Reply, subscriptions: set[str]) -> bool:
    """Sent on the gateway's own account, not in answer to the message before it: market
    data of a live subscription, and expiries."""
    return (
        reply.type in ("X", "f")
        or (reply.type == "W" and reply.get(262) in subscriptions)
        or (reply.type == "8" and reply.get(150) == "C")
    )


def silent_unsubscribe(fuzzed: Fuzzed, subscriptions: set[str]) -> bool:
    """The one request with no answer: ending a live subscription (as the gateway reads it,
    the last value of each tag)."""
    return (
        35 not in fuzzed.overrides
        and fuzzed.msg_type == "V"
        and fuzzed.last(263) == "2"
        and fuzzed.last(262) in subscriptions
    )


def problems(fuzzed: Fuzzed, outcome: Outcome, subscriptions: set[str]) -> list[str]:
    found = []
    answers = [r for r in outcome.replies if not unsolicited(r, subscriptions)]
    for reply in outcome.replies:
        for tag, problem in reply.malformed():
            found.append(f"the gateway sent malformed FIX (tag {tag} {problem}): {reply}")
    if outcome.kind in ("logout", "dropped"):
        return found
    if outcome.kind == "garbled":
        if answers:
            found.append(f"ignored as garbled, yet answered: {answers}")
        return found
    rejects = [r for r in answers if r.type in ("3", "j")]
    if rejects:
        if any(r.get(45) != str(outcome.seq) for r in rejects):
            found.append(f"a reject for another MsgSeqNum than {outcome.seq}: {rejects}")
        if len(answers) > 1:
            found.append(f"refused, and answered as well: {answers}")
        return found
    if not answers:
        if not silent_unsubscribe(fuzzed, subscriptions):
            found.append(f"no answer to MsgSeqNum {outcome.seq}")
        return found
    ids = fuzzed.ids()
    echoed = any(r.get(tag) in ids for r in answers for tag in ID_TAGS)
    if ids and not echoed:
        found.append(f"no answer echoes any of its ids {sorted(ids)}: {answers}")
    return found


def follow_subscriptions(fuzzed: Fuzzed, outcome: Outcome, subscriptions: set[str]) -> None:
    if outcome.kind in ("logout", "dropped"):
        subscriptions.clear()  # subscriptions end with the session
        return
    answered = any(not unsolicited(r, subscriptions) for r in outcome.replies)
    if silent_unsubscribe(fuzzed, subscriptions) and not answered:  # else it was refused
        subscriptions.discard(fuzzed.last(262) or "")
        return
    md_id = fuzzed.last(262)
    subscribing = fuzzed.msg_type == "V" and fuzzed.last(263) == "1"
    if subscribing and any(r.type == "W" and r.get(262) == md_id for r in outcome.replies):
        subscriptions.add(md_id or "")


# -- THE CAMPAIGN --


@dataclass
class Tally:
    seed: int
    outcomes: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    logouts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def fail(self, fuzzed: Fuzzed, what: str) -> None:
        self.failures.append(f"seed {self.seed}, {fuzzed.describe()}: {what}")

    def summary(self) -> str:
        return (
            f"seed {self.seed}: {dict(self.outcomes)}; types {dict(self.types)}; "
            f"mutations {dict(self.mutations.most_common())}"
        )


def fuzz(
    session: FuzzSession, mutator: Mutator, count: int, tally: Tally, max_failures: int = 20
) -> None:
    subscriptions: set[str] = set()
    for index in range(count):
        if index % CLEANUP_EVERY == CLEANUP_EVERY - 1:
            cleanup = Fuzzed(-index, "q", [(11, f"clean{index}"), (530, "7"), (60, NOW)])
            outcome = session.exchange(cleanup, f"fence-clean{index}")
            if outcome.kind != "answered" or not any(r.type == "r" for r in outcome.replies):
                tally.fail(cleanup, f"the cleanup mass cancel was not acknowledged: {outcome}")
        fuzzed = mutator.message(index)
        tally.types[fuzzed.msg_type] += 1
        tally.mutations.update(m.split(" ")[0] for m in fuzzed.mutations)
        try:
            outcome = session.exchange(fuzzed, f"fence{index}")
        except TimeoutError as timeout:
            tally.fail(fuzzed, f"the fences did not come back ({timeout})")
            return
        tally.outcomes[outcome.kind] += 1
        if outcome.kind in ("logout", "dropped"):
            tally.logouts.append(f"{fuzzed.describe()} -> {outcome.kind} {outcome.text!r}")
        for problem in problems(fuzzed, outcome, subscriptions):
            tally.fail(fuzzed, problem)
        follow_subscriptions(fuzzed, outcome, subscriptions)
        if len(tally.failures) >= max_failures:
            return


def run_campaign(
    gateway: GatewayProcess, connect: Connect, bystander: Bystander, seed: int, count: int
) -> Tally:
    orders_before, balances_before = bystander.open_orders(), bystander.balances()
    assert [row[0] for row in orders_before] == sorted(bystander.ids), orders_before
    assert ("ETH", "10000", "9998.5", "1.5") in balances_before, balances_before
    assert bystander.received_meanwhile() == []

    probe = Probe(logged_on(connect, "MM1"))
    noise = PreLogonNoise(gateway.port, seed + 1)
    session = FuzzSession(gateway.port, "CLIENT2", PASSWORDS["CLIENT2"])
    mutator = Mutator(seed, bystander.ids, bystander.order_ids)
    tally = Tally(seed)
    probe.start()
    noise.start()
    try:
        fuzz(session, mutator, count, tally)
    finally:
        noise.stop()
        probe.stop()
        session.close()
    print(tally.summary())
    print(f"pre-logon connections {dict(noise.opened)}, ended by the gateway "
          f"{dict(noise.ended_by_gateway)}; probe answers {probe.answered}; "
          f"{session.logons} logons, {session.stale} stale replies after them")  # fmt: skip

    # everything is checked, then everything wrong is reported at once
    wrong = [*tally.failures[:10]]
    if not gateway.alive():
        wrong.append("the gateway died")
    else:
        told = bystander.received_meanwhile()
        orders_after, balances_after = bystander.open_orders(), bystander.balances()
        told += bystander.received_meanwhile()
        if told:
            wrong.append(f"the bystander received what it did not ask for: {told}")
        if orders_after != orders_before:
            wrong.append(f"the bystander's open orders went {orders_before} -> {orders_after}")
        if balances_after != balances_before:
            wrong.append(f"the bystander's balances went {balances_before} -> {balances_after}")
    if len(tally.logouts) > max(2, count * MAX_LOGOUT_SHARE):
        wrong.append(f"{len(tally.logouts)} logouts: {tally.logouts[:5]}")
    if probe.late:
        wrong.append(f"a logged-on session was kept waiting: {probe.late}")
    if probe.answered < 10:
        wrong.append(f"the probe hardly ran ({probe.answered} answers)")
    if noise.failures:
        wrong.append(f"pre-logon connections failed: {noise.failures[:5]}")
    if sum(noise.opened.values()) < 20:
        wrong.append(f"too few pre-logon connections: {dict(noise.opened)}")
    logged = gateway.final_output  # structlog's lines (the fixture reads only stderr)
    if "Traceback" in logged or "[error" in logged or "[critical" in logged:
        wrong.append(f"the gateway logged errors: {logged[-3000:]}")
    if not tally.failures and sum(tally.outcomes.values()) != count:
        wrong.append(f"only {sum(tally.outcomes.values())} of {count} messages were sent")
    if not tally.failures and tally.outcomes["answered"] < count * 0.8:
        wrong.append("fewer than 80 % of the messages were answered: the mutations are off")
    assert not wrong, f"seed {seed}; {tally.summary()}\n" + "\n".join(wrong)
    return tally


def test_fuzzed_messages_are_answered_and_touch_no_one_else(
    gateway: GatewayProcess, connect: Connect, eth_bystander: Bystander
) -> None:
    run_campaign(gateway, connect, eth_bystander, seed_for(20261121), 2_000)


@pytest.mark.slow
def test_a_long_fuzz_campaign(
    gateway: GatewayProcess, connect: Connect, eth_bystander: Bystander
) -> None:
    run_campaign(gateway, connect, eth_bystander, seed_for(15), 20_000)


# -- DEFECTS THE CAMPAIGN FOUND, each pinned by a test of its own --

GOOD_ORDER: list[Field] = [(11, "ok1"), (55, "BTC-HKD"), (54, "1"), (38, "0.1"), (40, "2"),
                           (44, "699000"), (59, "1"), (60, NOW)]  # fmt: skip
SMUGGLED = b"x\x0149=CLIENT1\x0155=ETH-HKD\x0154=1\x0138=1.5\x0144=25100\x01"


@pytest.mark.parametrize("length", ["-1", "2147483647"])
def test_a_data_length_outside_the_message_is_ignored_as_garbled(
    gateway: GatewayProcess, length: str
) -> None:
    session = FuzzSession(gateway.port, "CLIENT2", PASSWORDS["CLIENT2"])
    order = Fuzzed(0, "D", [*GOOD_ORDER, (354, length), (355, SMUGGLED)])
    try:
        outcome = session.exchange(order, "after")
    except OSError as ended:
        pytest.fail(f"the gateway went away ({ended!r}): {gateway.stop()[:300]}")
    assert outcome.kind == "garbled", outcome
    assert gateway.alive()


def test_a_data_length_outside_a_first_message_does_not_end_the_gateway(
    gateway: GatewayProcess,
) -> None:
    """Before any logon: only a roster CompID (not secret) is needed, no password."""
    wire = Wire(gateway.port, 10)
    logon: list[Field] = [(35, "A"), (49, "CLIENT1"), (56, "FIXGW"), (34, "1"),
                          (52, sending_time()), (98, "0"), (108, "30"),
                          (95, "-1"), (96, "x")]  # fmt: skip
    wire.send(frame(logon))
    assert wire.closed(10)  # refused: an invalid Logon ends its connection
    try:
        FuzzSession(gateway.port, "CLIENT2", PASSWORDS["CLIENT2"]).close()
    except OSError as ended:
        pytest.fail(f"the gateway went away ({ended!r}): {gateway.stop()[:300]}")


@pytest.fixture
def session(gateway: GatewayProcess) -> Iterator[FuzzSession]:
    fuzz_session = FuzzSession(gateway.port, "CLIENT2", PASSWORDS["CLIENT2"])
    yield fuzz_session
    fuzz_session.close()


@pytest.mark.parametrize(
    ("msg_type", "body"),
    [
        ("D", [(t, v) for t, v in GOOD_ORDER if t != 55]),  # Symbol is optional in FIX 4.4
        ("H", [(11, "nope"), (54, "1")]),
        ("BB", []),  # CollInquiryID is optional
        ("BB", [(15, "XRP")]),
        ("AF", [(584, "af1"), (585, "1"), (55, "NOPE")]),
    ],
)
def test_replies_carry_no_empty_values(
    session: FuzzSession, msg_type: str, body: list[Field]
) -> None:
    outcome = session.exchange(Fuzzed(0, msg_type, body), "after")
    assert outcome.kind == "answered" and outcome.replies, outcome
    assert [(r.type, r.malformed()) for r in outcome.replies] == [
        (r.type, []) for r in outcome.replies
    ]


def test_a_refused_mass_status_request_names_its_id(session: FuzzSession) -> None:
    outcome = session.exchange(Fuzzed(0, "AF", [(584, "af1"), (585, "1"), (55, "NOPE")]), "af")
    assert [r.get(584) for r in outcome.replies] == ["af1"], outcome


@pytest.mark.parametrize("entry_type", ["9", ""])
def test_an_unknown_entry_type_is_refused(session: FuzzSession, entry_type: str) -> None:
    request: list[Field] = [(262, "md1"), (263, "1"), (264, "0"), (265, "0"), (267, "1"),
                            (269, entry_type), (146, "1"), (55, "BTC-HKD")]  # fmt: skip
    outcome = session.exchange(Fuzzed(0, "V", request), "after")
    assert [r.type for r in outcome.replies] in (["3"], ["Y"]), outcome
