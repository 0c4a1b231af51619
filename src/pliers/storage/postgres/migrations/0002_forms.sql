-- Read models of forms and submissions, written in the same transaction as their events.

CREATE TABLE forms (
    seq            bigint      GENERATED ALWAYS AS IDENTITY,
    id             text        PRIMARY KEY,
    name           text        NOT NULL,
    description    text,
    body           jsonb       NOT NULL,
    version        integer     NOT NULL,
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    event_sequence bigint      NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT forms_seq_key UNIQUE (seq)
);

CREATE TABLE form_versions (
    form_id     text        NOT NULL REFERENCES forms (id),
    version     integer     NOT NULL,
    name        text        NOT NULL,
    description text,
    body        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (form_id, version)
);

CREATE TABLE submissions (
    seq          bigint      GENERATED ALWAYS AS IDENTITY,
    id           text        PRIMARY KEY,
    form_id      text        NOT NULL,
    form_version integer     NOT NULL,
    data         jsonb       NOT NULL,
    submitted_by text,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status       text        NOT NULL DEFAULT 'submitted',
    created_at   timestamptz NOT NULL,
    CONSTRAINT submissions_seq_key UNIQUE (seq),
    CONSTRAINT submissions_form_version_fkey FOREIGN KEY (form_id, form_version)
        REFERENCES form_versions (form_id, version)
);

CREATE INDEX submissions_form_seq_idx ON submissions (form_id, seq);
