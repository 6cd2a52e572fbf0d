"""`Mutator`: application messages of every supported type, mutated (mostly in the body) by
draws from a `random.Random(seed)`, so the messages of a failing run are rebuilt from its
seed; each message carries a description of its mutations."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from tests.support.fuzz_wire import (
    NOW,
    SOH,
    Field,
    Fuzzed,
    Tag,
    Value,
    as_bytes,
    shown,
)

NON_UTF8: list[Value] = [
    b"\xff\xfe",
    b"\xc3\x28",
    b"\x80",
    b"BTC-HKD\xff",
    b"\xed\xa0\x80",  # a UTF-8 encoded surrogate
    b"\xc0\xaf",  # an overlong '/'
    b"\xf8\x88\x80\x80\x80",
    b"7\xfe00000",
]
CONTROL: list[Value] = [
    "\x00",
    "a\x07b",
    "\x7f",
    "\t",
    "1\r\n",
    "\x1b[2J",
    "x\x00y",
    "\x0b",
    "\x1f",
]
INT_EDGES = [
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "1" + "0" * 30,
    "9" * 64,
    "1e308",
    "1e-308",
    "NaN",
    "inf",
    "-inf",
    "0x10",
    "1_000",
    "+1",
    "1.",
    ".5",
    "00000000000000000001",
    "1E3",
    "0.000000000000000000001",
    "١٢",  # Arabic-Indic digits: isdigit() is True for them
]
NONPOSITIVE = ["0", "-0", "-1", "-0.0001", "0.0", "-700000", "-0.00000001", "-9223372036854775808"]
OFF_TICK_PRICES = ["700000.5", "700000.01", "699999.9999", "700000.00000001", "1e5"]
OFF_LOT_QTYS = ["0.00001", "0.00015", "0.000000001", "1e-4", "0.0001000000000000001"]
OUT_OF_BAND = ["1", "100000000", "664999", "735001", "0.0001"]
SYMBOLS: list[Value] = [
    "BTC-USD",
    "btc-hkd",
    "BTC-HKD ",
    " BTC-HKD",
    "BTC_HKD",
    "BTC",
    "HKD",
    "XBT-HKD",
    "*",
    "%s%n",
    "'; DROP TABLE orders; --",
    "BTC-HKD,BTC-HKD",
    "X" * 64,
    "..",
    "\\",
    "BTC-HKD",
    "NONE",
]
WORDS: list[Value] = ["x", "CLIENT1", "CLIENT2", "MM1", "FIXGW", "Y", "N", "1", "2", "7", "?"]
# data fields and their length fields: (length tag, data tag, where the dictionary has it)
DATA_FIELDS = [
    (354, 355, "body"),  # EncodedText
    (348, 349, "body"),  # EncodedIssuer
    (350, 351, "body"),  # EncodedSecurityDesc
    (362, 363, "body"),  # EncodedUnderlyingIssuer
    (364, 365, "body"),  # EncodedUnderlyingSecurityDesc
    (618, 619, "body"),  # EncodedLegIssuer
    (95, 96, "body"),  # RawData (a Logon field: not defined for these messages)
    (212, 213, "header"),  # XmlData
    (90, 91, "header"),  # SecureData
    (93, 89, "trailer"),  # Signature
]
# mostly the ones the supported messages define (EncodedText, the header's, Signature)
DATA_WEIGHTS = [6, 2, 2, 1, 1, 1, 1, 2, 2, 2]
LENGTH_TAGS = frozenset(length for length, _, _ in DATA_FIELDS)
UNKNOWN_TAGS: list[Tag] = [
    9999,
    5000,
    7777,
    20000,
    65535,
    2147483647,
    0,
    "2147483648",
    "99999999999",
    "-1",
    "055",
    "0011",
    "+54",
    " 38",
    "44 ",
    "abc",
    "",
]
UNSUPPORTED_TYPES = ["ZZ", "E", "AE", "U1", "8", "j", "AB", "s", "AC", "c", "BE", "W", "AN"]


class Mutator:
    """Application messages of the supported types, with seeded mutations.

    Values are drawn from garbage and BTC-HKD only, never ETH-HKD (where the bystander
    rests), so nothing CLIENT2 may legitimately do can trade with it: ETH-HKD and CLIENT1
    appear only inside a data field's value (which QuickFIX frames by its length, SOH and
    all), which the gateway must refuse and never read as fields. (After a bare SOH, text
    is a field like any other, so that mutation never adds ETH-HKD.)
    """

    TYPES = ("D", "F", "G", "q", "H", "AF", "V", "x", "BB")

    def __init__(self, seed: int, foreign_ids: Sequence[str], foreign_order_ids: Sequence[str]):
        self.rng = random.Random(seed)
        self.foreign_ids = list(foreign_ids)
        self.foreign_order_ids = list(foreign_order_ids)
        self.own_ids: list[str] = []  # ClOrdIDs this run sent in D and G
        self.md_ids: list[str] = []  # MDReqIDs this run sent
        self._smuggled = 0
        weights: dict[Callable[[Fuzzed], str], float] = {
            self._non_utf8: 8,
            self._control: 7,
            self._long: 6,
            self._empty: 5,
            self._int_edge: 8,
            self._nonpositive: 6,
            self._off_tick: 5,
            self._symbol: 6,
            self._duplicate: 6,
            self._data_field: 12,
            self._drop: 6,
            self._unknown_tag: 5,
            self._group_count: 5,
            self._participant: 5,
            self._soh_in_value: 3,
            self._byte_flip: 3,
            self._reorder: 2,
            self._msg_type: 2,
            self._header: 1.2,
        }
        self._mutations = list(weights)
        self._weights = list(weights.values())

    # -- MESSAGES --

    def message(self, index: int) -> Fuzzed:
        """Message `index`: a well-formed message of a random type, then 0 to 3 mutations
        (3 % go unmutated, as controls)."""
        msg_type = self.TYPES[self.rng.randrange(len(self.TYPES))]
        fuzzed = Fuzzed(index, msg_type, self.base(msg_type, f"fz{index}"))
        if self.rng.random() >= 0.03:
            count = self.rng.choices((1, 2, 3), (6, 3, 1))[0]
            for mutate in self.rng.choices(self._mutations, self._weights, k=count):
                fuzzed.mutations.append(mutate(fuzzed))
        return fuzzed

    def base(self, msg_type: str, uid: str) -> list[Field]:
        rng = self.rng
        side = rng.choice(("1", "2"))
        price = str(rng.randint(680000, 720000))
        qty = rng.choice(("0.0001", "0.001", "0.01", "0.1", "1", "49.9999"))
        if msg_type == "D":
            self.own_ids.append(uid)
            body: list[Field] = [(11, uid), (55, "BTC-HKD"), (54, side), (38, qty)]
            draw = rng.random()
            if draw < 0.15:
                body += [(40, "1"), (59, rng.choice(("3", "4")))]  # market: IOC or FOK
            else:
                body += [(40, "2"), (44, price), (59, rng.choice(("0", "1", "3", "4")))]
                if draw < 0.25:
                    body += [(18, "6")]
                elif draw < 0.3:
                    body = [(t, "6" if t == 59 else v) for t, v in body]
                    body += [(126, "20991231-00:00:00")]
            return [*body, (60, NOW)]
        if msg_type in ("F", "G", "H"):
            orig = self._someone_elses_or_mine()
            id_field: list[Field] = [(790, uid), (11, orig)] if msg_type == "H" else [(11, uid)]
            body = [*id_field, (55, "BTC-HKD"), (54, side)]
            if msg_type != "H":
                body.insert(1, (41, orig))
            if rng.random() < 0.3 and self.foreign_order_ids:
                body.append((37, rng.choice(self.foreign_order_ids)))
            elif rng.random() < 0.2:
                body.append((37, str(rng.randint(1, 10_000))))
            if msg_type == "G":
                self.own_ids.append(uid)
                body += [(38, qty), (40, "2"), (44, price)]
            if msg_type != "H":
                body.append((60, NOW))
            return body
        if msg_type == "q":
            if rng.random() < 0.5:
                return [(11, uid), (530, "7"), (60, NOW)]
            return [(11, uid), (530, "1"), (55, "BTC-HKD"), (60, NOW)]
        if msg_type == "AF":
            if rng.random() < 0.5:
                return [(584, uid), (585, "7")]
            return [(584, uid), (585, "1"), (55, "BTC-HKD")]
        if msg_type == "V":
            kind = rng.choice(("0", "0", "1", "2"))
            md_id = rng.choice(self.md_ids) if kind == "2" and self.md_ids else uid
            self.md_ids.append(md_id)
            body = [(262, md_id), (263, kind), (264, rng.choice(("0", "1", "5")))]
            if kind == "1":
                body.append((265, rng.choice(("0", "1"))))
            types = rng.sample(("0", "1", "2"), rng.randint(1, 3))
            body += [(267, str(len(types))), *[(269, t) for t in types]]
            return [*body, (146, "1"), (55, "BTC-HKD")]
        if msg_type == "x":
            if rng.random() < 0.5:
                return [(320, uid), (559, "4")]
            return [(320, uid), (559, "0"), (55, "BTC-HKD")]
        assert msg_type == "BB", msg_type
        body = [(909, uid)]
        if rng.random() < 0.4:
            body.append((15, rng.choice(("HKD", "BTC", "ETH"))))
        if rng.random() < 0.3:
            body.append((1, "CLIENT2"))
        if rng.random() < 0.3:
            body.append((263, "0"))
        return body

    def _someone_elses_or_mine(self) -> str:
        rng = self.rng
        if self.foreign_ids and rng.random() < 0.4:
            return rng.choice(self.foreign_ids)
        if self.own_ids and rng.random() < 0.8:
            return rng.choice(self.own_ids[-50:])
        return f"nope{rng.randrange(1000)}"

    # -- MUTATIONS: each changes `m` and says how --

    def _at(self, m: Fuzzed, tags: Sequence[int] = ()) -> int:
        """A body index: one of `tags` if the body has any, else any field but a data
        field's length (a length pointing outside the message is a known crash, kept to
        its own test: test_a_data_length_outside_the_message_...)."""
        rng = self.rng
        free = [i for i, (t, _) in enumerate(m.body) if t not in LENGTH_TAGS]
        wanted = [i for i in free if m.body[i][0] in tags]
        if wanted and rng.random() < 0.8:
            return rng.choice(wanted)
        return rng.choice(free) if free else -1

    def _replace(self, m: Fuzzed, value: Value, tags: Sequence[int] = ()) -> str:
        i = self._at(m, tags)
        if i < 0:
            m.body.append((9999, value))
            return f"add 9999={value!r}"
        tag = m.body[i][0]
        m.body[i] = (tag, value)
        return f"{tag}={shown(as_bytes(value), 60)}"

    def _non_utf8(self, m: Fuzzed) -> str:
        return "non-UTF-8 " + self._replace(m, self.rng.choice(NON_UTF8), (11, 55, 262, 909))

    def _control(self, m: Fuzzed) -> str:
        value = self.rng.choice(CONTROL)
        if self.rng.random() < 0.5:  # around a value that would otherwise be good
            i = self._at(m)
            if i >= 0:
                tag, old = m.body[i]
                m.body[i] = (tag, as_bytes(old) + as_bytes(value))
                return f"control char appended to {tag}: {value!r}"
        return "control " + self._replace(m, value)

    def _long(self, m: Fuzzed) -> str:
        rng = self.rng
        size = rng.choice((65, 66, 100, 1000, 4000, 4097, 20000, 70000))
        value = rng.choice(("9", "A", "0", "1.")) * size
        return f"long ({size}) " + self._replace(m, value[:size])

    def _empty(self, m: Fuzzed) -> str:
        return "empty " + self._replace(m, "")

    def _int_edge(self, m: Fuzzed) -> str:
        numeric = (38, 44, 37, 264, 267, 146, 530, 585, 559, 263, 54, 40, 59, 18, 15)
        return "number " + self._replace(m, self.rng.choice(INT_EDGES), numeric)

    def _nonpositive(self, m: Fuzzed) -> str:
        return "non-positive " + self._replace(m, self.rng.choice(NONPOSITIVE), (38, 44, 264))

    def _off_tick(self, m: Fuzzed) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return "off-lot " + self._replace(m, rng.choice(OFF_LOT_QTYS), (38,))
        if rng.random() < 0.3:
            return "out of band " + self._replace(m, rng.choice(OUT_OF_BAND), (44,))
        return "off-tick " + self._replace(m, rng.choice(OFF_TICK_PRICES), (44,))

    def _symbol(self, m: Fuzzed) -> str:
        symbol = self.rng.choice(SYMBOLS)
        if not any(t == 55 for t, _ in m.body):
            m.body.insert(self.rng.randint(0, len(m.body)), (55, symbol))
            return f"add 55={symbol!r}"
        return "symbol " + self._replace(m, symbol, (55,))

    def _value(self) -> Value:
        rng = self.rng
        pools: list[list[Value]] = [WORDS, SYMBOLS, [*INT_EDGES], NON_UTF8]
        return rng.choice(rng.choices(pools, (6, 2, 2, 1))[0])

    def _duplicate(self, m: Fuzzed) -> str:
        i = self._at(m, (11, 55, 54, 38, 44, 40, 262, 263, 584, 909))
        if i < 0:
            return "nothing to duplicate"
        tag, value = m.body[i]
        if self.rng.random() < 0.5:
            value = self._value()
        m.body.insert(self.rng.randint(0, len(m.body)), (tag, value))
        return f"duplicate {tag}={shown(as_bytes(value), 40)}"

    def _data_field(self, m: Fuzzed) -> str:
        """A data field whose length field is right, so the value (with SOH and whole
        tag=value fields in it) is read as data; now and then in the wrong part of the
        message, or alone."""
        rng = self.rng
        length_tag, data_tag, where = rng.choices(DATA_FIELDS, DATA_WEIGHTS)[0]
        payload = rng.choice(("", "x", "abc=")).encode() + self._smuggle()
        if rng.random() < 0.3:
            payload += self._smuggle()
        length = len(payload)
        if rng.random() < 0.1:  # wrong, but inside the message: QuickFIX splits elsewhere
            length = max(0, length + rng.choice((-length, -1, 1, 3)))
        pair: list[Field] = [(length_tag, str(length)), (data_tag, payload)]
        if rng.random() < 0.05:
            pair = [pair[1]]  # no length field: QuickFIX cannot frame the value
        place = where if rng.random() < 0.85 else rng.choice(("header", "body", "trailer"))
        target = {"header": m.header, "body": m.body, "trailer": m.trailer}[place]
        # never between another data field and its length
        spots = [i for i in range(len(target) + 1) if i == 0 or target[i - 1][0] not in LENGTH_TAGS]
        at = rng.choice(spots)
        target[at:at] = pair
        return f"data {length_tag}={length}/{data_tag} in {place}: {shown(payload, 80)}"

    def _smuggle(self) -> bytes:
        """Fields hidden in a data field's value: were the gateway to read them, they would
        trade with, cancel or act as the bystander (CLIENT1, resting on ETH-HKD)."""
        rng = self.rng
        self._smuggled += 1
        cid = f"smuggled{self._smuggled}"
        foreign = rng.choice(self.foreign_ids) if self.foreign_ids else "CLIENT1-1"
        order_id = rng.choice(self.foreign_order_ids) if self.foreign_order_ids else "1"
        cross = rng.choice(("54=1\x0138=1.5\x0144=25100", "54=2\x0138=2\x0144=24900"))
        choices = [
            f"\x0111={cid}\x0155=ETH-HKD\x01{cross}\x0140=2\x0159=1\x01",  # crosses it
            f"\x0149=CLIENT1\x0111={cid}\x0155=ETH-HKD\x01{cross}\x0140=2\x01",
            f"\x0135=F\x0111={cid}\x0141={foreign}\x0137={order_id}\x0155=ETH-HKD\x0154=1\x01",
            f"\x0135=q\x0111={cid}\x01530=7\x0149=CLIENT1\x01",
            "\x0149=CLIENT1\x01",
            "\x011=CLIENT1\x01448=CLIENT1\x01447=D\x01452=3\x01",
            "\x0110=000\x018=FIX.4.4\x019=5\x0135=0\x01",
            "\x0135=F\x0156=FIXGW\x0134=1\x01",
            "",
        ]
        smuggled = rng.choices(choices, (6, 3, 3, 2, 1, 1, 1, 1, 1))[0].encode()
        return smuggled if rng.random() < 0.9 else smuggled + b"\xff\x00\x01=\x01==\x01"

    def _drop(self, m: Fuzzed) -> str:
        i = self._at(m)
        if i < 0:
            return "nothing to drop"
        tag, _ = m.body.pop(i)
        return f"drop {tag}"

    def _unknown_tag(self, m: Fuzzed) -> str:
        tag = self.rng.choice(UNKNOWN_TAGS)
        value = self._value()
        m.body.insert(self.rng.randint(0, len(m.body)), (tag, value))
        return f"tag {tag!r}={shown(as_bytes(value), 40)}"

    def _group_count(self, m: Fuzzed) -> str:
        """NoMDEntryTypes(267) / NoRelatedSym(146) that do not match their entries (or any
        NumInGroup on the other types)."""
        rng = self.rng
        counts = [i for i, (t, _) in enumerate(m.body) if t in (146, 267)]
        if not counts:
            tag = rng.choice((146, 267, 453, 78, 386))
            m.body.insert(rng.randint(0, len(m.body)), (tag, rng.choice(("1", "2", "0"))))
            return f"stray group count {tag}"
        i = rng.choice(counts)
        count_tag, value = m.body[i]
        choice = rng.random()
        if choice < 0.2:
            del m.body[i]
            return f"drop count {count_tag} (entries stay)"
        if choice < 0.35:
            entry = 55 if count_tag == 146 else 269
            entries = [j for j, (t, _) in enumerate(m.body) if t == entry]
            if entries:
                del m.body[rng.choice(entries)]
                return f"drop an entry of {count_tag}"
        if choice < 0.5:
            entry_field: Field = (55, "BTC-HKD") if count_tag == 146 else (269, rng.choice("0123"))
            m.body.insert(i + 1, entry_field)
            return f"extra entry in {count_tag}: {entry_field}"
        text = as_bytes(value).decode("latin-1")
        near = (
            [str(int(text) + d) for d in (-1, 1, 2)] if text.isdecimal() and text.isascii() else []
        )
        count = rng.choice([*near, "0", "-1", "1000000", "abc", ""])
        m.body[i] = (count_tag, count)
        return f"count {count_tag}={count!r}"

    def _participant(self, m: Fuzzed) -> str:
        """Another participant named in the text: Account, OnBehalfOf, DeliverTo, Parties."""
        rng = self.rng
        who = rng.choice(("CLIENT1", "MM1", "FIXGW"))
        choice = rng.randrange(5)
        if choice == 0:
            m.body.insert(rng.randint(0, len(m.body)), (1, who))
            return f"Account 1={who}"
        if choice == 1:
            m.body += [(453, "1"), (448, who), (447, "D"), (452, "3")]
            return f"Parties 448={who}"
        tag = (115, 128, 50)[choice - 2]
        m.header.append((tag, who))
        return f"header {tag}={who}"

    def _soh_in_value(self, m: Fuzzed) -> str:
        rng = self.rng
        i = self._at(m)
        if i < 0:
            return "nothing to split"
        tag, value = m.body[i]
        # a field after an SOH is a field like any other: never ETH-HKD here
        extra = rng.choice(
            (b"49=CLIENT1", b"55=BTC-HKD", b"54=2", b"11=evil", b"1=CLIENT1", b"garbage", b"=",
             b"", b"10=000")
        )  # fmt: skip
        m.body[i] = (tag, as_bytes(value) + SOH + extra)
        return f"SOH in {tag}: +{extra!r}"

    def _byte_flip(self, m: Fuzzed) -> str:
        rng = self.rng
        i = self._at(m)
        if i < 0:
            return "nothing to flip"
        tag, value = m.body[i]
        data = bytearray(as_bytes(value) or b"0")
        at = rng.randrange(len(data))
        data[at] = rng.randrange(256)
        m.body[i] = (tag, bytes(data))
        return f"byte {at} of {tag} -> {data[at]:#04x}"

    def _reorder(self, m: Fuzzed) -> str:
        self.rng.shuffle(m.body)
        return "shuffled body"

    def _msg_type(self, m: Fuzzed) -> str:
        msg_type = self.rng.choice(UNSUPPORTED_TYPES)
        m.overrides[35] = msg_type
        return f"MsgType {msg_type}"

    def _header(self, m: Fuzzed) -> str:
        """The header: the few changes that end the session (a CompID, a stale SendingTime)
        and some that should not."""
        rng = self.rng
        choice = rng.randrange(8)
        if choice == 0:
            m.overrides[49] = "CLIENT1"
            return "SenderCompID CLIENT1"
        if choice == 1:
            m.overrides[56] = rng.choice(("FIXGX", "CLIENT1"))
            return f"TargetCompID {m.overrides[56]!r}"
        if choice == 2:
            m.overrides[52] = rng.choice(("20000101-00:00:00", "29991231-23:59:59", "garbage"))
            return f"SendingTime {m.overrides[52]!r}"
        extra = [
            [(43, "Y")],  # PossDupFlag without OrigSendingTime
            [(43, "Y"), (122, "20000101-00:00:00")],
            [(97, "Y")],
            [(347, rng.choice(("UTF-8", "ISO-2022-JP", "\xff")))],
            [(369, rng.choice(("1", "-1", "9223372036854775808")))],
        ][choice - 3]
        m.header += extra
        return f"header {extra}"
