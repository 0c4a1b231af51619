-- The append-only event store (embedded default).
--
-- SQLite has one writer at a time (BEGIN IMMEDIATE), so AUTOINCREMENT positions are assigned
-- in commit order and are never reused.

CREATE TABLE events (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL DEFAULT (lower(hex(randomblob(16)))),
    type            TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    aggregate_type  TEXT,
    sequence_number INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    "timestamp"     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    recorded_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    correlation_id  TEXT,
    causation_id    TEXT,
    metadata        TEXT    NOT NULL DEFAULT '{}',
    payload         TEXT    NOT NULL DEFAULT '{}',
    fingerprint     TEXT,
    CONSTRAINT events_id_key UNIQUE (id),
    CONSTRAINT events_aggregate_sequence_key UNIQUE (aggregate_id, sequence_number)
);

CREATE INDEX events_type_position_idx ON events (type, position);
CREATE INDEX events_aggregate_type_position_idx ON events (aggregate_type, position);
CREATE INDEX events_correlation_idx ON events (correlation_id) WHERE correlation_id IS NOT NULL;

CREATE TRIGGER events_fill_aggregate_type AFTER INSERT ON events
    WHEN NEW.aggregate_type IS NULL
BEGIN
    UPDATE events SET aggregate_type = substr(NEW.type, 1, instr(NEW.type || '.', '.') - 1)
     WHERE position = NEW.position;
END;
