-- Outbox of the databus relay (databus/outbox, relayed by producers/outbox), PostgreSQL 12+.
-- {table} stands for the table name; databus.outbox.create_outbox() substitutes it and runs
-- each statement (idempotent). Keep in step with databus/outbox/table.py (a test checks both).
CREATE TABLE IF NOT EXISTS {table} (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic              VARCHAR(249) NOT NULL,
    msg_key            VARCHAR(64) NOT NULL,
    event_id           CHAR(36) NOT NULL,
    event_type         VARCHAR(64) NOT NULL,
    schema_fingerprint CHAR(16) NOT NULL,
    body               BYTEA NOT NULL,
    created_at         TIMESTAMP(6) WITH TIME ZONE NOT NULL DEFAULT now(),
    published_at       TIMESTAMP(6) WITH TIME ZONE
)
-- A queue table: every row is updated once; vacuum often so the scan skips few dead entries.
WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- The relay's scan: unpublished rows in id order; published rows leave the index.
CREATE INDEX IF NOT EXISTS {table}_unpublished ON {table} (id) WHERE published_at IS NULL;
