-- Tenant schema, version 1: people and their devices. Statements use
-- unqualified names; the migrator runs them with search_path set to the
-- tenant's schema.

-- +goose Up
CREATE TABLE users (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    keycloak_subject_id text NOT NULL CHECK (length(keycloak_subject_id) BETWEEN 1 AND 255),
    email               text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    name                text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
-- One live user per subject; a soft-deleted user frees the subject.
CREATE UNIQUE INDEX users_subject_key ON users (keycloak_subject_id) WHERE deleted_at IS NULL;

CREATE TABLE devices (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial_number text NOT NULL UNIQUE CHECK (length(serial_number) BETWEEN 1 AND 64),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    location      text NOT NULL DEFAULT '' CHECK (length(location) <= 200),
    owner_id      bigint REFERENCES users (id),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- The device list is sorted by name; id breaks ties for stable pages.
CREATE INDEX devices_name_idx ON devices (name, id);
CREATE INDEX devices_owner_idx ON devices (owner_id) WHERE owner_id IS NOT NULL;

-- +goose Down
DROP TABLE devices;
DROP TABLE users;
