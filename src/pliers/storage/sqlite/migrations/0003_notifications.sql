-- The notification outbox (see the PostgreSQL migration). Times are RFC 3339 UTC text with
-- microseconds, so they compare correctly as strings.

CREATE TABLE notifications (
    id                  TEXT    PRIMARY KEY,
    submission_id       TEXT    NOT NULL,
    form_id             TEXT    NOT NULL,
    channel             TEXT    NOT NULL DEFAULT 'email',
    recipients          TEXT    NOT NULL,
    subject             TEXT    NOT NULL,
    body                TEXT    NOT NULL,
    html                INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TEXT    NOT NULL,
    locked_until        TEXT,
    last_error          TEXT,
    provider_message_id TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
);

CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);
CREATE INDEX notifications_submission_idx ON notifications (submission_id, created_at);
