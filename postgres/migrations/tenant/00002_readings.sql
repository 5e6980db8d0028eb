-- Tenant schema, version 2: temperature readings, the high-volume table.
--
-- Key and indexes. Every read of this table names one device and walks its
-- readings by time: latest (ORDER BY recorded_at DESC LIMIT 1), history pages
-- (keyset on recorded_at, newest first), hourly breakdown, export, the
-- dashboard's latest-of-every-device (a LATERAL probe per device) and the
-- nightly per-device daily aggregation. So the primary key
-- (device_id, recorded_at) is the only index: it enforces one reading per
-- device and instant (a retried post is a duplicate, not a second row) and is
-- the keyset key of the history cursor, unique, so no row is skipped when
-- two readings share a timestamp on different devices. No index on
-- temperature_celsius or recorded_at alone (the seed's): they serve no
-- per-device query and would cost a write per row. Temperature filters are
-- applied on the device's key range.
--
-- id is assigned by the identity sequence (GENERATED ALWAYS: callers cannot
-- choose it) and is unique by construction. It is not indexed: nothing looks
-- a reading up by id alone, and at 100M rows a unique index on it would cost
-- ~2 GB and a second index insert per row, and would block a move to
-- partitions (a unique index there must contain the partition key).
--
-- Size and retention (see PurgeReadings in postgres/reading.go). At 100M rows per
-- tenant the table is ~8 GB of heap plus ~3 GB of primary key. It is a plain
-- table: retention deletes old rows in bounded batches walking each device's
-- key range, so no unbounded DELETE and no extra index. A tenant whose daily
-- volume makes those deletes the bottleneck (tens of millions of rows a day)
-- moves to monthly range partitions on recorded_at dropped whole; this
-- schema is ready for that: the only unique key contains recorded_at and no
-- foreign key points at readings.
--
-- CHECK constraints repeat the Go validation (thermo.Reading.Validate) as the
-- last line of defence. NaN and ±Infinity fail the range checks. "Not more
-- than 5 minutes in the future" is checked against the row's own created_at
-- (the insert time), which keeps the constraint immutable.

-- +goose Up
CREATE TABLE readings (
    id                  bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    device_id           bigint NOT NULL REFERENCES devices (id),
    recorded_at         timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    temperature_celsius double precision NOT NULL
        CHECK (temperature_celsius BETWEEN -273.15 AND 1000),
    humidity            double precision CHECK (humidity BETWEEN 0 AND 100),
    battery_level       double precision CHECK (battery_level BETWEEN 0 AND 1),
    PRIMARY KEY (device_id, recorded_at),
    CONSTRAINT readings_recorded_at_not_future
        CHECK (recorded_at <= created_at + interval '5 minutes')
);

-- +goose Down
DROP TABLE readings;
