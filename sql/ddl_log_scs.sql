--
-- A secret in a statement parsed with one standard_conforming_strings and
-- scanned for the DDL log with another: the whole text is redacted.  From
-- 19 on the setting can no longer be turned off (ddl_log_scs_1.out).
--
SELECT coalesce(max(seq), 0) AS before FROM guardrails.ddl_log \gset
CREATE ROLE ddl_scs;
SET standard_conforming_strings = on;
SET standard_conforming_strings = off \; ALTER ROLE ddl_scs PASSWORD 'hunter5\';
RESET standard_conforming_strings;
SELECT command_tag, outcome, query
FROM guardrails.ddl_log WHERE seq > :before AND command_tag = 'ALTER ROLE'
ORDER BY seq;
SELECT count(*) AS leaks FROM guardrails.ddl_log l WHERE l::text ~ 'hunter5';
DROP ROLE ddl_scs;
