-- The notification outbox: rows are written in the transaction that stores a submission and
-- delivered later by a dispatcher. A claimed row is `sending` until `locked_until`; its
-- `next_attempt_at` is set to the same instant, so a row whose dispatcher died is due again.

CREATE TABLE notifications (
    id                  text        PRIMARY KEY,
    submission_id       text        NOT NULL,
    form_id             text        NOT NULL,
    channel             text        NOT NULL DEFAULT 'email',
    recipients          jsonb       NOT NULL,
    subject             text        NOT NULL,
    body                text        NOT NULL,
    html                boolean     NOT NULL DEFAULT false,
    status              text        NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    locked_until        timestamptz,
    last_error          text,
    provider_message_id text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);
CREATE INDEX notifications_submission_idx ON notifications (submission_id, created_at);
