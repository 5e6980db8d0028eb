-- The control plane: the only table in public. Tenant data never lives here.

-- +goose Up
CREATE TABLE public.tenants (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{1,39}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    time_zone      text NOT NULL DEFAULT 'UTC',
    retention_days integer NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 36500),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE public.tenants;
