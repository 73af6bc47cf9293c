-- helpdesk-rs schema, version 1. Applied once, in one transaction, by
-- `PgStore::open` (see `pg/schema.rs`). Never edit a released migration:
-- add the next file instead.
--
-- Record and holder ids are u64 in Rust; they are stored with the top bit
-- flipped (`pg::sql_id`) so that signed BIGINT order is unsigned order
-- (seen-mail ids are hashes over the whole u64 range). Ticket ids come from
-- the `ids_ticket` sequence and stay below 2^63: stored as they are.

-- One row per ticket: its state (MessagePack), its list row (compact
-- summary) and the version every commit checks in its UPDATE.
CREATE TABLE tickets (
    id      BIGINT PRIMARY KEY CHECK (id > 0),
    version BIGINT NOT NULL CHECK (version > 0),
    state   BYTEA  NOT NULL,
    summary BYTEA  NOT NULL
);

-- The ticket log: one row per commit (its events as one MessagePack list),
-- keyed by the version of the commit's first event.
CREATE TABLE ticket_events (
    ticket  BIGINT NOT NULL,
    version BIGINT NOT NULL,
    events  BYTEA  NOT NULL,
    PRIMARY KEY (ticket, version)
);

-- Index entries: opaque ordered keys computed by helpdesk-core (they end
-- with the ticket id). Pages are B-tree range reads.
CREATE TABLE index_entries (
    key BYTEA PRIMARY KEY
);

-- The entries of the all-department filter streams (helpdesk-core's
-- ANY_DEPARTMENT): the department part of each filter key set to "any", so
-- an agent who sees every department reads one range, not one per
-- department. Written by the same commits as `index_entries`.
CREATE TABLE index_any_department (
    key BYTEA PRIMARY KEY
);

-- Counters: changed by commits as `n = n + d`; a row at zero is removed.
CREATE TABLE counters (
    key BYTEA  PRIMARY KEY,
    n   BIGINT NOT NULL
);

-- Directory records (JSON), by kind tag and id.
CREATE TABLE records (
    kind SMALLINT NOT NULL,
    id   BIGINT   NOT NULL,
    body BYTEA    NOT NULL,
    PRIMARY KEY (kind, id)
);

-- Unique keys (emails, domains, names): the primary key is the constraint.
CREATE TABLE unique_keys (
    key  TEXT     PRIMARY KEY,
    kind SMALLINT NOT NULL,
    id   BIGINT   NOT NULL,
    FOREIGN KEY (kind, id) REFERENCES records (kind, id) ON DELETE CASCADE
);
CREATE INDEX unique_keys_holder ON unique_keys (kind, id);

-- The outbox: one row per queued effect (the item in the compact outbox
-- codec, as a group of one), by (ticket, version of the commit that queued
-- it, position). Delivery claims (a lease column) come with multi-node
-- delivery.
CREATE TABLE outbox (
    ticket  BIGINT NOT NULL,
    version BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    item    BYTEA  NOT NULL,
    PRIMARY KEY (ticket, version, seq)
);

-- Content-addressed blobs (attachments, original mail).
CREATE TABLE blobs (
    id    TEXT  PRIMARY KEY,
    bytes BYTEA NOT NULL
);

-- Named configuration values (rule definitions), JSON.
CREATE TABLE configs (
    namespace TEXT  NOT NULL,
    name      TEXT  NOT NULL,
    value     BYTEA NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- Id sequences, one per kind (`ids_<kind>`): never handing out an id twice.
CREATE SEQUENCE ids_ticket;
CREATE SEQUENCE ids_user;
CREATE SEQUENCE ids_agent;
CREATE SEQUENCE ids_team;
CREATE SEQUENCE ids_department;
CREATE SEQUENCE ids_organisation;
CREATE SEQUENCE ids_usergroup;
CREATE SEQUENCE ids_credential;
CREATE SEQUENCE ids_email_account;
CREATE SEQUENCE ids_saved_filter;
