"""The operator commands of `fixgw` (sessions, orders, instruments, book, trades, accounts,
status): each sends one request over the gateway's admin socket and shows the answer.

Exit codes: 0 done, 1 the gateway refused (the reason is printed), 2 no gateway answers at
the data dir. `--json` prints the answer as it came, for scripts.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fixgw.operator.admin_socket import socket_path
from fixgw.operator.desk import QUERIES as QUERY_OPS

REFUSED, NO_GATEWAY = 1, 2
RECORDS = (
    "status",
    "sessions.show",
    "affiliates.show",
    "margin.show",
    "margin.book",
    "perps.show",
)  # one record: shown a field per line

# group -> verb -> (arguments: (name, help, kind)); a verb of "" is the group itself
Arg = tuple[str, str, type]
VERBS: dict[str, dict[str, tuple[Arg, ...]]] = {
    "sessions": {
        "list": (),
        "show": (("id", "session (CompID)", str),),
        "logout": (("id", "session (CompID)", str),),
        "disconnect": (("id", "session (CompID)", str),),
        "reset-seq": (
            ("id", "session (CompID)", str),
            ("--sender", "next sequence number the gateway sends", int),
            ("--target", "next sequence number the gateway expects", int),
        ),
        "disable": (("id", "session (CompID)", str),),
        "enable": (("id", "session (CompID)", str),),
    },
    "orders": {
        "list": (("--session", "only this session's", str), ("--symbol", "only this one", str)),
        "cancel": (("order_id", "the venue's order id (OrderID 37)", int),),
        "cancel-all": (
            ("--session", "only this session's orders", str),
            ("--symbol", "only this instrument's orders", str),
        ),
    },
    "instruments": {
        "list": (),
        "halt": (("symbol", "instrument", str),),
        "resume": (("symbol", "instrument", str),),
        "set-band": (("symbol", "instrument", str), ("percent", "band width, e.g. 5", str)),
        "set-reference": (("symbol", "instrument", str), ("price", "reference price", str)),
    },
    "affiliates": {
        "list": (),
        "show": (("name", "affiliate venue", str),),
        "suspend": (("name", "affiliate venue", str),),
        "resume": (("name", "affiliate venue", str),),
        "settle": (
            ("name", "affiliate venue", str),
            ("--failed", "record a failed settlement batch and why", str),
        ),
    },
    "margin": {
        "show": (("id", "margin client", str),),
        "calls": (),
        "book": (),
        "set-securities": (
            ("id", "margin client", str),
            ("amount", "its securities' margin value (haircut applied), HKD", str),
            ("--as-of", "when the securities system valued them, YYYYMMDD-HH:MM:SS UTC", str),
        ),
        "load-securities": (("file", "a feed: lines of CLIENT,AMOUNT,YYYYMMDD-HH:MM:SS", str),),
        "suspend": (("id", "margin client", str),),
        "resume": (("id", "margin client", str),),
    },
    "perps": {
        "show": (("symbol", "perpetual contract", str),),
        "positions": (("--account", "only this account's", str),),
        "fund": (),
        "transfer": (
            ("id", "professional investor", str),
            ("asset", "a margin asset, e.g. USD", str),
            ("amount", "", str),
            ("--to", "perps (from spot) or spot (from perps)", str),
        ),
    },
    "book": {"": (("symbol", "instrument", str), ("--depth", "levels per side", int))},
    "trades": {"": (("--symbol", "only this instrument", str), ("--tail", "how many", int))},
    "accounts": {
        "show": (("id", "participant", str),),
        "deposit": (("id", "participant", str), ("asset", "e.g. HKD", str), ("amount", "", str)),
        "withdraw": (("id", "participant", str), ("asset", "e.g. HKD", str), ("amount", "", str)),
    },
    "status": {"": ()},
}
HELP = {
    "sessions": "FIX sessions: list, show, logout, disconnect, reset-seq, disable, enable",
    "orders": "open orders: list, cancel one, cancel-all (the kill switch)",
    "instruments": "list, halt, resume, set-band, set-reference",
    "affiliates": "the shared book: list, show, suspend, resume, settle",
    "margin": "margin financing: show, calls, book, set-securities, load-securities, "
    "suspend, resume",
    "perps": "perpetuals: show SYMBOL, positions, fund, transfer",
    "book": "an instrument's order book by price level",
    "trades": "the latest trades",
    "accounts": "balances, deposits and withdrawals",
    "status": "uptime, sessions, journal position, last commit latency",
}


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add every operator group to the `fixgw` parser; `common` carries --config/--data-dir."""
    for group, verbs in VERBS.items():
        if "" in verbs:
            parser = commands.add_parser(group, help=HELP[group], parents=[common])
            _arguments(parser, verbs[""])
            parser.set_defaults(op=group)
            continue
        parser = commands.add_parser(group, help=HELP[group])
        sub = parser.add_subparsers(dest="verb", required=True)
        for verb, arguments in verbs.items():
            _arguments(sub.add_parser(verb, parents=[common]), arguments)
            sub.choices[verb].set_defaults(op=f"{group}.{verb}")


def _arguments(parser: argparse.ArgumentParser, arguments: tuple[Arg, ...]) -> None:
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.add_argument(
        "--request-id",
        help="an action's id (default: a new one); the same id again returns the first "
        "outcome instead of acting twice",
    )
    for name, text, kind in arguments:
        parser.add_argument(name, help=text or None, type=kind)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    if args.op == "margin.load-securities":
        return _load_securities(args, data_dir)
    names = [name.lstrip("-").replace("-", "_") for name, _, _ in _spec(args.op)]
    request_id = args.request_id or uuid.uuid4().hex
    request = {
        "op": args.op,
        "args": {n: getattr(args, n) for n in names},
        "request_id": request_id,
    }
    return _send(args, data_dir, request)


def _load_securities(args: argparse.Namespace, data_dir: Path) -> int:
    """A securities margin system's feed, one `margin set-securities` per line (each with
    its own request id: a line sent twice is carried out once)."""
    try:
        lines = Path(args.file).read_text().splitlines()
    except OSError as bad:
        print(f"fixgw: cannot read {args.file}: {bad.strerror}", file=sys.stderr)
        return REFUSED
    worst = 0
    base = args.request_id or uuid.uuid4().hex
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 3:
            print(f"fixgw: {args.file}:{number}: not CLIENT,AMOUNT,AS_OF", file=sys.stderr)
            worst = REFUSED
            continue
        client, amount, as_of = fields
        request = {
            "op": "margin.set-securities",
            "args": {"id": client, "amount": amount, "as_of": as_of},
            "request_id": f"{base}-{number}",
        }
        worst = max(worst, _send(args, data_dir, request))
    return worst


def _send(args: argparse.Namespace, data_dir: Path, request: dict[str, Any]) -> int:
    request_id = request["request_id"]
    path = socket_path(data_dir)
    try:
        answer = ask(path, request)
    except (FileNotFoundError, ConnectionRefusedError):
        print(
            f"fixgw: no gateway answers at {path}; start one with `make run` "
            f"(or `fixgw serve --data-dir {data_dir}`)",
            file=sys.stderr,
        )
        return NO_GATEWAY
    except PermissionError:
        print(f"fixgw: not allowed to open {path}: run as the gateway's user", file=sys.stderr)
        return NO_GATEWAY
    if args.json:
        print(json.dumps(answer, indent=1))
    elif answer.get("ok"):
        show(answer, record=request["op"] in RECORDS)
    if answer.get("repeated") and not args.json:
        print(f"fixgw: request {request_id} was carried out before; this is its outcome")
    if not answer.get("ok"):
        print(f"fixgw: refused: {answer.get('error')}", file=sys.stderr)
        if request["op"] not in QUERY_OPS:
            print(f"fixgw: request id {request_id}", file=sys.stderr)
        return REFUSED
    return 0


def _spec(op: str) -> tuple[Arg, ...]:
    group, _, verb = op.partition(".")
    return VERBS[group][verb]


def ask(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(path))
        conn.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    answer: dict[str, Any] = json.loads(data)
    return answer


def show(answer: dict[str, Any], record: bool = False) -> None:
    # a pipe or a file gets whole lines, not lines cut to an 80-column guess
    console = Console(width=None if sys.stdout.isatty() else 200)
    rows: list[dict[str, Any]] = answer.get("rows") or []
    if record and rows:
        table = Table(show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in rows[0].items():
            table.add_row(key, _cell(value))
        console.print(table)
    elif rows:
        table = Table()
        for key in rows[0]:
            table.add_column(key.replace("_", " "))
        for row in rows:
            table.add_row(*(_cell(v) for v in row.values()))
        console.print(table)
    if answer.get("message"):
        console.print(answer["message"])


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
