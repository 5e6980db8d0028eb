#!/usr/bin/env bash
# Builds a tenant with 1,000,000 readings (400 devices: 399 x 1,000 readings
# plus one with 601,000) and prints `thermo explain` for the big device, so
# the plans in README.md can be reproduced. Usage: scripts/explain-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable}
export DATABASE_URL
TENANT=${TENANT:-explain_demo}
bin/thermo tenant create "$TENANT" >/dev/null
psql "$DATABASE_URL" -qtAX -v ON_ERROR_STOP=1 <<SQL >/dev/null
SET search_path = tenant_$TENANT;
TRUNCATE readings, devices, daily_totals, latest_readings RESTART IDENTITY CASCADE;
INSERT INTO devices (serial_number, name) SELECT 'EXP-' || g, 'Sensor ' || lpad(g::text, 3, '0') FROM generate_series(1, 400) g;
INSERT INTO readings (device_id, recorded_at, temperature_celsius, humidity, battery_level)
SELECT d, now() - make_interval(secs => 30 * s), 20 + 8 * sin(s / 240.0) + (d % 7), 45, 0.9
FROM generate_series(2, 400) d, generate_series(1, 1000) s;
INSERT INTO readings (device_id, recorded_at, temperature_celsius, humidity, battery_level)
SELECT 1, now() - make_interval(secs => 30 * s), 20 + 8 * sin(s / 240.0), 45, 0.9
FROM generate_series(1, 601000) s;
ANALYZE devices, readings, latest_readings;
SQL
echo "tenant $TENANT: $(psql "$DATABASE_URL" -qtAX -c "SELECT count(*) FROM tenant_$TENANT.readings") readings" >&2
bin/thermo explain --tenant "$TENANT" --device 1
