-- Outbox of the databus relay (databus/outbox, relayed by producers/outbox), MariaDB 10.5+ (InnoDB).
-- {table} stands for the table name; databus.outbox.create_outbox() substitutes it and runs
-- each statement (idempotent). Keep in step with databus/outbox/table.py (a test checks both).
-- Timestamps are UTC (UTC_TIMESTAMP), stored without a zone: DATETIME has no 2038 limit and no
-- session time-zone conversion.
CREATE TABLE IF NOT EXISTS {table} (
    id                 BIGINT NOT NULL AUTO_INCREMENT,
    topic              VARCHAR(249) NOT NULL,
    msg_key            VARCHAR(64) NOT NULL,
    event_id           CHAR(36) NOT NULL,
    event_type         VARCHAR(64) NOT NULL,
    schema_fingerprint CHAR(16) NOT NULL,
    body               LONGBLOB NOT NULL,
    created_at         DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    published_at       DATETIME(6) NULL,
    PRIMARY KEY (id),
    -- The relay's scan: `published_at IS NULL ORDER BY id` is one range of this index.
    KEY {table}_unpublished (published_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
