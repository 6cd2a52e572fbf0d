-- The fixgw journal: every sequenced command, what it produced, and state checkpoints.
-- One SQLite database per gateway, WAL mode. An auditor can read it with plain sqlite3:
--   sqlite3 var/journal.sqlite "SELECT * FROM trades ORDER BY trade_id DESC LIMIT 10"

-- Every command the engine applied, in sequence order, with the time the sequencer stamped.
-- Replaying these rows through a fresh engine reproduces its state exactly.
-- A command's row also carries what crash recovery needs of its batch, at no cost of a
-- statement of its own (fixgw/owed_reports.py, fixgw/fix/sessions.py).
CREATE TABLE IF NOT EXISTS commands (
    seq     INTEGER PRIMARY KEY,   -- 1, 2, 3, ... without gaps
    ts      INTEGER NOT NULL,      -- nanoseconds since the epoch (UTC)
    kind    TEXT    NOT NULL,      -- NewOrder, CancelOrder, ReplaceOrder, MassCancel, ...
    body    TEXT    NOT NULL,      -- the command's fields as a JSON object
    -- the last command whose reports were handed to QuickFIX when this one's batch began:
    -- after a crash only the last batch's reports can be owed
    handed_through  INTEGER,
    session TEXT,                  -- the FIX session whose message this command was
    msg_seq INTEGER                -- and that message's MsgSeqNum (NULL: no client's)
);

-- Every trade, with both sides; prices in ticks and quantities in lots of the instrument.
CREATE TABLE IF NOT EXISTS trades (
    trade_id           INTEGER PRIMARY KEY,
    seq                INTEGER NOT NULL REFERENCES commands (seq),
    ts                 INTEGER NOT NULL,
    symbol             TEXT    NOT NULL,
    price              INTEGER NOT NULL,
    qty                INTEGER NOT NULL,
    aggressor_side     TEXT    NOT NULL,   -- buy | sell
    maker_order_id     INTEGER NOT NULL,
    maker_participant  TEXT    NOT NULL,
    maker_class        INTEGER NOT NULL,   -- 0 customer, 1 affiliate venue, 2 market maker,
                                           -- 3 an affiliate's mirrored depth (routed)
    taker_order_id     INTEGER NOT NULL,
    taker_participant  TEXT    NOT NULL,
    maker_fee          INTEGER NOT NULL,   -- in the quote asset's minor unit, to the venue
    taker_fee          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_by_seq ON trades (seq);

-- The engine's state hash after a command, written every so often; recovery compares.
CREATE TABLE IF NOT EXISTS checkpoints (
    seq         INTEGER PRIMARY KEY REFERENCES commands (seq),
    state_hash  TEXT NOT NULL
);

-- Snapshots of the engine's whole state live in a file of their own beside this one
-- (engine/persistence/snapshots.sql), so writing one never holds this file's write lock.

-- What the engine was built from (engine/persistence/venue_definition.py: instruments, participants,
-- asset scales), recorded by a gateway that starts on a definition other than the last
-- recorded; `after_seq` is the journal's last command then. `fixgw journal verify` replays
-- with the newest, as the gateway that recorded it did.
CREATE TABLE IF NOT EXISTS venue_definitions (
    after_seq   INTEGER PRIMARY KEY,
    definition  TEXT NOT NULL
);

-- Every operator action that came with a request id (the operator CLI sends one): its
-- first answer, so that a retry after a timeout or a restart is answered, not repeated.
CREATE TABLE IF NOT EXISTS operator_requests (
    request_id  TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,   -- the journal's last command when it was answered
    operator    TEXT NOT NULL,
    op          TEXT NOT NULL,
    answer      TEXT NOT NULL       -- JSON, as the operator was answered
);

-- Each FIX session's position: the MsgSeqNum of the last client message the gateway
-- processed. A message that became a command carries its number in the command's row; a
-- message that did not (a query, a refusal) is recorded here, and every session's
-- position is written here again with each state checkpoint, with a row for participant
-- '' marking when, so that finding them at start reads only the commands since. A command
-- after a session's row here is its later position.
-- At start a session that QuickFIX's store says got further is set back to expect the
-- next one after this, so the client is asked to resend what was received but never
-- processed.
-- The stamp (`ts`, as a command's) tells a store QuickFIX has reset since: one created
-- after the session's last message processed holds nothing the journal has.
CREATE TABLE IF NOT EXISTS inbound (
    participant  TEXT PRIMARY KEY,
    msg_seq      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,  -- the journal's last command then
    ts           INTEGER            -- the sequencer's stamp when it was processed
);

-- The replies of the last batch that had any no command can rebuild (query answers,
-- refusals at the edge): written by that batch, read only if no batch with commands
-- came after it (`after_seq` is the journal's last command then). `answers` is JSON:
-- {"first_out": {participant: the MsgSeqNum QuickFIX was to give its first message of
-- the batch}, "answers": [[place among the batch's replies, participant, FIX text], ...]}.
-- `handed_through` as in `commands`. One row. (A gateway of 2026-12-03 wrote the row
-- with every commit, with `handed_through` alone.)
CREATE TABLE IF NOT EXISTS delivery (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    handed_through  INTEGER NOT NULL,
    answers         TEXT,
    after_seq       INTEGER
);
