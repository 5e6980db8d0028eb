#!/usr/bin/env bash
# `make run`: migrate, provision the demo tenants, then serve in dev mode.
set -euo pipefail
cd "$(dirname "$0")/.."
THERMO=bin/thermo
export LOG_FORMAT=${LOG_FORMAT:-text}  # readable on a terminal; JSON is the default elsewhere
export THERMO_DEV_KEY=${THERMO_DEV_KEY:-$PWD/.thermo/dev-signing-key.pem}

$THERMO migrate
$THERMO tenant create building_a --name "Building A" >/dev/null
$THERMO tenant create building_b --name "Building B" >/dev/null
$THERMO tenant list

port=${HTTP_ADDR##*:}
mkdir -p .thermo
SIM_LOG=$PWD/.thermo/simulate.log
cat <<MSG

Thermo is starting on http://localhost:${port} in dev mode (dev tokens accepted).
Dashboard: open http://localhost:${port}/ and press "Mint dev token" (tenant building_a).
In another terminal:

  export THERMO_DEV_KEY=$THERMO_DEV_KEY
  TOKEN=\$($THERMO token --tenant building_a --sub alice)
  curl -s -H "Authorization: Bearer \$TOKEN" http://localhost:${port}/v1/tenant

  curl -s http://localhost:${port}/readyz          # health
  curl -s http://localhost:${port}/openapi.json    # the API

A simulator posts readings from ${SIM_DEVICES:-20} devices per tenant every ${SIM_INTERVAL:-5s}
(log: $SIM_LOG); watch it with  tail -f $SIM_LOG

Stop with Ctrl-C (drains in-flight requests first; the simulator stops too).

MSG
# The simulator waits for the server, then runs until the server exits.
(
  until (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; do sleep 0.5; done
  exec $THERMO simulate --url "http://localhost:${port}" --tenants building_a,building_b \
    --devices "${SIM_DEVICES:-20}" --interval "${SIM_INTERVAL:-5s}"
) >"$SIM_LOG" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
$THERMO serve --dev
