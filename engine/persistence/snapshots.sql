-- The fixgw snapshot store: the engine's whole state now and then, beside the journal.
-- Its own SQLite file (journal.snapshots.sqlite next to journal.sqlite), so that writing a
-- snapshot of several megabytes never holds the journal's one write lock: the journal's
-- commits go on meanwhile. Snapshots are a shortcut for recovery, never the record.

-- The engine's whole state after command `seq`, with that command's time and the state
-- hash it must restore to; recovery restores the latest one and replays only the journal's
-- commands after it.
CREATE TABLE IF NOT EXISTS snapshots (
    seq         INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    state_hash  TEXT NOT NULL
);

-- A snapshot's text (engine/persistence/snapshot.py's JSON) in parts of about 64 KiB, to be joined in
-- `part` order: written part by part, no thread holds Python's GIL for the whole text.
CREATE TABLE IF NOT EXISTS snapshot_parts (
    seq   INTEGER NOT NULL REFERENCES snapshots (seq),
    part  INTEGER NOT NULL,
    text  TEXT    NOT NULL,
    PRIMARY KEY (seq, part)
);
