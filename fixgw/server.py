"""`fixgw serve`: load the venue's configuration, start the engine thread and the acceptor.

QuickFIX settings are generated from the gateway configuration and the roster into the data
dir (one [SESSION] per participant), so the roster is the single list of who may connect.
The HTTP admin page is never configured. Every object handed to QuickFIX is kept referenced
for the acceptor's lifetime: the binding keeps C++ references to them, not Python ones.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import os
import resource
import signal
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, NoReturn

import quickfix as fix
import structlog

from engine.model.commands import Command, MoveFunds, WithdrawMirror
from engine.model.events import RouteSent
from engine.model.instruments import InstrumentSpec
from engine.model.terms import Role
from engine.perps.terms import SETTLEMENT_ASSET
from engine.persistence.journal import Journal, JournalError, Position
from engine.persistence.recovery import RecoveryError, recover
from fixgw.affiliates.fatf import DEFAULT_FATF_LIST
from fixgw.affiliates.link import (
    AffiliateLink,
    Submit,
    initiator_settings,
    link_parts,
    link_session,
)
from fixgw.affiliates.schedule import parse_times
from fixgw.app import GatewayApp
from fixgw.config import Venue, load_venue
from fixgw.crash_points import CrashPoint
from fixgw.fix.inbound import RequestReader
from fixgw.fix.marketdata import MarketDataPublisher
from fixgw.fix.reports import ReportWriter
from fixgw.fix.sessions import SessionDirectory
from fixgw.fix.text import data_tags
from fixgw.inbox import AffiliateReport, OperatorCommand, SessionEnded, Tick
from fixgw.logs import configure as configure_logging
from fixgw.operator.admin_socket import AdminSocket, check_private
from fixgw.operator.affiliate_desk import AffiliateDesk
from fixgw.operator.margin_desk import MarginDesk
from fixgw.operator.perps_desk import PerpsDesk
from fixgw.owed_reports import not_handed, rebuilt, with_answers
from fixgw.quickfix_build import UnpatchedQuickFix, require_patched
from fixgw.roster import RosterEntry
from fixgw.runner import Runner
from fixgw.session_store import created_ns
from fixgw.stage_timing import StageTimer

log = structlog.get_logger("fixgw.server")
REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "sessions" / "fixgw.toml"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    comp_id: str
    host: str
    port: int
    data_dir: Path
    heartbeat_seconds: int
    end_of_day_utc: str
    durability: str
    journal_max_pages: int
    snapshot_every: int
    session_store: str
    order_path: str
    prelogon_timeout_seconds: int
    prelogon_max_bytes: int
    prelogon_connections_per_source: int
    send_queue_max_bytes: int
    prelogon_connections_total: int
    resend_messages_per_second: int
    roster: Path
    instruments: Path
    dictionary: Path
    fatf_list: Path
    affiliates: Path | None  # none: no shared book
    margin: Path | None  # none: the venue does not lend
    perps: Path | None  # none: the venue lists no perpetuals
    affiliate_settlement_utc: tuple[int, ...]  # ns after UTC midnight; none: operators only

    def venue(self) -> Venue:
        return load_venue(
            self.instruments,
            self.roster,
            self.fatf_list,
            self.affiliates,
            self.margin,
            self.perps,
        )


def load_config(
    path: Path,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    durability: str | None = None,
) -> GatewayConfig:
    """The gateway configuration; paths in the file are relative to the file."""
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
        gateway, files = raw["gateway"], raw["files"]
    except (OSError, tomllib.TOMLDecodeError) as bad:
        raise ValueError(f"cannot read the configuration {path}: {bad}") from None
    except KeyError as missing:
        raise ValueError(f"{path}: the [{missing.args[0]}] section is missing") from None
    if gateway.get("session_store", "file") not in ("file", "memory"):
        raise ValueError(f"{path}: session_store must be file or memory")
    if gateway.get("order_path", "queued") not in ("inline", "queued"):
        raise ValueError(f"{path}: order_path must be inline or queued")
    bind = host or gateway.get("host", "127.0.0.1")
    try:
        IPv4Address(bind)
    except ValueError:
        raise ValueError(f"host {bind!r} is not a numeric IPv4 address (the acceptor's)") from None
    base = path.resolve().parent
    return GatewayConfig(
        comp_id=gateway.get("comp_id", "FIXGW"),
        host=bind,
        port=port if port is not None else int(gateway.get("port", 9876)),
        data_dir=(data_dir or base / gateway.get("data_dir", "var")).resolve(),
        heartbeat_seconds=int(gateway.get("heartbeat_seconds", 30)),
        end_of_day_utc=gateway.get("end_of_day_utc", "16:00"),
        affiliate_settlement_utc=parse_times(
            list(gateway.get("affiliate_settlement_utc", [])),
            f"{path}: affiliate_settlement_utc",
        ),
        durability=durability or gateway.get("durability", "full"),
        journal_max_pages=int(gateway.get("journal_max_pages", 0)),
        snapshot_every=int(gateway.get("snapshot_every", 100_000)),
        session_store=gateway.get("session_store", "file"),
        order_path=gateway.get("order_path", "queued"),
        prelogon_timeout_seconds=_positive(gateway, "prelogon_timeout_seconds", 5, path),
        prelogon_max_bytes=_positive(gateway, "prelogon_max_bytes", 4096, path),
        prelogon_connections_per_source=_positive(
            gateway, "prelogon_connections_per_source", 8, path
        ),
        send_queue_max_bytes=_positive(gateway, "send_queue_max_bytes", 16 * 2**20, path),
        prelogon_connections_total=_positive(gateway, "prelogon_connections_total", 256, path),
        resend_messages_per_second=_positive(gateway, "resend_messages_per_second", 1000, path),
        roster=base / files["roster"],
        instruments=base / files["instruments"],
        dictionary=base / files["dictionary"],
        fatf_list=base / files["fatf_list"] if "fatf_list" in files else DEFAULT_FATF_LIST,
        affiliates=base / files["affiliates"] if "affiliates" in files else None,
        margin=base / files["margin"] if "margin" in files else None,
        perps=base / files["perps"] if "perps" in files else None,
    )


# the longest message a logged-on session may be sending: an unfinished one past this ends
# the session (fixgw reads at most 4096 characters of any message, fixgw/fix/text.py)
MAX_MESSAGE_BYTES = 65536


def _positive(section: dict[str, object], key: str, default: int, path: Path) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise ValueError(f"{path}: {key} must be a positive whole number below 2^31")
    return value


def quickfix_settings(config: GatewayConfig, roster: dict[str, RosterEntry]) -> str:
    """QuickFIX's settings; the Socket*/PreLogon*/SendQueue*/Resend*/AcceptSourceNetworks keys are
    those of fixgw's build of QuickFIX (fixgw/quickfix_patch/README.md)."""
    data = config.data_dir
    networks = sorted({str(net) for entry in roster.values() for net in entry.networks})
    lines = [
        "[DEFAULT]",
        "ConnectionType=acceptor",
        "BeginString=FIX.4.4",
        f"SenderCompID={config.comp_id}",
        f"SocketAcceptHost={config.host}",
        f"SocketAcceptPort={config.port}",
        "SocketReuseAddress=Y",
        "SocketNodelay=Y",
        # a venue that never closes its sessions: with start and end times QuickFIX resets
        # every store at its first event of each UTC day, wiping what it holds for a client
        # that was away across midnight (numbers reset only by ResetSeqNumFlag or an operator)
        "NonStopSession=Y",
        "UseDataDictionary=Y",
        f"DataDictionary={config.dictionary}",
        "ValidateFieldsOutOfOrder=Y",
        f"FileStorePath={data / 'store'}",
        # A memory store forgets sequence numbers on restart, so both sides start again at 1.
        f"ResetOnLogon={'Y' if config.session_store == 'memory' else 'N'}",
        f"FileLogPath={data / 'log'}",
        f"PreLogonTimeout={config.prelogon_timeout_seconds}",
        f"PreLogonMaxBytes={config.prelogon_max_bytes}",
        f"PreLogonMaxPerSource={config.prelogon_connections_per_source}",
        f"SendQueueMaxBytes={config.send_queue_max_bytes}",
        f"MaxMessageBytes={MAX_MESSAGE_BYTES}",
        f"PreLogonMaxTotal={config.prelogon_connections_total}",
        f"ResendMessagesPerSecond={config.resend_messages_per_second}",
        f"AcceptSourceNetworks={','.join(networks)}",
    ]
    for comp_id in roster:
        lines += ["", "[SESSION]", f"TargetCompID={comp_id}"]
    return "\n".join(lines) + "\n"


class Gateway:
    """Everything that must live as long as the acceptor, in one place."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        venue = config.venue()
        roster = venue.roster
        instruments = {spec.symbol: spec for spec in venue.specs}
        settings_path = config.data_dir / "quickfix.cfg"
        try:
            config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_private(config.data_dir)
            narrow(config.data_dir)
            settings_path.write_text(quickfix_settings(config, roster))
        except OSError as bad:
            raise ValueError(
                f"the data dir {config.data_dir} is not writable ({bad.strerror})"
            ) from None
        self.admin = AdminSocket(config.data_dir)  # bound now: refuses a second gateway early

        definition = venue.definition()
        deposits = venue.opening_deposits()
        self.journal = Journal(
            config.data_dir / "journal.sqlite",
            config.durability,
            config.journal_max_pages,
            background_checkpoints=True,  # the timer thread runs them (Runner.run_timer)
        )
        handed = self.journal.handed_through()
        self.engine, self.recovered = recover(
            definition.builder(), self.journal, keep_after=handed if handed is not None else None
        )
        # what it was recovered with, so that `journal verify` replays with the same
        self.journal.record_venue_definition(definition.text())
        self.fatal: list[str] = []
        self.stopping = threading.Event()
        self.sessions = SessionDirectory()
        self.publisher = MarketDataPublisher(instruments, self.engine.books, self.engine.perps)
        hours, minutes = (int(part) for part in config.end_of_day_utc.split(":"))
        lending = venue.margin
        loan_asset = (lending.loan_asset, venue.scales[lending.loan_asset]) if lending else ("", 0)
        writer = ReportWriter(
            instruments,
            frozenset(venue.affiliates.by_name),
            loan_asset,
            venue.scales.get(SETTLEMENT_ASSET, 0),
        )
        self.runner = Runner(
            self.engine,
            writer,
            self.publisher,
            self.sessions,
            end_of_day_ns=(hours * 60 + minutes) * 60 * 10**9,
            journal=self.journal,
            snapshot_every=config.snapshot_every,
            on_fatal=self._fail,
            roster=roster,
            inline=config.order_path == "inline",
            crash=CrashPoint.from_environment(),
            timer=StageTimer.from_environment() if config.order_path == "inline" else None,
        )
        self.runner.settle_on(config.affiliate_settlement_utc)
        if self.engine.margin is not None:
            self.runner.attach_margin(MarginDesk(self.engine, time.time_ns))
        if self.engine.perps is not None:
            self.runner.attach_perps(PerpsDesk(self.engine))
        self.sessions.disabled = set(self.engine.disabled)
        if self.recovered.last_seq == 0 and deposits:
            # A new venue: the roster's and the affiliates' opening balances, journaled like
            # any operator command.
            funding = [MoveFunds(who, asset, amount, "roster") for who, asset, amount in deposits]
            self.runner.process_batch([OperatorCommand(c) for c in funding])
        self.timer = threading.Thread(
            target=self.runner.run_timer, args=(self.stopping,), name="fixgw-timer", daemon=True
        )
        self.data_tags = data_tags(config.dictionary)
        self.app = GatewayApp(
            roster,
            RequestReader(instruments),
            self.runner,
            self.sessions,
            self.data_tags,
            config.heartbeat_seconds,
        )
        self.settings = fix.SessionSettings(str(settings_path))
        self.store_factory = (
            fix.MemoryStoreFactory()
            if config.session_store == "memory"
            else fix.FileStoreFactory(self.settings)
        )
        self.log_factory = fix.FileLogFactory(self.settings)
        # Not the ThreadedSocketAcceptor: its send is a blocking write loop on the sender's
        # thread, so one client that stops reading would stall the engine thread; this one
        # queues what a socket cannot take yet.
        self.acceptor = fix.SocketAcceptor(
            self.app, self.store_factory, self.settings, self.log_factory
        )
        self.notes: list[str] = []
        self.links, self.initiators = self._affiliate_links(venue, instruments)
        if config.session_store == "file":
            self._deliver_owed(writer)
            self._rewind_inbound(roster, tracked=handed is not None)
        self._catch_up(roster)

    def _rewind_inbound(self, roster: dict[str, RosterEntry], tracked: bool) -> None:
        """Set back each session QuickFIX's store says got further than the journal. A
        participant the journal has no position for processed nothing yet (0); on a journal
        from before positions were kept, every session starts where its store is."""
        positions = self.runner.positions  # read from the journal when the runner was made
        if tracked or positions:
            processed = {}
            for participant in roster:
                last, ts = positions.get(participant, Position(0, None))
                processed[participant] = (
                    last,
                    ts is not None and self._reset_since(participant, last, ts),
                )
            self.notes += self.sessions.rewind_inbound(processed)
            return
        for participant in roster:
            expected, _ = self.sessions.numbers(participant)
            if expected:
                self.runner.note_position(participant, expected - 1)

    def _reset_since(self, participant: str, last: int, ts: int) -> bool:
        """Whether the session's store was reset after the journal's last message of it
        (processed at `ts`): the store was created later (dated to the second, at or before
        the reset itself: never a reset seen too early), or it expects a number below that
        message's, which only a reset does (an operator's is journaled as the position)."""
        created = created_ns(self.config.data_dir / "store", self.config.comp_id, participant)
        if created is not None and created > ts:
            return True
        expected, _ = self.sessions.numbers(participant)
        return 0 < expected < last

    def _deliver_owed(self, writer: ReportWriter) -> None:
        """The replies of the last batch the journal has that never reached QuickFIX (the
        gateway died between its commit and its sends), before anything else is sent."""
        answers, first_out, answered_ts = self.journal.last_answers()
        tail = self.recovered.tail
        replies = rebuilt(writer, tail)
        if answers:  # read with the dictionary, for their groups
            dictionary = fix.DataDictionary(str(self.config.dictionary))
            replies = with_answers(replies, answers, dictionary)
        if not replies:
            return
        stamps = [ts for _, ts, _, _ in tail] + ([answered_ts] if answers else [])
        store = self.config.data_dir / "store"
        next_out = {who: self.sessions.next_out(who) for who, _ in replies}
        stamps_range = (min(stamps), max(stamps))
        owed = not_handed(replies, store, self.config.comp_id, first_out, stamps_range, next_out)
        for participant, message in owed:
            self.sessions.send(participant, message)
        if owed:
            self.notes.append(
                f"{len(owed)} replies the journal owed had not been handed to QuickFIX "
                "before the gateway stopped; sent now"
            )

    def _catch_up(self, roster: dict[str, RosterEntry]) -> None:
        """Before any client can log on: what fell due while the gateway was down. The close
        it missed (DAY orders expire) and GTD expiries now due, then the orders of every
        participant with cancel-on-disconnect, none of whom is connected now. Journaled like
        any command; the reports wait in each participant's store for its next logon (the
        acceptor exists, so its sessions do)."""
        stale = [
            SessionEnded(participant, cancel_orders=True)
            for participant, entry in roster.items()
            if entry.cancel_on_disconnect
            and next(self.engine.open_orders_of(participant), None) is not None
        ]
        self.runner.process_batch([Tick(), *stale])

    def _affiliate_links(
        self, venue: Venue, instruments: dict[str, InstrumentSpec]
    ) -> tuple[dict[str, AffiliateLink], list[Any]]:
        """A QuickFIX initiator per enabled affiliate, in this process: its callbacks queue
        commands like a client's requests; the runner hands it the routes it must send."""
        links: dict[str, AffiliateLink] = {}
        initiators = []
        for name, affiliate in venue.affiliates.by_name.items():
            if not affiliate.enabled:
                continue
            affiliate.link.password()  # refuse to start without it, naming the variable
            home = self.config.data_dir / "affiliates" / name
            home.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = link_session(name)
            link = AffiliateLink(affiliate, instruments, self._reporter(key), self.data_tags)
            settings, store, logs = link_parts(
                initiator_settings(affiliate, self.config.data_dir, self.config.dictionary),
                home / "quickfix.cfg",
            )
            initiators.append(fix.SocketInitiator(link, store, settings, logs))
            self._rewind_link(key, link)
            link.expect(
                [
                    (r.route_id, r.symbol, r.side, r.filled, list(r.exec_ids))
                    for r in self.engine.shared.routes_of(name)
                ]
            )
            links[name] = link
        # depth mirrored before a stop is stale now: gone until each link's fresh snapshot
        stale = sorted({key[0] for key in self.engine.shared.shown})
        if stale:
            self.runner.process_batch(
                [AffiliateReport(WithdrawMirror(name, "restarted")) for name in stale]
            )
        if links:
            self.runner.route_to(self._send_routes)
        trading_here = {
            name: entry.jurisdiction
            for name, entry in venue.roster.items()
            if entry.participant.role is Role.AFFILIATE_VENUE
        }
        if venue.affiliates.by_name or trading_here:
            desk = AffiliateDesk(self.engine, venue.affiliates, links, trading_here)
            self.runner.attach_affiliates(desk)
        return links, initiators

    def _reporter(self, key: str) -> Submit:
        """What a link's callbacks queue for the sequencer, with the link's journal key."""

        def report(command: Command, msg_seq: int) -> None:
            self.runner.put(AffiliateReport(command, key, msg_seq))

        return report

    def _rewind_link(self, key: str, link: AffiliateLink) -> None:
        """Before the link starts: set its session back to the message after the last one
        the journal has of it (its store may have counted more), so the affiliate is asked
        to resend what the venue received and never journaled."""
        self.sessions.add_link(key, link.session_id)
        position = self.runner.positions.get(key)
        if position is None:
            # a journal from before link positions were kept (or a link that never got a
            # message): the store is taken at its word, rather than asking for its history
            expected, _ = self.sessions.numbers(key)
            if expected:
                self.runner.note_position(key, expected - 1)
            return
        self.notes += self.sessions.rewind_inbound({key: (position.msg_seq, False)})

    def _ask_about_routes(self) -> None:
        """Once a second: a status request for any route its affiliate has been silent on,
        and each link's reconnection back-off."""
        while not self.stopping.wait(1.0):
            for link in self.links.values():
                try:
                    link.keep_trying(time.monotonic())
                    link.query_unanswered(time.monotonic())
                except Exception:
                    log.exception("could not ask about routes", affiliate=link.affiliate.name)

    def _send_routes(self, routes: list[RouteSent]) -> None:
        """On the sequencing thread after the commit: nothing here may stop the runner. A
        route not handed to its link stays open and is asked about at the next logon."""
        for route in routes:
            link = self.links.get(route.affiliate)
            try:
                if link is None:
                    raise LookupError(f"no link to {route.affiliate}")
                link.send_route(route)
            except Exception:
                log.exception("could not send a route", route=route.route_id)

    def _fail(self, reason: str) -> None:
        self.fatal.append(reason)
        self.stopping.set()

    def start(self) -> None:
        self.runner.start()
        self.timer.start()
        self.acceptor.start()
        for initiator in self.initiators:
            initiator.start()
        if self.links:
            threading.Thread(
                target=self._ask_about_routes, name="fixgw-routes", daemon=True
            ).start()
        self.admin.start(self.runner.put)

    def stop(self) -> None:
        """Log every client out, then drain the engine thread, snapshot and close the journal.

        QuickFIX's own `acceptor.stop()` is never called: in 1.16 it closes the socket server
        while the acceptor's thread may be deleting it, a use-after-free that crashed about
        one shutdown in a hundred here. The process leaves with `os._exit` instead (see
        `serve`), once everything of ours is on disk and every client has been sent a Logout.
        """
        self.admin.close()
        self.sessions.logout_all("fixgw is shutting down", timeout=5.0)
        self.stopping.set()
        self.timer.join()
        self.runner.stop()
        if not self.fatal:
            self.runner.write_snapshot()
        self.journal.close()
        if self.runner.timer is not None:
            self.runner.timer.write(self.config.data_dir)


def narrow(data_dir: Path) -> None:
    """A data dir the gateway creates is 0700, its files 0600 (with the 0077 umask `serve`
    sets); what an older version left readable by others is narrowed, since everything in
    it is the gateway's alone (one writable by others was refused: what is in it cannot be
    trusted)."""
    narrowed = 0
    for path in [data_dir, *data_dir.rglob("*")]:
        info = path.lstat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077 and not path.is_symlink():
            path.chmod(info.st_mode & 0o700)  # the owner's bits stay as they were
            narrowed += 1
    if narrowed:
        print(
            f"fixgw: {narrowed} files and directories in {data_dir} were readable by others; "
            "now owner-only (message logs of versions before 2026-12-03 may hold passwords "
            "in clear: delete them)",
            file=sys.stderr,
        )


def raise_open_file_limit() -> None:
    """Room for every connection: at the common soft limit of 1,024 descriptors a few hundred
    idle connections made QuickFIX's accept fail in a busy loop. Up to the hard limit (at
    most 2^20: Linux refuses "unlimited" for descriptors); where even that is refused, the
    limit stays as it was."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard if hard != resource.RLIM_INFINITY else 2**20, 2**20)
    if wanted > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def serve(config: GatewayConfig) -> int:
    faulthandler.enable()  # a crash inside QuickFIX's C++ still leaves every thread's stack
    os.umask(0o077)  # every file and directory the gateway or QuickFIX creates: owner only
    raise_open_file_limit()
    configure_logging()
    try:
        require_patched()
        gateway = Gateway(config)
    except (JournalError, RecoveryError, OSError, ValueError, KeyError, UnpatchedQuickFix) as bad:
        print(f"fixgw: cannot start: {bad}", file=sys.stderr, flush=True)
        return 3
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: gateway.stopping.set())
    settle_heap()
    gateway.start()
    recovered = gateway.recovered
    for note in [*recovered.notes, *gateway.notes]:
        print(f"fixgw: {note}", file=sys.stderr, flush=True)
    print(
        f"fixgw: listening on {config.host}:{config.port} as {config.comp_id} (FIX 4.4), "
        f"data in {config.data_dir}, journal at command {gateway.journal.last_seq} "
        f"(from snapshot at {recovered.snapshot_seq} + {recovered.replayed} replayed, "
        f"{recovered.checkpoints_verified} checkpoints verified, durability "
        f"{config.durability})",
        flush=True,
    )
    gateway.stopping.wait()
    gateway.stop()
    if gateway.fatal:
        print(f"fixgw: stopped on a failure: {gateway.fatal[0]}", file=sys.stderr, flush=True)
        _leave(3)
    print(
        f"fixgw: stopped at command {gateway.journal.last_seq}, "
        f"state hash {gateway.engine.state_hash()}",
        flush=True,
    )
    _leave(0)


def settle_heap() -> None:
    """Take everything alive before trading — the libraries' ~68,000 objects, the recovered
    state — out of the cyclic garbage collector's sight. Its full passes scanned all of it:
    9 ms each on a quiet machine, and the 25 to 29 ms maxima of the eight-session closed loop
    (one every 70,000 to 100,000 commands; gone with the collector off). Objects made later
    are collected as usual."""
    gc.collect()
    gc.freeze()


def _leave(code: int) -> NoReturn:
    """End the process without running QuickFIX's destructors, which would tear down the
    acceptor's thread the same racy way `stop()` does. QuickFIX flushes its stores and logs
    as it writes them; the journal is closed by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
