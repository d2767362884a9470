-- Outbox of the databus relay (databus/outbox, relayed by producers/outbox), SQLite 3.35+.
-- {table} stands for the table name; databus.outbox.create_outbox() substitutes it and runs
-- each statement (idempotent). Keep in step with databus/outbox/table.py (a test checks both).
-- Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLite's own clock, used by the defaults,
-- has millisecond resolution).
CREATE TABLE IF NOT EXISTS {table} (
    id                 INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    topic              VARCHAR(249) NOT NULL,
    msg_key            VARCHAR(64) NOT NULL,
    event_id           CHAR(36) NOT NULL,
    event_type         VARCHAR(64) NOT NULL,
    schema_fingerprint CHAR(16) NOT NULL,
    body               BLOB NOT NULL,
    created_at         DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'),
    published_at       DATETIME
);

-- The relay's scan: unpublished rows in id order; published rows leave the index.
CREATE INDEX IF NOT EXISTS {table}_unpublished ON {table} (id) WHERE published_at IS NULL;
