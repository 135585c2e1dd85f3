-- label: hazard
-- source: squawk: require-concurrent-index-creation
-- why: an index on a partitioned table (without ON ONLY) is built on every partition while writes wait
CREATE INDEX events_payload_idx ON events (payload);
