#!/usr/bin/env bash
# `make run`: migrate, provision the demo tenants, then serve in dev mode.
set -euo pipefail
cd "$(dirname "$0")/.."
THERMO=bin/thermo
export THERMO_DEV_KEY=${THERMO_DEV_KEY:-$PWD/.thermo/dev-signing-key.pem}

$THERMO migrate
$THERMO tenant create building_a --name "Building A" >/dev/null
$THERMO tenant create building_b --name "Building B" >/dev/null
$THERMO tenant list

port=${HTTP_ADDR##*:}
cat <<MSG

Thermo is starting on http://localhost:${port} in dev mode (dev tokens accepted).
In another terminal:

  export THERMO_DEV_KEY=$THERMO_DEV_KEY
  TOKEN=\$($THERMO token --tenant building_a --sub alice)
  curl -s -H "Authorization: Bearer \$TOKEN" http://localhost:${port}/v1/tenant

  curl -s http://localhost:${port}/readyz          # health
  curl -s http://localhost:${port}/openapi.json    # the API

Stop with Ctrl-C (drains in-flight requests first).

MSG
exec $THERMO serve --dev
