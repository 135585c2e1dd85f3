-- Flyway versioned migration: a new table, with its index and key.
CREATE TABLE audit_entry (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    happened_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_entry_account_idx ON audit_entry (account_id);
