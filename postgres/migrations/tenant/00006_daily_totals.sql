-- Tenant schema, version 6: running daily totals, kept at ingest.
--
-- daily_totals holds, per device and tenant-local day, the count, sum, min
-- and max of the temperatures stored so far. Every statement that inserts
-- readings adds the rows it actually inserted (duplicates excluded) to it
-- in the same statement (a data-modifying CTE), so the totals commit or
-- roll back with the readings. All four are mergeable, so the order of
-- concurrent ingests does not matter; avg = sum / count.
--
-- The nightly job then reads one row per device instead of every reading of
-- the day (daily_stats stays what the API serves: the finalized closed
-- days). `thermo aggregate --rescan` rebuilds a day's totals from the
-- readings, as this migration does for readings stored before it.

-- +goose Up
CREATE TABLE daily_totals (
    device_id     bigint NOT NULL,
    date          date NOT NULL,
    reading_count bigint NOT NULL CHECK (reading_count > 0),
    sum_celsius   double precision NOT NULL,
    min_celsius   double precision NOT NULL,
    max_celsius   double precision NOT NULL,
    PRIMARY KEY (device_id, date)
);

INSERT INTO daily_totals (device_id, date, reading_count, sum_celsius, min_celsius, max_celsius)
SELECT r.device_id, (r.recorded_at AT TIME ZONE z.time_zone)::date, count(*),
       sum(r.temperature_celsius), min(r.temperature_celsius), max(r.temperature_celsius)
FROM readings r
CROSS JOIN (SELECT coalesce((SELECT time_zone FROM public.tenants WHERE 'tenant_' || id = current_schema()), 'UTC') AS time_zone) z
GROUP BY 1, 2;

-- +goose Down
DROP TABLE daily_totals;
