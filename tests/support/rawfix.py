"""A bare FIX 4.4 session over a plain socket, for sending what no FIX engine would send.

It frames messages itself (BodyLength, CheckSum), so a test can corrupt exactly one thing,
and reads replies frame by frame with a timeout; it never sleeps.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence

SOH = "\x01"


Value = str | bytes  # bytes for what no text can say: bytes that are not UTF-8


def frame(body_fields: Sequence[tuple[int, Value]], *, body_length_delta: int = 0,
          checksum_delta: int = 0, begin_string: str = "FIX.4.4") -> bytes:  # fmt: skip
    body = b"".join(
        f"{tag}=".encode() + (value if isinstance(value, bytes) else value.encode()) + b"\x01"
        for tag, value in body_fields
    )
    head = f"8={begin_string}{SOH}9={len(body) + body_length_delta}{SOH}".encode()
    checksum = (sum(head + body) + checksum_delta) % 256
    return head + body + f"10={checksum:03d}{SOH}".encode()


def parse(raw: bytes) -> dict[int, str]:
    return {int(t): v for t, _, v in (p.partition("=") for p in raw.decode().split(SOH) if p)}


class RawSession:
    def __init__(
        self, port: int, comp_id: str, begin_string: str = "FIX.4.4", target: str = "FIXGW"
    ) -> None:
        self.comp_id = comp_id
        self.target = target
        self.begin_string = begin_string
        self.seq = 1
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def message(
        self,
        msg_type: str,
        fields: Sequence[tuple[int, Value]],
        header_extra: Sequence[tuple[int, Value]] = (),
        *,
        checksum_delta: int = 0,
        body_length_delta: int = 0,
    ) -> bytes:
        """Frame the next message of this session (and advance the sequence number);
        `header_extra` are header fields after SendingTime (PossResend 97, ...)."""
        stamp = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
        header: list[tuple[int, Value]] = [(35, msg_type), (49, self.comp_id), (56, self.target),
                                           (34, str(self.seq)), (52, stamp),
                                           *header_extra]  # fmt: skip
        self.seq += 1
        return frame(
            [*header, *fields],
            body_length_delta=body_length_delta,
            checksum_delta=checksum_delta,
            begin_string=self.begin_string,
        )

    def send(
        self,
        msg_type: str,
        fields: Sequence[tuple[int, Value]],
        header_extra: Sequence[tuple[int, Value]] = (),
        *,
        checksum_delta: int = 0,
        body_length_delta: int = 0,
    ) -> None:
        self.send_raw(
            self.message(
                msg_type,
                fields,
                header_extra,
                checksum_delta=checksum_delta,
                body_length_delta=body_length_delta,
            )
        )

    def logon(self, password: str) -> dict[int, str]:
        self.send("A", [(98, "0"), (108, "30"), (141, "Y"), (553, self.comp_id),
                        (554, password)])  # fmt: skip
        return self.receive()

    def receive(self, timeout: float = 10) -> dict[int, str]:
        """The next whole message; raises TimeoutError if none comes."""
        self.sock.settimeout(timeout)
        while True:
            end = self._buffer.find(f"{SOH}10=".encode())
            if end >= 0 and len(self._buffer) >= end + 8:
                message, self._buffer = self._buffer[: end + 8], self._buffer[end + 8 :]
                return parse(message)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            self._buffer += chunk

    def closed_by_peer(self, timeout: float = 10) -> bool:
        """Whether the gateway closes this socket (reading and dropping anything first)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionResetError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.sock.close()
