"""The sequencer: stamp → apply → journal → send, one batch at a time (DESIGN §2).

Whoever holds the sequencer lock is the one thread touching the engine and sending
application messages: the engine thread, which takes queued items in batches (client
requests on the default `queued` order path, timer ticks, operators), or, on the `inline`
order path, QuickFIX's thread for a client's request (`submit`). Queued items are taken
only under the lock, oldest first, so nothing overtakes what was queued before it and
replies leave in exactly the order the engine produced them. Each command is stamped here
with a strictly increasing time, the only clock the engine ever sees.
"""

from __future__ import annotations

import functools
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from engine.matching import margin
from engine.matching import perps as perpetuals
from engine.matching.core import Engine, EngineFault
from engine.model.commands import (
    Command,
    EndOfDay,
    ExpireOrders,
    ForcedSale,
    MarginReview,
    MassCancel,
    PerpClock,
    RouteEnded,
    RouteFilled,
    SettleScheduled,
)
from engine.model.events import CoverAlert, Event, MarginNotice, PerpLiquidation, RouteSent
from engine.persistence.journal import EVERY_SESSION, Journal, JournalBatch, JournalError, Position
from engine.persistence.snapshot import SnapshotCache, capture_parts
from fixgw.affiliates.schedule import DAY_NS, SettlementSchedule
from fixgw.answers import StateAnswers
from fixgw.crash_points import CrashPoint
from fixgw.fix.inbound import Echo
from fixgw.fix.marketdata import MarketDataPublisher
from fixgw.fix.reports import Outgoing, ReportWriter
from fixgw.fix.sessions import SessionDirectory
from fixgw.inbox import (
    AffiliateReport,
    BusinessRejection,
    EdgeRefusal,
    Item,
    OperatorCommand,
    Request,
    SessionEnded,
    Stop,
    Tick,
)
from fixgw.operator.affiliate_desk import AffiliateDesk
from fixgw.operator.desk import QUERIES, AfterCommit, OperatorDesk, OperatorRequest
from fixgw.operator.margin_desk import MarginDesk
from fixgw.operator.perps_desk import PerpsDesk
from fixgw.roster import RosterEntry
from fixgw.snapshot_writer import SnapshotWriter
from fixgw.stage_timing import StageTimer

log = structlog.get_logger("fixgw.runner")


# commands between encodings of what the snapshot cache gained: ~0.25 ms of work each time
# at 64, instead of a few µs on every order or all of it at the snapshot
CACHE_EVERY = 64
# commands between attempts at a snapshot after one was not written
SNAPSHOT_RETRY_EVERY = 1_000


def _client_order_ids(batch: list[Item]) -> list[str]:
    """The ClOrdIDs and request ids (MDReqID, SecurityReqID, MassStatusReqID,
    OrdStatusReqID) of a batch's client requests, and the ClOrdIDs (`R<route id>`) of the
    routes its affiliates' reports concern: what a test's crash point
    (fixgw/crash_points.py) names."""
    names = [
        name
        for item in batch
        if isinstance(item, Request | EdgeRefusal)
        for name in (item.echo.client_order_id, item.echo.request_id)
        if name
    ]
    names += [
        f"R{item.command.route_id}"
        for item in batch
        if isinstance(item, AffiliateReport) and isinstance(item.command, RouteFilled | RouteEnded)
    ]
    return names


Positioned = Request | EdgeRefusal | BusinessRejection | AffiliateReport


def _msg_seq(item: Positioned) -> int:
    """The MsgSeqNum of the message an item came as (0 if it has none)."""
    if isinstance(item, BusinessRejection):
        return int(item.seq_num) if item.seq_num.isdigit() else 0
    return item.msg_seq


def _session_of(item: Positioned) -> str:
    """The session the item's message came on, as the journal keys its position."""
    return item.session if isinstance(item, AffiliateReport) else item.participant


class Runner:
    def __init__(
        self,
        engine: Engine,
        writer: ReportWriter,
        publisher: MarketDataPublisher,
        sessions: SessionDirectory,
        clock: Callable[[], int] = time.time_ns,
        batch_limit: int = 512,
        end_of_day_ns: int = 0,
        journal: Journal | None = None,
        checkpoint_every: int = 10_000,
        snapshot_every: int = 100_000,
        on_fatal: Callable[[str], None] | None = None,
        roster: Mapping[str, RosterEntry] | None = None,
        inline: bool = False,
        crash: CrashPoint | None = None,
        timer: StageTimer | None = None,
    ) -> None:
        """`crash` is for tests only (fixgw/crash_points.py), `timer` for an instrumented
        run (fixgw/stage_timing.py)."""
        self.engine = engine
        self.timer = timer
        self._crash = crash
        self._inline = inline
        self._journal = journal
        self._checkpoint_every = checkpoint_every
        self._snapshot_every = snapshot_every
        self._on_fatal = on_fatal
        self._seq = journal.last_seq if journal else 0
        self._pending = JournalBatch()
        # every session's last message processed: written again with each checkpoint
        self._positions = journal.inbound_positions() if journal else {}
        self._snapshot_cache = SnapshotCache()
        self._snapshots = SnapshotWriter(journal) if journal is not None else None
        self._snapshot_seq = journal.snapshot_seq if journal else 0  # the last one captured
        if journal is not None:
            self._snapshot_cache.keep_up(engine)  # a recovered day's orders, once, at start
        self._cached_seq = self._seq
        self._writer = writer
        self._publisher = publisher
        self._sessions = sessions
        self._clock = clock
        self._batch_limit = batch_limit
        self._inbox: deque[Item] = deque()
        # routes the engine decided, for the affiliate links once their batch is committed
        self._route_sink: Callable[[list[RouteSent]], None] | None = None
        self._routes: list[RouteSent] = []
        self._settlement: SettlementSchedule | None = None
        self._forced_sales: deque[str] = deque()  # liquidating clients whose slice is due
        self._selling = False
        # one token per queued item; a C-level queue, so waking the engine thread costs the
        # putting thread next to nothing
        self._wake: queue.SimpleQueue[bool] = queue.SimpleQueue()
        # held by whoever is sequencing: the engine thread, or on the inline order path
        # QuickFIX's thread for a client's request; see `submit`
        self._sequencer = threading.Lock()
        self._open = True  # False once stopped, or once the journal failed
        self._last_ts = journal.last_ts if journal else 0
        self._end_of_day_ns = end_of_day_ns  # offset of the day's close from UTC midnight
        # the trading day of the journal's last command: a gateway that was down over a
        # close runs that EndOfDay on its first tick (-1: a new venue, no day yet)
        self._day = (self._last_ts - end_of_day_ns) // DAY_NS if self._last_ts else -1
        self._thread = threading.Thread(target=self._run, name="fixgw-runner", daemon=True)
        self.last_commit_ns = 0
        self._desk = OperatorDesk(engine, journal, sessions, roster or {}, self)
        self._after_commit: list[AfterCommit] = []
        self._answers: list[tuple[OperatorRequest, dict[str, Any] | None]] = []
        self._answers_from_state = StateAnswers(engine, writer, publisher)

    @property
    def positions(self) -> Mapping[str, Position]:
        """Every session's last message processed, as the journal had them at start and
        the sequencer has processed since."""
        return self._positions

    @property
    def seq(self) -> int:
        """The last sequence number applied (journaled once its batch commits)."""
        return self._seq

    # -- COMMANDS --

    def attach_affiliates(self, desk: AffiliateDesk) -> None:
        """The operators' `fixgw affiliates` commands; before the runner starts."""
        self._desk.attach_affiliates(desk)

    def attach_perps(self, desk: PerpsDesk) -> None:
        """The operators' `fixgw perps` commands; before the runner starts."""
        self._desk.attach_perps(desk)

    def attach_margin(self, desk: MarginDesk) -> None:
        """The operators' `fixgw margin` commands; before the runner starts."""
        self._desk.attach_margin(desk)

    def settle_on(self, times: tuple[int, ...]) -> None:
        """The intraday settlement times (fixgw/affiliates/schedule.py); before the start."""
        self._settlement = SettlementSchedule(times) if times else None

    def route_to(self, sink: Callable[[list[RouteSent]], None]) -> None:
        """Where the routes of each committed batch go (the affiliate links), on the
        sequencing thread; set before the runner starts."""
        self._route_sink = sink

    def put(self, item: Item) -> None:
        """From any thread: queue for the engine thread and return."""
        self._inbox.append(item)
        self._wake.put(True)

    def submit(self, item: Item) -> bool:
        """On QuickFIX's thread, for a client's request; True if it was sequenced here.

        Queued (the default, DESIGN §2): hand it to the engine thread, which takes the queue
        in batches with one commit each while this thread reads on; the two threads overlap,
        which gave the better tails with many sessions at once.

        Inline (`order_path = "inline"`): sequence, apply, journal and answer it here before
        returning, after whatever other threads queued before it; only while the engine
        thread is in the middle of a batch (a timer tick, an operator, a snapshot) is the
        request queued behind it instead, so QuickFIX's thread never waits. That spares a
        lone order the hand-off — waking another thread, then both trading the GIL around
        each of QuickFIX's calls — for about 30 % off its median round trip; the work stays
        strictly serial under the sequencer lock and the journal still commits before
        anything is acknowledged (bench/README.md, "Where the time goes").
        """
        if not self._inline or not self._sequencer.acquire(blocking=False):
            self.put(item)
            return False
        try:
            if not self._open:
                log.warning("request after the engine stopped; not processed", item=repr(item))
                return False
            batch = self._drain()
            batch.append(item)
            if not self.process_batch(batch):
                self._open = False
                self.put(Stop())  # the engine thread must still see it and end
        finally:
            self._sequencer.release()
        return True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the engine thread, once every snapshot it took is written."""
        self.put(Stop())
        self._thread.join()
        if self._snapshots is not None:
            self._snapshots.wait()

    def run_timer(self, stopping: threading.Event, period: float = 1.0) -> None:
        """On its own thread: one Tick per period until `stopping` is set, and the journal's
        WAL checkpoint, kept here off the order path (engine/persistence/journal.py)."""
        while not stopping.wait(period):
            self.put(Tick())
            if self._journal is not None:
                try:
                    self._journal.checkpoint_wal()
                except JournalError as failure:  # the WAL just grows until the next one
                    log.warning("WAL checkpoint failed", error=str(failure))

    # -- THE ENGINE THREAD --

    def _stamp(self) -> int:
        ts = max(self._clock(), self._last_ts + 1)
        self._last_ts = ts
        return ts

    def _run(self) -> None:
        while True:
            self._wake.get()
            while not self._wake.empty():  # one batch answers every token queued so far
                self._wake.get_nowait()
            with self._sequencer:
                batch = self._drain()
                if batch and (not self._open or not self.process_batch(batch)):
                    self._open = False
                    return

    def _drain(self) -> list[Item]:
        """Take queued items, oldest first; only a holder of the sequencer lock may, so a
        request cannot overtake one queued before it."""
        inbox = self._inbox
        batch = [inbox.popleft() for _ in range(min(len(inbox), self._batch_limit))]
        if inbox:
            self._wake.put(True)  # the engine thread comes back for the rest
        return batch

    def process_batch(self, batch: list[Item]) -> bool:
        """Apply a batch in order, then send its replies and market data; returns False once
        a stop request is among them or the journal failed. Only a holder of the sequencer
        lock (or a test, with no thread running) may call it."""
        outgoing: list[Outgoing] = []
        market_data: list[Outgoing] = []
        answers: list[int] = []  # places in `outgoing` of replies no command rebuilds
        running = True
        fault = ""
        # every earlier batch's reports were handed to QuickFIX before this one began
        self._pending.handed_through = self._seq
        for item in batch:
            if isinstance(item, Stop):
                running = False
                continue
            answered = len(outgoing)
            seq_before = self._seq
            try:
                self._process(item, outgoing, market_data)
            except EngineFault as failure:
                # Fail-stop: what came before in the batch is journaled and answered, this
                # command and the rest never are, and the gateway stops; recovery rebuilds
                # the state from the journal, which never saw the torn one.
                log.critical("the engine failed a command; stopping", item=repr(item))
                log.exception("the fault", error=str(failure))
                fault = f"the engine failed command {self._seq + 1}: {failure}"
                break
            except Exception:
                log.exception("request failed in the engine thread", item=repr(item))
                if len(outgoing) == answered:
                    self._answer_failure(item, outgoing)
            if isinstance(item, Request | EdgeRefusal | BusinessRejection):
                self._note_processed(item, self._seq != seq_before)
                if self._seq == seq_before:  # answered, not applied: no command rebuilds it
                    answers += range(answered, len(outgoing))
            elif type(item) is AffiliateReport and item.msg_seq:
                self._note_processed(item, self._seq != seq_before)
        if answers:
            self._keep_answers(outgoing, answers)
        if self._pending.checkpoints:  # so that recovery reads only the commands since
            self._pending.inbound.update(self._positions)
            self._pending.inbound[EVERY_SESSION] = Position(0, None)
        if self._crash is not None:
            counted = functools.partial(self._counted_by_quickfix, batch)
            self._crash.reached("before-commit", _client_order_ids(batch), counted)
        timer = self.timer
        if timer is not None:
            timer.lap("batch")
        if self._pending and not self._commit():
            return False
        if timer is not None:
            timer.lap("commit")
        if self._crash is not None:
            self._crash.reached("after-commit", _client_order_ids(batch))
        self._send(outgoing, market_data, batch)
        if self._routes:  # committed: now the affiliates may be asked
            routes, self._routes = self._routes, []
            assert self._route_sink is not None
            self._route_sink(routes)
        if timer is not None:
            timer.lap("send")
        if fault:
            if self._on_fatal is not None:
                self._on_fatal(fault)
            return False
        if self._after_commit or self._answers:
            self._answer_operators()
        if self._snapshots is not None:
            if self._seq - self._cached_seq >= CACHE_EVERY:  # after the replies, off their path
                self._snapshot_cache.keep_up(self.engine)
                self._cached_seq = self._seq
            writer = self._snapshots
            if not writer.busy():
                self._retry_failed_snapshot(writer)
                if self._seq - self._snapshot_seq >= self._snapshot_every:
                    self._take_snapshot(writer)
        return running

    def _note_processed(self, item: Positioned, applied: bool) -> None:
        """Journal the session's position with the batch: on the row of the command the
        message became, or in the batch's positions if it became none."""
        msg_seq = _msg_seq(item)
        if not msg_seq:
            return
        participant = _session_of(item)
        position = Position(msg_seq, self._last_ts)  # the stamp the item was processed at
        self._positions[participant] = position
        if applied:
            self._pending.came_from(participant, msg_seq)
            self._pending.inbound.pop(participant, None)  # the command's row is later
        else:
            self._pending.inbound[participant] = position

    def _counted_by_quickfix(self, batch: list[Item]) -> bool:
        """Whether QuickFIX counts every client message of the batch as received (for a
        test's crash point, fixgw/crash_points.py)."""
        return all(
            self._sessions.numbers(_session_of(item))[0] > _msg_seq(item)
            for item in batch
            if isinstance(item, Request | EdgeRefusal | BusinessRejection | AffiliateReport)
            and _msg_seq(item)
        )

    def _keep_answers(self, outgoing: list[Outgoing], places: list[int]) -> None:
        """Journal the batch's replies that no command can rebuild — a query's answer, a
        refusal at the edge — with where each stood among the batch's replies, and where
        each of their participants' messages of the batch start in its session: after a
        crash before they all left, recovery sends what QuickFIX's store has not
        (fixgw/owed_reports.py). Only a batch that has such replies pays for it."""
        kept = self._pending.answers
        self._pending.answered_ts = self._last_ts
        for place in places:
            participant, msg = outgoing[place]
            kept.append((place, participant, msg.toString()))
        for participant in {participant for _, participant, _ in kept}:
            first = self._sessions.next_out(participant)
            if first:
                self._pending.first_out[participant] = first

    def _send(
        self, outgoing: list[Outgoing], market_data: list[Outgoing], batch: list[Item]
    ) -> None:
        for place, (participant, msg) in enumerate(outgoing):
            self._sessions.send(participant, msg)
            if place == 0 and self._crash is not None:
                self._crash.reached("mid-send", _client_order_ids(batch))
        for participant, msg in market_data:
            self._sessions.send(participant, msg)

    def _answer_failure(self, item: Item, out: list[Outgoing]) -> None:
        """A client's request that failed before anything answered it (a query, or a refusal
        that could not be written: the engine untouched) still gets an answer."""
        if isinstance(item, Request | EdgeRefusal):
            text = "the request could not be answered"
            try:
                msg = self._writer.refusal(
                    item.echo, "99", text, f"X{self._last_ts}", self._last_ts
                )
            except Exception:
                log.exception("could not answer a failed request", item=repr(item))
                return
            out.append((item.participant, msg))

    def write_snapshot(self) -> None:
        """Snapshot the state after the last journaled command and wait until it is written
        (at a clean stop). Only a holder of the sequencer lock may call it, or anyone once
        the runner has stopped."""
        if self._snapshots is not None:
            self._snapshots.wait()
            self._take_snapshot(self._snapshots)
            self._snapshots.wait()

    def _take_snapshot(self, writer: SnapshotWriter) -> None:
        """Capture the state after the last journaled command, once its replies are out, for
        the writer's thread to write (SnapshotWriter). The capture is all the sequencer
        pays; a failed write costs only recovery time, so it is logged and trading goes on."""
        journal = self._journal
        if journal is None or self._pending or self._seq in (0, self._snapshot_seq):
            return
        if not journal.synced:  # a snapshot must not get ahead of what the disk holds
            return
        parts = capture_parts(self.engine, self._snapshot_cache)
        # with nothing pending, the journal's last command is the sequencer's: its number
        # and its stamp, from the one place that has both
        writer.offer(journal.last_seq, journal.last_ts, self.engine.state_hash(), parts)
        self._snapshot_seq = journal.last_seq

    def _retry_failed_snapshot(self, writer: SnapshotWriter) -> None:
        """After a snapshot that was not written, the next falls due SNAPSHOT_RETRY_EVERY
        commands on (or at the usual interval, if that is sooner): not on every batch, and
        not a whole interval later, which would double the replay a restart faces."""
        failed = writer.failed_seq
        if failed and failed == self._snapshot_seq:  # the last one offered, not written
            wait = min(SNAPSHOT_RETRY_EVERY, self._snapshot_every)
            self._snapshot_seq = self._seq - self._snapshot_every + wait

    @property
    def snapshot_failure(self) -> str:
        return self._snapshots.failure if self._snapshots is not None else ""

    def _answer_operators(self) -> None:
        """Once the batch is on disk: carry out what operator actions do outside the engine,
        then answer each operator (queries now, so they see the whole batch)."""
        actions, self._after_commit = self._after_commit, []
        answers, self._answers = self._answers, []
        for action in actions:
            try:
                action()
            except Exception:
                log.exception("operator action failed after commit")
        for request, answer in answers:
            request.reply.set(answer if answer is not None else self._desk.answer(request))

    def _commit(self) -> bool:
        """Journal the batch before anything of it is sent; False if that failed, after
        which nothing more may be acknowledged: the state in memory is ahead of the disk."""
        batch, self._pending = self._pending, JournalBatch()
        if self._journal is None:
            return True
        started = time.perf_counter_ns()
        try:
            self._journal.append(batch)
            self.last_commit_ns = time.perf_counter_ns() - started
        except JournalError as failure:
            log.critical("journal write failed; stopping", error=str(failure))
            if self._on_fatal is not None:
                self._on_fatal(str(failure))
            return False
        return True

    def _process(
        self,
        item: Request
        | EdgeRefusal
        | BusinessRejection
        | SessionEnded
        | OperatorCommand
        | AffiliateReport
        | OperatorRequest
        | Tick,
        out: list[Outgoing],
        market_data: list[Outgoing],
    ) -> None:
        ts = self._stamp()
        if type(item) is Request:  # the common case first: one lookup, then the engine
            answers = self._answers_from_state
            if item.resent and answers.answered_before(item, ts, out):
                return
            if not answers.answer(item, ts, out, market_data):
                self._apply(item.command, ts, item.echo, out, market_data)  # type: ignore[arg-type]
        elif isinstance(item, EdgeRefusal):
            refusal = item.refusal
            msg = self._writer.refusal(item.echo, refusal.reason, refusal.text, f"X{ts}", ts)
            out.append((item.participant, msg))
        elif isinstance(item, BusinessRejection):
            reject = self._writer.business_reject(
                item.seq_num, item.msg_type, item.text, item.reason
            )
            out.append((item.participant, reject))
        elif isinstance(item, OperatorCommand | AffiliateReport):
            self._apply(item.command, ts, None, out, market_data)
        elif isinstance(item, OperatorRequest):
            if not item.reply.claim():  # withdrawn by an operator who stopped waiting
                return
            if item.op in QUERIES:
                self._answers.append((item, None))
                return
            done, after = self._desk.act(
                item, lambda command: self._apply(command, ts, None, out, market_data)
            )
            if item.request_id and not done.get("repeated"):
                self._pending.operator_requests.append(
                    (item.request_id, self._seq, item.operator, item.op, json.dumps(done))
                )
            self._answers.append((item, done))
            self._after_commit += after
        elif isinstance(item, SessionEnded):
            self._publisher.session_ended(item.participant)
            if item.cancel_orders:
                self._apply(MassCancel(item.participant, ""), ts, None, out, market_data)
        elif isinstance(item, Tick):
            self._sessions.sweep(ts)
            day = (ts - self._end_of_day_ns) // DAY_NS
            if self._day >= 0 and day != self._day:
                self._apply(EndOfDay(), ts, None, out, market_data)
            self._day = day
            due = self.engine.next_expiry()
            if due is not None and due <= ts:
                self._apply(ExpireOrders(), ts, None, out, market_data)
            if self._settlement is not None:
                at = self._settlement.due(ts, self.engine.shared.settled_through)
                if at is not None:
                    events = self._apply(SettleScheduled(at), ts, None, out, market_data)
                    self._settlement.alert(events)
            lender = self.engine.margin
            if lender is not None:
                review, sales = margin.due(lender, ts)
                if review:
                    self._apply(MarginReview(), ts, None, out, market_data)
                self._forced_sales.extend(sales)
                self._sell(ts, out, market_data)
            perps = self.engine.perps
            if perps is not None and perpetuals.due(perps, ts):
                self._apply(PerpClock(), ts, None, out, market_data)

    def note_position(self, participant: str, msg_seq: int) -> None:
        """Journal a session's position with the next commit, stamped now: at start, or
        when an operator sets the number the session expects next. Only a holder of the
        sequencer lock may call it, or anyone before the engine thread runs."""
        position = Position(msg_seq, self._stamp())
        self._pending.inbound[participant] = position
        self._positions[participant] = position

    def _apply(
        self,
        command: Command,
        ts: int,
        echo: Echo | None,
        out: list[Outgoing],
        market_data: list[Outgoing],
    ) -> list[Event]:
        timer = self.timer
        events = self.engine.apply(command, ts)
        if timer is not None:
            timer.lap("engine")
        self._seq += 1
        self._pending.add(self._seq, ts, command, events)
        if self._seq % self._checkpoint_every == 0:
            self._pending.checkpoints.append((self._seq, self.engine.state_hash()))
        if timer is not None:
            timer.lap("journal record")
        for event in events:
            try:
                out.extend(self._writer.encode(event, echo))
            except Exception:  # journaled already: the other reports of the batch still go
                log.exception("could not write the report of an event", of=repr(event))
        if timer is not None:
            timer.lap("reports")
        market_data.extend(self._publisher.publish(events))
        if self._route_sink is not None:
            for event in events:
                if type(event) is RouteSent:
                    self._routes.append(event)
                elif type(event) is CoverAlert:
                    _log_cover(event)
        if timer is not None:
            timer.lap("market data")
        if self.engine.perps is not None:
            for event in events:
                if type(event) is PerpLiquidation:
                    log.warning(
                        "OPERATOR ALERT: perpetuals liquidation",
                        participant=event.participant,
                        text=event.text,
                    )
        if self.engine.margin is not None:
            for event in events:
                if type(event) is MarginNotice:
                    _log_margin(event)
                    if event.kind == "liquidation":  # the first slice at once, journaled
                        self._forced_sales.append(event.participant)
            self._sell(ts, out, market_data)
        return events

    def _sell(self, ts: int, out: list[Outgoing], market_data: list[Outgoing]) -> None:
        """Apply a ForcedSale for each client queued, one after the other (a sale's trades
        may start another's: queued, never nested), each only if still due."""
        if self._selling:
            return
        self._selling = True
        try:
            queued = self._forced_sales
            lender = self.engine.margin
            while queued and lender is not None:
                participant = queued.popleft()
                if margin.sale_due(lender, participant, ts):
                    self._apply(ForcedSale(participant), ts, None, out, market_data)
        finally:
            self._selling = False


def _log_margin(notice: MarginNotice) -> None:
    """The operators' record of a margin client's call state (`fixgw margin calls`)."""
    if notice.kind in ("call", "liquidation", "stalled"):
        log.warning("OPERATOR ALERT: margin", participant=notice.participant, text=notice.text)
    else:
        log.info("margin", participant=notice.participant, text=notice.text)


def _log_cover(alert: CoverAlert) -> None:
    """The operators' alert: the unsettled exposure to the affiliates against the cover."""
    share = 100 * alert.exposure // alert.limit if alert.limit else 0
    if alert.raised:
        log.warning("OPERATOR ALERT: unsettled exposure to affiliates", percent_of_cover=share)
    else:
        log.info("unsettled exposure to affiliates back under the alert level", percent=share)
