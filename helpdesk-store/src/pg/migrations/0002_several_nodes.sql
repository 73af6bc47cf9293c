-- helpdesk-rs schema, version 2: several nodes on one database.
--
-- `due` is the item's `not_before` (its backoff), so a claim finds due
-- items without decoding them; rows queued before this version have
-- '-infinity' and are claimed at once (the worker then checks the item's
-- own time). `lease_until` is set by a claim (`PgStore::claim_outbox`):
-- until then no other node claims the item; a node that dies mid-delivery
-- leaves it to the others once the lease ends. Rescheduling clears it.
ALTER TABLE outbox
    ADD COLUMN due         TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    ADD COLUMN lease_until TIMESTAMPTZ;

CREATE INDEX outbox_due ON outbox (due);

-- Rate limits every node counts against (`PgStore::count_hit`): hits per
-- bucket (a client address, an account) in fixed windows; windows an hour
-- old are deleted when a new one starts.
CREATE TABLE rate_hits (
    bucket       TEXT        NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits         BIGINT      NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_hits_window ON rate_hits (window_start);

-- Epochs every node reads: `rules` changes with every rule definition
-- (a configuration value outside the `app:` namespaces) in the same
-- transaction, so a node's compiled rules are checked against it on each
-- command (`Store::config_epoch`) and a rule saved anywhere runs at once.
CREATE TABLE helpdesk_epochs (
    name TEXT   PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO helpdesk_epochs (name, n) VALUES ('rules', 0);
