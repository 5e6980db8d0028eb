package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/thermo/thermo/jobs"
	"github.com/thermo/thermo/postgres"
)

const migrateAbout = `Migrate the control plane and the job queue (schema river), then every
tenant schema, to the latest version
embedded in this binary, several tenants at a time. It is idempotent, and a
run that crashed or was interrupted resumes where it stopped. One tenant's
failure does not stop the others; the failures are listed at the end and the
exit code is 1.

Progress goes to stdout: one updating line on a terminal, otherwise one line
per tenant.`

func runMigrate(ctx context.Context, c *cli, args []string) error {
	f := newFlags("thermo migrate", "[flags]", migrateAbout, c.getenv)
	parallel := f.fs.Int("parallel", 4, "migrate up to `N` tenant schemas at once")
	dbs, logs := addDBSettings(f), addLogSettings(f)
	pos, err := c.parseFlags(f, args)
	if err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q (see thermo migrate --help)", pos[0])
	} else if *parallel < 1 || *parallel > 64 {
		return usagef("--parallel=%d: must be between 1 and 64", *parallel)
	}
	logger, err := logs.logger(c.stderr)
	if err != nil {
		return err
	}
	opts, err := dbs.opts(logger)
	if err != nil {
		return err
	}
	opts.MaxConns = int32(max(*parallel+2, 4)) // each worker holds a tenant lock
	db, err := postgres.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer db.Close()

	if err := jobs.Migrate(ctx, db.Pool()); err != nil {
		return fmt.Errorf("%w; check that the DATABASE_URL user may create schemas", err)
	}
	p := &migrateProgress{w: c.stdout, tty: isTerminal(c.stdout), start: time.Now()}
	err = db.MigrateAll(ctx, postgres.MigrateAllOpts{Parallel: *parallel, Progress: p.report})
	p.summary()
	switch {
	case len(p.failures) > 0:
		return fmt.Errorf("%d of %d tenants failed (listed above); fix the cause and rerun thermo migrate", len(p.failures), p.total)
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted after %d of %d tenants; rerun thermo migrate to resume", p.done, p.total)
	case err != nil:
		return err
	}
	return nil
}

// migrateProgress prints MigrateAll's progress and summary.
type migrateProgress struct {
	w     io.Writer
	tty   bool
	start time.Time

	done, total, updated int
	failures             []postgres.MigrateProgress
}

// report is MigrateAll's Progress callback (called one at a time).
func (p *migrateProgress) report(m postgres.MigrateProgress) {
	p.done, p.total = m.Done, m.Total
	if m.Err != nil {
		p.failures = append(p.failures, m)
	} else if m.Applied > 0 {
		p.updated++
	}
	if p.tty {
		// \r and "erase line" redraw one status line in place.
		fmt.Fprintf(p.w, "\r\x1b[Kmigrating tenants %d/%d (current: %s, failed: %d)", m.Done, m.Total, m.Tenant, m.Failed)
		return
	}
	status := "up to date"
	switch {
	case m.Err != nil:
		status = "FAILED: " + oneLine(m.Err)
	case m.Applied == 1:
		status = "applied 1 migration"
	case m.Applied > 1:
		status = fmt.Sprintf("applied %d migrations", m.Applied)
	}
	fmt.Fprintf(p.w, "[%d/%d] tenant %s: %s\n", m.Done, m.Total, m.Tenant, status)
}

// summary prints the totals and lists the failed tenants.
func (p *migrateProgress) summary() {
	if p.tty && p.done > 0 {
		fmt.Fprintln(p.w)
	}
	elapsed := time.Since(p.start).Round(time.Millisecond)
	fmt.Fprintf(p.w, "migrated %d of %d tenants to schema version %d in %s: %d updated, %d already current, %d failed\n",
		p.done-len(p.failures), p.total, postgres.LatestTenantVersion(), elapsed,
		p.updated, p.done-p.updated-len(p.failures), len(p.failures))
	if len(p.failures) > 0 {
		fmt.Fprintln(p.w, "failed tenants:")
		for _, m := range p.failures {
			fmt.Fprintf(p.w, "  %s: %s\n", m.Tenant, oneLine(m.Err))
		}
	}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
