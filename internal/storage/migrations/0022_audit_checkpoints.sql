-- Retention of the audit log: a pruned prefix of the chain leaves a
-- checkpoint, the last pruned entry's sequence number and hash, signed
-- with the deployment's key, which verification starts from.

CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       TEXT NOT NULL,
    entry_at   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    pruned     BIGINT NOT NULL,
    mac        TEXT NOT NULL
);
