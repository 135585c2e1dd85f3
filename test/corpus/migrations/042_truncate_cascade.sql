-- label: hazard
-- source: squawk: ban-truncate-cascade
-- why: CASCADE empties every table that references this one, which the author may not know
TRUNCATE accounts CASCADE;
