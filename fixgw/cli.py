"""The `fixgw` command: `serve` runs the gateway; `sessions`, `orders`, `instruments`,
`book`, `trades`, `accounts` and `status` operate a running one (fixgw/operator/cli.py);
`journal` verifies or exports a journal; `demo` runs a seeded engine; `hash-password` makes
a roster entry's password hash."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from fixgw import journal_cli
from fixgw.demo.engine_demo import demo
from fixgw.operator import cli as operator_cli
from fixgw.roster import hash_password
from fixgw.server import DEFAULT_CONFIG, load_config, serve


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fixgw", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_serve = commands.add_parser("serve", help="run the FIX 4.4 gateway")
    run_serve.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    run_serve.add_argument("--host")
    run_serve.add_argument("--port", type=int)
    run_serve.add_argument("--data-dir", type=Path)
    run_serve.add_argument("--durability", choices=("full", "normal"))
    run_demo = commands.add_parser("demo", help="run a seeded engine demo and print its trades")
    run_demo.add_argument("--seed", type=int, default=42)
    run_demo.add_argument("--count", type=int, default=300, help="commands to generate")
    commands.add_parser("hash-password", help="read a password, print its roster hash")
    journal = commands.add_parser("journal", help="verify or export a gateway's journal")
    journal_verbs = journal.add_subparsers(dest="verb", required=True)
    verify_cmd = journal_verbs.add_parser("verify", help="replay offline, check every hash")
    export_cmd = journal_verbs.add_parser("export", help="trades, orders or commands")
    verify_cmd.add_argument(
        "--config",
        type=Path,
        help="replay with this configuration's instruments and roster, not the journal's own",
    )
    export_cmd.add_argument("--config", type=Path)
    for verb in (verify_cmd, export_cmd):
        verb.add_argument("--data-dir", type=Path)
    what = export_cmd.add_mutually_exclusive_group(required=True)
    for name in ("trades", "orders", "commands"):
        what.add_argument(f"--{name}", dest="what", action="store_const", const=name)
    export_cmd.add_argument("--since", type=int, default=0, help="after this command seq")
    export_cmd.add_argument("--format", choices=("csv", "json"), default="csv")
    gateway = argparse.ArgumentParser(add_help=False)
    gateway.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    gateway.add_argument("--data-dir", type=Path, help="the gateway's data dir (default: config)")
    operator_cli.add_parsers(commands, gateway)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except ValueError as bad:  # configuration errors name the file and the entry
        print(f"fixgw: {bad}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "op", None):
        return operator_cli.run(args, load_config(args.config, data_dir=args.data_dir).data_dir)
    if args.command == "serve":
        return serve(load_config(args.config, args.host, args.port, args.data_dir, args.durability))
    if args.command == "journal":
        config = load_config(args.config or DEFAULT_CONFIG, data_dir=args.data_dir)
        if args.verb == "verify":
            return journal_cli.verify(config.data_dir, config if args.config else None)
        chosen = config if args.config else None
        return journal_cli.export(config.data_dir, args.what, args.since, args.format, chosen)
    if args.command == "hash-password":
        print(
            hash_password(
                getpass.getpass("password: ")
                if sys.stdin.isatty()
                else sys.stdin.readline().rstrip("\n")
            )
        )
        return 0
    return demo(args.seed, args.count)


if __name__ == "__main__":
    sys.exit(main())
