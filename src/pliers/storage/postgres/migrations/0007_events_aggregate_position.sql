-- A query page by aggregate ids reads each aggregate in position order and stops at the page
-- size; without this index it reads and sorts each listed aggregate whole.
CREATE INDEX events_aggregate_position_idx ON events (aggregate_id, position);
