package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/thermo/thermo"
)

const aggregateAbout = `Compute the daily statistics of one tenant for every tenant-local day from
--from to --to (inclusive), exactly as the nightly job does: from the running
totals that ingestion keeps per device and day, one statement per day,
idempotent, and the weekly cache of changed devices is invalidated.

--rescan first rebuilds each day's totals, and every device's latest reading,
from the stored readings (a scan of the day; the tenant's ingestion waits
meanwhile). Use it after readings were edited or deleted by hand.

Progress goes to stdout: one updating line on a terminal, otherwise one line
per day with its duration.`

func runAggregate(ctx context.Context, c *cli, args []string) error {
	f := newFlags("thermo aggregate", "--tenant <id> --from <YYYY-MM-DD> [--to <YYYY-MM-DD>] [--rescan] [flags]", aggregateAbout, c.getenv)
	tenant := f.fs.String("tenant", "", "tenant `id`")
	fromS := f.fs.String("from", "", "first tenant-local `date` (YYYY-MM-DD)")
	toS := f.fs.String("to", "", "last tenant-local `date` (YYYY-MM-DD), default --from")
	rescan := f.fs.Bool("rescan", false, "rebuild the days' running totals from the readings first")
	redisURL, lockURLs := f.setting(envRedisURL), f.setting(envRedisLockURLs)
	dbs, logs := addDBSettings(f), addLogSettings(f)
	pos, err := c.parseFlags(f, args)
	if err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q (see thermo aggregate --help)", pos[0])
	}
	if err := thermo.ValidateTenantID(*tenant); err != nil {
		return usagef("--tenant: %s", thermo.ErrorMessage(err))
	}
	from, to, err := parseDayRange(*fromS, *toS)
	if err != nil {
		return err
	}
	db, sw, _, err := openWithStats(ctx, c, dbs, logs, redisURL, lockURLs)
	if err != nil {
		return err
	}
	defer db.Close()
	defer sw.close()
	p := &aggregateProgress{w: c.stdout, tty: isTerminal(c.stdout), tenant: *tenant, start: time.Now(),
		total: int(to.Sub(from).Hours()/24) + 1}
	ctx = thermo.WithTenant(ctx, *tenant)
	aggregate := sw.service.AggregateDay
	if *rescan {
		aggregate = sw.service.RescanDay
	}
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		start := time.Now()
		res, err := aggregate(ctx, day)
		if err != nil {
			p.finish()
			return fmt.Errorf("tenant %s, %s: %w (days before it are done)", *tenant, day.Format(thermo.DateLayout), err)
		}
		p.report(day, res, time.Since(start))
	}
	p.finish()
	return nil
}

// parseDayRange parses --from and --to (default --from).
func parseDayRange(fromS, toS string) (from, to time.Time, err error) {
	if from, err = thermo.ParseDate(fromS); err != nil {
		return from, to, usagef("--from=%q: must be a date such as 2026-03-08", fromS)
	}
	if toS == "" {
		return from, from, nil
	}
	if to, err = thermo.ParseDate(toS); err != nil {
		return from, to, usagef("--to=%q: must be a date such as 2026-03-08", toS)
	}
	if to.Before(from) {
		return from, to, usagef("--to must not be before --from")
	}
	return from, to, nil
}

// aggregateProgress prints one line per day, or redraws one on a terminal.
type aggregateProgress struct {
	w           io.Writer
	tty         bool
	tenant      string
	start       time.Time
	done, total int
	devices     int
}

func (p *aggregateProgress) report(day time.Time, res *thermo.AggregateResult, took time.Duration) {
	p.done++
	p.devices += res.Devices
	d := day.Format(thermo.DateLayout)
	if p.tty {
		const width = 30
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = '.'
			if i < p.done*width/p.total {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(p.w, "\r\x1b[Kaggregating %s [%s] %d/%d days (last: %s)", p.tenant, bar, p.done, p.total, d)
		return
	}
	fmt.Fprintf(p.w, "[%d/%d] tenant %s, %s: %d devices, %d changed in %s\n",
		p.done, p.total, p.tenant, d, res.Devices, len(res.Changed), took.Round(time.Millisecond))
}

func (p *aggregateProgress) finish() {
	if p.tty && p.done > 0 {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "aggregated %d of %d days of tenant %s (%d device-days) in %s\n",
		p.done, p.total, p.tenant, p.devices, time.Since(p.start).Round(time.Millisecond))
}
