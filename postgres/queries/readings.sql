-- Every statement here names one device and ranges over recorded_at, so it
-- is served by the primary key (device_id, recorded_at). Unset bounds are
-- NULL and replaced by ±infinity with coalesce: the bound stays an index
-- condition in generic (cached) plans, where "$1 IS NULL OR ..." would not.

-- name: FindLatestReading :one
SELECT * FROM readings
WHERE device_id = @device_id
ORDER BY recorded_at DESC
LIMIT 1;

-- The dashboard's latest reading of every device is hand-written in
-- postgres/reading.go (latestReadingsSQL): it needs LEFT JOIN LATERAL,
-- whose columns sqlc does not know to be nullable.

-- FindReadings is one history page, newest first. before is the keyset
-- cursor (exclusive) or the filter's end, whichever is earlier.
-- name: FindReadings :many
SELECT * FROM readings
WHERE device_id = @device_id
  AND recorded_at < coalesce(sqlc.narg(before)::timestamptz, 'infinity')
  AND recorded_at >= coalesce(sqlc.narg(since)::timestamptz, '-infinity')
  AND temperature_celsius >= coalesce(sqlc.narg(min_temp)::float8, '-Infinity')
  AND temperature_celsius <= coalesce(sqlc.narg(max_temp)::float8, 'Infinity')
ORDER BY recorded_at DESC
LIMIT @row_limit;

-- ExportReadings is one export batch, oldest first, after the last row of
-- the previous batch (exclusive).
-- name: ExportReadings :many
SELECT * FROM readings
WHERE device_id = @device_id
  AND recorded_at > coalesce(sqlc.narg(after)::timestamptz, '-infinity')
  AND recorded_at >= coalesce(sqlc.narg(since)::timestamptz, '-infinity')
  AND recorded_at < coalesce(sqlc.narg(until)::timestamptz, 'infinity')
  AND temperature_celsius >= coalesce(sqlc.narg(min_temp)::float8, '-Infinity')
  AND temperature_celsius <= coalesce(sqlc.narg(max_temp)::float8, 'Infinity')
ORDER BY recorded_at
LIMIT @row_limit;

-- FindHourlyReadings aggregates the last @hours UTC hours (the current one
-- included) in one range scan, then lists every hour, empty ones too.
-- name: FindHourlyReadings :many
WITH span AS (
    SELECT date_trunc('hour', now(), 'UTC') AS last_hour,
           date_trunc('hour', now(), 'UTC') - make_interval(hours => sqlc.arg(hours)::int - 1) AS first_hour
), stats AS (
    SELECT date_trunc('hour', recorded_at, 'UTC') AS hour,
           count(*) AS n,
           avg(temperature_celsius)::float8 AS avg_celsius,
           min(temperature_celsius)::float8 AS min_celsius,
           max(temperature_celsius)::float8 AS max_celsius
    FROM readings, span
    WHERE device_id = @device_id AND recorded_at >= span.first_hour
    GROUP BY 1
)
SELECT h.hour::timestamptz AS hour,
       coalesce(stats.n, 0)::bigint AS count,
       stats.avg_celsius, stats.min_celsius, stats.max_celsius
FROM span
CROSS JOIN generate_series(span.first_hour, span.last_hour, interval '1 hour') AS h(hour)
LEFT JOIN stats ON stats.hour = h.hour
ORDER BY h.hour;

-- PurgeReadings deletes at most @batch readings recorded before @before,
-- walking each device's key range (no index on recorded_at alone needed).
-- Retention calls it until it returns 0.
-- name: PurgeReadings :execrows
DELETE FROM readings r
USING (
    SELECT old.device_id, old.recorded_at
    FROM devices d
    CROSS JOIN LATERAL (
        SELECT readings.device_id, readings.recorded_at FROM readings
        WHERE readings.device_id = d.id AND readings.recorded_at < @before
        ORDER BY readings.recorded_at
        LIMIT @batch
    ) old
    LIMIT @batch
) victims
WHERE r.device_id = victims.device_id AND r.recorded_at = victims.recorded_at;

-- name: FindReadingAt :one
SELECT * FROM readings
WHERE device_id = @device_id AND recorded_at = @recorded_at;
