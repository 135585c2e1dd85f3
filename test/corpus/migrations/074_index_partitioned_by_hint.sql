-- label: safe
-- source: squawk: require-concurrent-index-creation (the partitioned form; issue 24)
-- why: ON ONLY builds nothing, each partition is built concurrently, then attached
CREATE INDEX events_created_idx ON ONLY events (created_at);
CREATE INDEX CONCURRENTLY events_2025_created_idx ON events_2025 (created_at);
ALTER INDEX events_created_idx ATTACH PARTITION events_2025_created_idx;
CREATE INDEX CONCURRENTLY events_2026_created_idx ON events_2026 (created_at);
ALTER INDEX events_created_idx ATTACH PARTITION events_2026_created_idx;
