-- Tenant schema, version 6: summaries kept as readings are stored.
--
-- daily_totals holds, per device and tenant-local day, the count, sum, min
-- and max of the temperatures stored so far. All four are mergeable, so the
-- order of concurrent ingests does not matter; avg = sum / count. The
-- nightly job reads one row per device instead of every reading of the day
-- (daily_stats stays what the API serves: the finalized days), and
-- `thermo aggregate --rescan` rebuilds a day's totals from the readings.
--
-- latest_readings holds each device's newest reading: the dashboard lists
-- every device with it. Probing the readings primary key once per device
-- costs ~4 buffers per device and grows with the table (8-10 ms for 1,000
-- devices at 10M readings); this is one row per device, joined by hash. A
-- late upload of older readings leaves it alone. Retention removes rows
-- whose reading it purged (ReadingService.PurgeReadings); --rescan rebuilds
-- it too.
--
-- Both are kept by one statement-level trigger over the rows each INSERT
-- (or COPY) actually inserted, so they commit or roll back with the
-- readings, a duplicate skipped by ON CONFLICT DO NOTHING is never
-- counted, and readings loaded by any path (the API, a bulk load, a test)
-- are summarized alike. Rows are upserted in key order, so concurrent
-- ingests lock them in one order. The function's search_path is pinned to
-- this schema at creation: it can only ever write this tenant's tables.
--
-- No foreign keys: devices are never deleted (deactivated instead), and the
-- checks would cost every ingest statement.

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

CREATE TABLE latest_readings (
    device_id           bigint PRIMARY KEY,
    reading_id          bigint NOT NULL,
    recorded_at         timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    temperature_celsius double precision NOT NULL,
    humidity            double precision,
    battery_level       double precision
);

-- +goose StatementBegin
CREATE FUNCTION summarize_readings() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    zone text;
BEGIN
    SELECT time_zone INTO zone FROM public.tenants WHERE id = substr(TG_TABLE_SCHEMA, length('tenant_') + 1);
    INSERT INTO daily_totals AS d (device_id, date, reading_count, sum_celsius, min_celsius, max_celsius)
    SELECT device_id, (recorded_at AT TIME ZONE coalesce(zone, 'UTC'))::date, count(*),
           sum(temperature_celsius), min(temperature_celsius), max(temperature_celsius)
    FROM new_readings GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (device_id, date) DO UPDATE
    SET reading_count = d.reading_count + EXCLUDED.reading_count,
        sum_celsius = d.sum_celsius + EXCLUDED.sum_celsius,
        min_celsius = least(d.min_celsius, EXCLUDED.min_celsius),
        max_celsius = greatest(d.max_celsius, EXCLUDED.max_celsius);
    INSERT INTO latest_readings AS l (device_id, reading_id, recorded_at, created_at, temperature_celsius, humidity, battery_level)
    SELECT DISTINCT ON (device_id) device_id, id, recorded_at, created_at, temperature_celsius, humidity, battery_level
    FROM new_readings ORDER BY device_id, recorded_at DESC
    ON CONFLICT (device_id) DO UPDATE
    SET reading_id = EXCLUDED.reading_id, recorded_at = EXCLUDED.recorded_at, created_at = EXCLUDED.created_at,
        temperature_celsius = EXCLUDED.temperature_celsius, humidity = EXCLUDED.humidity,
        battery_level = EXCLUDED.battery_level
    WHERE EXCLUDED.recorded_at > l.recorded_at;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER summarize_readings AFTER INSERT ON readings
REFERENCING NEW TABLE AS new_readings
FOR EACH STATEMENT EXECUTE FUNCTION summarize_readings();

-- Readings stored before this version.
INSERT INTO daily_totals (device_id, date, reading_count, sum_celsius, min_celsius, max_celsius)
SELECT r.device_id, (r.recorded_at AT TIME ZONE coalesce(z.time_zone, 'UTC'))::date, count(*),
       sum(r.temperature_celsius), min(r.temperature_celsius), max(r.temperature_celsius)
FROM readings r
LEFT JOIN public.tenants z ON z.id = substr(current_schema(), length('tenant_') + 1)
GROUP BY 1, 2;

INSERT INTO latest_readings (device_id, reading_id, recorded_at, created_at, temperature_celsius, humidity, battery_level)
SELECT r.device_id, r.id, r.recorded_at, r.created_at, r.temperature_celsius, r.humidity, r.battery_level
FROM devices d
CROSS JOIN LATERAL (
    SELECT * FROM readings WHERE readings.device_id = d.id ORDER BY recorded_at DESC LIMIT 1
) r;

-- +goose Down
DROP TRIGGER summarize_readings ON readings;
DROP FUNCTION summarize_readings();
DROP TABLE latest_readings;
DROP TABLE daily_totals;
