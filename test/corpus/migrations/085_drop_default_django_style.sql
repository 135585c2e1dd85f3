-- label: safe
-- source: Django's AddField with a default (add with default, then drop it)
-- why: a constant default: no rewrite; dropping it is a catalog change
BEGIN;
ALTER TABLE accounts ADD COLUMN locale varchar(8) DEFAULT 'en' NOT NULL;
ALTER TABLE accounts ALTER COLUMN locale DROP DEFAULT;
COMMIT;
