-- Tenant schema, version 3: alert rules, alerts, notification outcomes and
-- the tenant's webhook.
--
-- A rule row holds both its definition and its evaluation state (state,
-- pending_since, last_reading_at, open_alert_id). Evaluation in the ingest
-- transaction locks the device's enabled rules with SELECT … FOR UPDATE
-- (in id order, so two ingests never deadlock): that one statement reads
-- the current definition and serializes concurrent ingests of the device,
-- so a crossing fires exactly once. Rule updates take the same row lock.
--
-- alerts: one row per firing episode. The partial unique index allows at
-- most one open (unresolved) alert per rule: a second line of defence
-- behind the row lock. The list endpoint pages newest first by id.

-- +goose Up
CREATE TABLE alert_rules (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id                bigint NOT NULL REFERENCES devices (id),
    condition                text NOT NULL CHECK (condition IN ('above', 'below')),
    threshold_celsius        double precision NOT NULL
        CHECK (threshold_celsius BETWEEN -273.15 AND 1000),
    for_seconds              integer NOT NULL DEFAULT 0 CHECK (for_seconds BETWEEN 0 AND 604800),
    clear_hysteresis_celsius double precision NOT NULL DEFAULT 0
        CHECK (clear_hysteresis_celsius BETWEEN 0 AND 100),
    is_enabled               boolean NOT NULL DEFAULT true,
    state                    text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'pending', 'firing')),
    pending_since            timestamptz,
    last_reading_at          timestamptz,
    open_alert_id            bigint,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_device_idx ON alert_rules (device_id, id);

CREATE TABLE alerts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id             bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    device_id           bigint NOT NULL REFERENCES devices (id),
    reading_id          bigint NOT NULL,
    temperature_celsius double precision NOT NULL,
    fired_at            timestamptz NOT NULL,
    resolved_at         timestamptz,
    acknowledged_by     text CHECK (length(acknowledged_by) BETWEEN 1 AND 255),
    acknowledged_at     timestamptz,
    version             bigint NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_one_open_per_rule ON alerts (rule_id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_device_idx ON alerts (device_id, id);
CREATE INDEX alerts_unacknowledged_idx ON alerts (id) WHERE acknowledged_at IS NULL;

ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_open_alert_fk
    FOREIGN KEY (open_alert_id) REFERENCES alerts (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE alert_notifications (
    alert_id   bigint PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- At most one webhook per tenant: the key is the constant true.
CREATE TABLE webhooks (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    url        text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    secret     text NOT NULL CHECK (length(secret) BETWEEN 16 AND 256),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE alert_notifications;
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_open_alert_fk;
DROP TABLE alerts;
DROP TABLE alert_rules;
