-- helpdesk-rs schema, version 3: the audit log of admin changes, logins and
-- API keys (`Store::admin_commit`, written in the transaction of the change
-- it records). Append-only: a trigger refuses every UPDATE, DELETE and
-- TRUNCATE, so not even a bug in a node can rewrite history.
CREATE TABLE audit_log (
    seq  BIGSERIAL   PRIMARY KEY,
    at   TIMESTAMPTZ NOT NULL,
    body BYTEA       NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
