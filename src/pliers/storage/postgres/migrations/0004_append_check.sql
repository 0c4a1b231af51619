-- An append planned from a plain read stays valid as long as none of its aggregates gained an
-- event, and none of its ids was stored, since that read. The first version of this function
-- asked more: that nothing at all had been appended. Under load from several writers that was
-- rarely true, and each miss cost the writer a second plan under the lock.
--
-- Positions are assigned under the append lock in commit order, so whatever was appended since
-- the read at p_head has a position above p_head: the check reads only those rows. A plan made
-- without reading (p_head NULL) assumed its aggregates and ids were not stored at all.
--
-- The checks must use the indexes. Until autovacuum first analyzes a table that grew from empty,
-- the planner guesses that many rows match and scans the table for the first one: a few
-- milliseconds per append at ten thousand events. Hence enable_seqscan off, for this function.
CREATE OR REPLACE FUNCTION pliers_insert_if_unchanged(
    p_head bigint, p_id text[], p_type text[], p_aggregate_id text[], p_aggregate_type text[],
    p_sequence bigint[], p_version integer[], p_timestamp timestamptz[], p_correlation_id text[],
    p_causation_id text[], p_metadata jsonb[], p_payload jsonb[], p_fingerprint text[]
) RETURNS TABLE (id text, "position" bigint, recorded_at timestamptz)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    LOCK TABLE events IN EXCLUSIVE MODE;
    IF p_head IS NULL THEN
        IF EXISTS (SELECT 1 FROM events e WHERE e.aggregate_id = ANY(p_aggregate_id))
           OR EXISTS (SELECT 1 FROM events e WHERE e.id = ANY(p_id)) THEN
            RETURN;
        END IF;
    ELSIF EXISTS (
        SELECT 1 FROM events e
         WHERE e.position > p_head
           AND (e.aggregate_id = ANY(p_aggregate_id) OR e.id = ANY(p_id))
    ) THEN
        RETURN;
    END IF;
    RETURN QUERY
    INSERT INTO events AS e (id, type, aggregate_id, aggregate_type, sequence_number, version,
                             "timestamp", correlation_id, causation_id, metadata, payload,
                             fingerprint)
    SELECT v.id, v.type, v.aggregate_id, v.aggregate_type, v.seq, v.version,
           coalesce(v.ts, now()), v.correlation_id, v.causation_id, v.metadata, v.payload, v.fp
      FROM unnest(p_id, p_type, p_aggregate_id, p_aggregate_type, p_sequence, p_version,
                  p_timestamp, p_correlation_id, p_causation_id, p_metadata, p_payload,
                  p_fingerprint)
           WITH ORDINALITY
           AS v(id, type, aggregate_id, aggregate_type, seq, version, ts, correlation_id,
                causation_id, metadata, payload, fp, ord)
     ORDER BY v.ord
    RETURNING e.id, e.position, e.recorded_at;
END $$;
