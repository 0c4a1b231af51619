-- A client may send an Idempotency-Key with a submission; a retry with the same key (on the same
-- form) is answered with the stored submission instead of storing it twice. The index makes a key
-- unique per form, so two processes racing with one key cannot both store it.
ALTER TABLE submissions ADD COLUMN idempotency_key TEXT;

CREATE UNIQUE INDEX submissions_idempotency_idx ON submissions (form_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
