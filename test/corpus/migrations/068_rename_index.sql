-- label: safe
-- source: squawk: renaming-table does not apply to indexes
-- why: queries do not name indexes
ALTER INDEX orders_created_idx RENAME TO orders_created_at_idx;
