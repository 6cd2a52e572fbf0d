"""The fuzz campaign's wire (tests/e2e/test_gateway_fuzz.py): messages as sent, replies as read,
and `FuzzSession`, a raw-socket session that sends each fuzzed message, fences it and keeps
going whatever the message did to the session."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

SOH = b"\x01"
Tag = int | str  # a str for tags no FIX engine writes: "055", "-1", "abc"
Value = str | bytes  # bytes for what no text can say: bytes that are not UTF-8
Field = tuple[Tag, Value]
NOW = "20261121-10:00:00.000"
# the ids a reply to each type echoes: ClOrdID, OrigClOrdID, OrdStatusReqID,
# MassStatusReqID, MDReqID, SecurityReqID, CollInquiryID
ECHOED = {
    "D": (11,),
    "F": (11, 41),
    "G": (11, 41),
    "q": (11,),
    "H": (11, 790),
    "AF": (584,),
    "V": (262,),
    "x": (320,),
    "BB": (909,),
}
ID_TAGS = (11, 41, 790, 584, 262, 320, 909)


def as_bytes(value: Value) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def encode(fields: Sequence[Field]) -> bytes:
    return b"".join(f"{tag}=".encode() + as_bytes(value) + SOH for tag, value in fields)


def frame(fields: Sequence[Field]) -> bytes:
    """BeginString, BodyLength and CheckSum around `fields` (both computed, always right)."""
    body = encode(fields)
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def sending_time() -> str:
    now = time.time()
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}"


def shown(data: bytes, limit: int = 400) -> str:
    text = repr(data.replace(SOH, b"|"))
    return text if len(text) <= limit else f"{text[:limit]}... ({len(data)} bytes)"


# -- WHAT THE GATEWAY SENDS --


class Reply:
    """One message from the gateway, kept as bytes; `get` is a tag's last value."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.pairs: list[tuple[str, str]] = []
        for part in raw.decode("latin-1").split("\x01"):
            if part:
                tag, _, value = part.partition("=")
                self.pairs.append((tag, value))
        self.fields = dict(self.pairs)

    @property
    def type(self) -> str:
        return self.fields.get("35", "")

    def get(self, tag: int) -> str | None:
        return self.fields.get(str(tag))

    def all(self, tag: int) -> list[str]:
        return [v for t, v in self.pairs if t == str(tag)]

    def malformed(self) -> list[tuple[str, str]]:
        """What is wrong with this message as FIX text, as (tag, problem) pairs: every tag
        must be a number, every value present and printable ASCII."""
        found = []
        for tag, value in self.pairs:
            if not tag.isdigit():
                found.append((tag, "is not a number"))
            elif value == "":
                found.append((tag, "has an empty value"))
            elif any(not 0x20 <= ord(c) <= 0x7E for c in value):
                found.append((tag, f"holds {value!r}, not printable ASCII"))
        return found

    def __repr__(self) -> str:
        return shown(self.raw, 600)


class Wire:
    """A plain socket to the gateway, read frame by frame (BodyLength decides the end)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, timeout: float) -> Reply:
        """The next whole message; TimeoutError if none comes, ConnectionError at the end."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._take()
            if message is not None:
                return Reply(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"nothing within {timeout}s")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            self._buffer += chunk

    def _take(self) -> bytes | None:
        head = b"8=FIX.4.4\x019="
        if len(self._buffer) < len(head):
            return None
        if not self._buffer.startswith(head):
            raise AssertionError(f"the gateway sent a malformed frame: {shown(self._buffer)}")
        end = self._buffer.find(SOH, len(head))
        if end < 0:
            return None
        total = end + 1 + int(self._buffer[len(head) : end]) + len(b"10=000\x01")
        if len(self._buffer) < total:
            return None
        message, self._buffer = self._buffer[:total], self._buffer[total:]
        if not message[-7:-4] == b"10=":
            raise AssertionError(f"the gateway sent a malformed frame: {shown(message)}")
        return message

    def closed(self, timeout: float) -> bool:
        """Whether the gateway ends the connection within `timeout` (dropping what it sends)."""
        deadline = time.monotonic() + timeout
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                if not self.sock.recv(1 << 16):
                    return True
        except TimeoutError:
            return False
        except OSError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


# -- THE MESSAGES --


@dataclass
class Fuzzed:
    """One application message as it goes on the wire: standard header fields (35, 49, 56,
    34, 52) are added at sending, with `overrides` replacing any of them."""

    index: int
    msg_type: str
    body: list[Field]
    header: list[Field] = field(default_factory=list)  # after the standard header fields
    trailer: list[Field] = field(default_factory=list)  # before CheckSum
    overrides: dict[int, Value] = field(default_factory=dict)
    mutations: list[str] = field(default_factory=list)

    def wire(self) -> bytes:
        """The message from MsgType on, as sent (less the standard header fields)."""
        msg_type = self.overrides.get(35, self.msg_type)
        return encode([(35, msg_type), *self.header, *self.body, *self.trailer])

    def parsed(self) -> list[tuple[str, str]]:
        """The fields as a reader splitting on SOH sees them (QuickFIX does the same unless
        a data field is framed by its length; the gateway refuses any such message)."""
        pairs = []
        for part in self.wire().decode("latin-1").split("\x01"):
            if part:
                tag, _, value = part.partition("=")
                pairs.append((tag, value))
        return pairs

    def values(self, tag: int) -> list[str]:
        return [v for t, v in self.parsed() if t == str(tag)]

    def last(self, tag: int) -> str | None:
        sent = self.values(tag)
        return sent[-1] if sent else None

    def ids(self) -> set[str]:
        """The ids a reply to this message may echo (all of them, if its MsgType was
        changed: the reply then names its MsgSeqNum instead)."""
        tags = ID_TAGS if 35 in self.overrides else ECHOED[self.msg_type]
        return {v for tag in tags for v in self.values(tag) if v}

    def describe(self) -> str:
        return f"#{self.index} {self.msg_type} mutations={self.mutations} {shown(self.wire())}"


# -- THE SESSION --


@dataclass
class Outcome:
    kind: str  # "answered" (something came back), "garbled" (ignored), "logout", "dropped"
    seq: int  # the MsgSeqNum it was sent with
    replies: list[Reply]  # everything else the gateway sent before the fences completed
    text: str = ""  # a Logout's Text


class FuzzSession:
    """A raw session as one participant. After each fuzzed message it sends two fences: a
    TestRequest, whose Heartbeat QuickFIX's thread sends at once, and a MarketDataRequest
    snapshot (V), answered by the engine thread after everything queued before it (and, as
    market data, after the other replies of its batch). Once both are back, every answer to
    the fuzzed message has arrived."""

    def __init__(self, port: int, comp_id: str, password: str, timeout: float = 10) -> None:
        self.port = port
        self.comp_id = comp_id
        self.password = password
        self.timeout = timeout
        self.logons = 0
        self.settles = 0
        self.stale = 0  # replies to the connection before, dropped by `_settle`
        self.seq = 1
        self.wire = self._logon()

    def _logon(self) -> Wire:
        """Log on with ResetSeqNumFlag; the previous connection may not be gone from the
        gateway's side yet, so a refused attempt is retried (a few times, no waiting)."""
        failures = []
        for _ in range(20):
            wire = Wire(self.port, self.timeout)
            self.seq = 1
            logon = [(98, "0"), (108, "30"), (141, "Y"), (553, self.comp_id), (554, self.password)]
            wire.send(self.frame("A", logon))
            try:
                reply = wire.receive(self.timeout)
            except (ConnectionError, OSError) as failure:
                failures.append(repr(failure))
                wire.close()
                continue
            assert reply.type == "A", f"{self.comp_id}: logon answered with {reply}"
            self.logons += 1
            return wire
        raise AssertionError(f"{self.comp_id}: could not log on again: {failures}")

    def frame(
        self,
        msg_type: str,
        body: Sequence[Field],
        seq: int | None = None,
        header: Sequence[Field] = (),
        trailer: Sequence[Field] = (),
        overrides: dict[int, Value] | None = None,
    ) -> bytes:
        """A message of this session, with the next MsgSeqNum unless `seq` is given."""
        if seq is None:
            seq, self.seq = self.seq, self.seq + 1
        standard: dict[int, Value] = {
            35: msg_type,
            49: self.comp_id,
            56: "FIXGW",
            34: str(seq),
            52: sending_time(),
        }
        standard.update(overrides or {})
        return frame([*standard.items(), *header, *body, *trailer])

    def send(self, msg_type: str, body: Sequence[Field]) -> int:
        seq = self.seq
        self.wire.send(self.frame(msg_type, body))
        return seq

    def exchange(self, fuzzed: Fuzzed, fence_id: str) -> Outcome:
        """Send `fuzzed` and both fences; read until the fences are back."""
        seq = self.seq
        data = self.frame(
            fuzzed.msg_type, fuzzed.body, None, fuzzed.header, fuzzed.trailer, fuzzed.overrides
        )
        test_seq = self.seq
        fences = self.frame("1", [(112, fence_id)]) + self.frame("V", snapshot_request(fence_id))
        self.wire.send(data + fences)
        return self.collect(seq, test_seq, fence_id)

    def collect(self, seq: int, test_seq: int, fence_id: str) -> Outcome:
        replies: list[Reply] = []
        heartbeat = snapshot = garbled = False
        while not (heartbeat and snapshot):
            try:
                reply = self.wire.receive(self.timeout)
            except ConnectionError:
                self._reconnect(None)
                return Outcome("dropped", seq, replies)
            if reply.type == "0" and reply.get(112) == fence_id:
                heartbeat = True
            elif reply.type in ("W", "Y") and reply.get(262) == fence_id:
                assert reply.type == "W", f"the fence was refused: {reply}"
                snapshot = True
            elif reply.type == "1":  # the gateway's own TestRequest
                self.wire.send(self.frame("0", [(112, reply.get(112) or "")]))
            elif reply.type == "2":  # our message was garbled: fill the gap it left
                begin = int(reply.get(7) or 0)
                assert seq <= begin < test_seq, f"ResendRequest for {begin}, sent {seq}: {reply}"
                garbled = True
                self.wire.send(self.gap_fill(begin, test_seq))
            elif reply.type == "5":
                self._reconnect(reply)
                return Outcome("logout", seq, [*replies, reply], reply.get(58) or "")
            else:
                replies.append(reply)
        return Outcome("garbled" if garbled else "answered", seq, replies)

    def gap_fill(self, begin: int, new_seq: int) -> bytes:
        stamp = sending_time()
        return self.frame(
            "4",
            [(123, "Y"), (36, str(new_seq))],
            seq=begin,
            header=[(43, "Y"), (122, stamp)],
        )

    def _reconnect(self, logout: Reply | None) -> None:
        """After the gateway's Logout: answer it, wait for the gateway to end the connection
        (so the session is free again), log on anew."""
        if logout is not None:
            try:
                self.wire.send(self.frame("5", []))
                self.wire.closed(self.timeout)
            except OSError:
                pass
        self.wire.close()
        self.wire = self._logon()
        self._settle()

    def _settle(self) -> None:
        """Fence the new connection once, dropping what comes first: the engine thread's
        replies to requests of the connection before (queued ahead of its end) are sent into
        this one, the session being the same."""
        self.settles += 1
        fence_id = f"settle{self.settles}"
        test_seq = self.seq
        self.wire.send(
            self.frame("1", [(112, fence_id)]) + self.frame("V", snapshot_request(fence_id))
        )
        self.stale += len(self.collect(test_seq, test_seq, fence_id).replies)

    def close(self) -> None:
        self.wire.close()


def snapshot_request(md_id: str) -> list[Field]:
    """A top-of-book snapshot request for BTC-HKD."""
    return [(262, md_id), (263, "0"), (264, "1"), (267, "1"), (269, "0"), (146, "1"),
            (55, "BTC-HKD")]  # fmt: skip
