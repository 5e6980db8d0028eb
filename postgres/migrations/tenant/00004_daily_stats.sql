-- Tenant schema, version 4: daily statistics and the late-reading marks.
--
-- daily_stats holds one row per device and tenant-local day (the tenant's
-- time zone decides where a day starts). The unique key (device_id, date)
-- is what makes the nightly upsert idempotent: re-running a day updates the
-- row in place (and only when a value changed, so updated_at is when the
-- numbers last changed). Rows outlive the readings they summarize:
-- retention deletes readings, never statistics, so no foreign key to
-- readings, and the one to devices keeps stats of a device that exists.
--
-- stats_dirty lists device-days that received a reading after the day was
-- over (a device uploading yesterday's buffer today). The ingest hook adds
-- rows (ON CONFLICT DO NOTHING, one statement per late batch); the stats job
-- deletes them in the transaction that re-aggregates them.

-- +goose Up
CREATE TABLE daily_stats (
    device_id     bigint NOT NULL REFERENCES devices (id),
    date          date NOT NULL,
    reading_count integer NOT NULL CHECK (reading_count > 0),
    avg_celsius   double precision NOT NULL,
    min_celsius   double precision NOT NULL,
    max_celsius   double precision NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, date)
);

CREATE TABLE stats_dirty (
    device_id bigint NOT NULL,
    date      date NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (date, device_id)
);

-- +goose Down
DROP TABLE stats_dirty;
DROP TABLE daily_stats;
