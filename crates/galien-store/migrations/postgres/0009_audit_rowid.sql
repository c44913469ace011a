-- Galien 0009: on SQLite, the audit trail keyed by its rowid (see migrations/sqlite/0009). PostgreSQL
-- needs no change: `seq BIGINT PRIMARY KEY` is already the table's one key index. This migration only
-- keeps the two engines' versions in step.

SELECT 1;
