"""Baseline: a bare QuickFIX-Python acceptor that answers each NewOrderSingle with a canned
ExecutionReport New (and an IOC one with New then Canceled, a cancel with Canceled, as the
gateway does when nothing matches) — QuickFIX's own cost with no engine, to compare the
gateway against.

    python -m bench.echo_acceptor --port N --data-dir DIR --comp-id CLIENT1 [--comp-id ...]
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

import quickfix as fix

from fixgw.fix.messages import message


class EchoApp(fix.Application):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self._next = 0

    def onCreate(self, *_: Any) -> None:  # noqa: N802
        return None

    def onLogon(self, *_: Any) -> None:  # noqa: N802
        return None

    def onLogout(self, *_: Any) -> None:  # noqa: N802
        return None

    def toAdmin(self, *_: Any) -> None:  # noqa: N802
        return None

    def fromAdmin(self, *_: Any) -> None:  # noqa: N802
        return None

    def toApp(self, *_: Any) -> None:  # noqa: N802
        return None

    def fromApp(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        cancel = msg.getHeader().getField(35) == "F"
        ioc = not cancel and msg.isSetField(59) and msg.getField(59) == "3"
        cid = msg.getField(11)
        for status in ("4",) if cancel else ("0", "4") if ioc else ("0",):
            self._next += 1
            reply = message(
                "8",
                [
                    (37, str(self._next)),
                    (11, cid),
                    (17, str(self._next)),
                    (150, status),
                    (39, status),
                    (55, "BTC-HKD"),
                    (54, "1"),
                    (151, "0.1" if status == "0" else "0"),
                    (14, "0"),
                    (6, "0"),
                ],
            )
            fix.Session.sendToTarget(reply, session_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--comp-id", action="append", help="a client CompID (repeatable)")
    parser.add_argument("--store", choices=("file", "memory"), default="file")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    cfg = args.data_dir / "echo.cfg"
    cfg.write_text(
        "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptHost=127.0.0.1\n"
        f"SocketAcceptPort={args.port}\nSocketNodelay=Y\nStartTime=00:00:00\nEndTime=00:00:00\n"
        f"UseDataDictionary=N\nFileStorePath={args.data_dir / 'store'}\n"
        f"ResetOnLogon={'Y' if args.store == 'memory' else 'N'}\n"
        + "".join(
            f"[SESSION]\nBeginString=FIX.4.4\nSenderCompID=FIXGW\nTargetCompID={comp_id}\n"
            for comp_id in args.comp_id or ["CLIENT1"]
        )
    )
    settings = fix.SessionSettings(str(cfg))
    store = fix.FileStoreFactory(settings) if args.store == "file" else fix.MemoryStoreFactory()
    app = EchoApp()
    acceptor = fix.SocketAcceptor(app, store, settings)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    acceptor.start()
    print(f"echo: listening on 127.0.0.1:{args.port}", flush=True)
    stopping.wait()
    acceptor.stop()


if __name__ == "__main__":
    main()
