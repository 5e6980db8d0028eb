-- Tenant schema, version 5: the live-stream policy.
--
-- At most one row (the key column is always true); no row means the
-- defaults (a user's newer live session replaces the older one).

-- +goose Up
CREATE TABLE live_settings (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    single_session boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE live_settings;
