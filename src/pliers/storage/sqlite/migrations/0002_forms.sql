-- Read models of forms and submissions, written in the same transaction as their events.

CREATE TABLE forms (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    description    TEXT,
    body           TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    event_sequence INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

CREATE TABLE form_versions (
    form_id     TEXT    NOT NULL REFERENCES forms (id),
    version     INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT,
    body        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (form_id, version)
);

CREATE TABLE submissions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    form_id      TEXT    NOT NULL,
    form_version INTEGER NOT NULL,
    data         TEXT    NOT NULL,
    submitted_by TEXT,
    metadata     TEXT    NOT NULL DEFAULT '{}',
    status       TEXT    NOT NULL DEFAULT 'submitted',
    created_at   TEXT    NOT NULL,
    FOREIGN KEY (form_id, form_version) REFERENCES form_versions (form_id, version)
);

CREATE INDEX submissions_form_seq_idx ON submissions (form_id, seq);
