package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/thermo/thermo"
)

const explainAbout = `Run EXPLAIN (ANALYZE, BUFFERS) on the queries that serve a device's readings
(latest, latest of every device, history first and deep page, a filtered
range, hourly breakdown, one export batch) in tenant --tenant, and print each
plan, so an operator can check that they use the (device_id, recorded_at)
index. The queries only read; ANALYZE executes them inside a read-only
transaction.`

func runExplain(ctx context.Context, c *cli, args []string) error {
	f := newFlags("thermo explain", "--tenant T --device ID [flags]", explainAbout, c.getenv)
	tenant := f.fs.String("tenant", "", "tenant `id` whose schema to use (required)")
	device := f.fs.String("device", "", "device `id` whose readings the queries read (required)")
	dbs, logs := addDBSettings(f), addLogSettings(f)
	pos, err := c.parseFlags(f, args)
	if err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q (see thermo explain --help)", pos[0])
	}
	if err := thermo.ValidateTenantID(*tenant); err != nil {
		return usagef("--tenant: %s", thermo.ErrorMessage(err))
	}
	deviceID, err := strconv.ParseInt(*device, 10, 64)
	if err != nil || deviceID <= 0 {
		return usagef("--device %q: must be a positive device id", *device)
	}
	db, err := openTenantDB(ctx, c, dbs, logs)
	if err != nil {
		return err
	}
	defer db.Close()
	plans, err := db.Explain(ctx, *tenant, deviceID)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	for _, p := range plans {
		fmt.Fprintf(c.stdout, "== %s\n%s\n\n", p.Name, strings.TrimRight(p.Plan, "\n"))
	}
	return nil
}
