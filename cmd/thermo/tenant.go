package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

const tenantAbout = `Manage tenants (one PostgreSQL schema each).

Commands:
  create <id>  Register a tenant and provision its schema at the latest version
  list         List tenants

Run "thermo tenant <command> --help" for a command's flags.`

const tenantCreateAbout = `Register tenant <id> and provision its schema at the latest migration
version. The id must match ^[a-z][a-z0-9_]{1,39}$. Creating a tenant that
exists changes nothing. Tenants are also created with default settings on
their first authenticated API request.`

const tenantListAbout = `List tenants: id, name, time zone, retention days and creation time.`

func runTenant(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "create":
			return named("thermo tenant create", runTenantCreate(ctx, c, args[1:]))
		case "list":
			return named("thermo tenant list", runTenantList(ctx, c, args[1:]))
		case "-h", "-help", "--help", "help":
			fmt.Fprintf(c.stdout, "Usage: thermo tenant <command> [arguments] [flags]\n\n%s\n", tenantAbout)
			return flag.ErrHelp
		}
		return usagef("unknown command %q: use create or list (see thermo tenant --help)", args[0])
	}
	return usagef("missing command: use create or list (see thermo tenant --help)")
}

// named attributes err to the subcommand cmd.
func named(cmd string, err error) error {
	if err == nil {
		return nil
	}
	return &cmdError{cmd: cmd, err: err}
}

func runTenantCreate(ctx context.Context, c *cli, args []string) error {
	f := newFlags("thermo tenant create", "<id> [flags]", tenantCreateAbout, c.getenv)
	name := f.fs.String("name", "", "display `name` (default: the id)")
	tz := f.fs.String("tz", thermo.DefaultTimeZone, "IANA time `zone` of the tenant's days, e.g. Europe/Berlin")
	retention := f.fs.Int("retention-days", thermo.DefaultRetentionDays, "keep readings this many `days`")
	dbs, logs := addDBSettings(f), addLogSettings(f)
	pos, err := c.parseFlags(f, args)
	if err != nil {
		return err
	} else if len(pos) != 1 {
		return usagef("want exactly one tenant id, got %d arguments (see thermo tenant create --help)", len(pos))
	}
	t := &thermo.Tenant{ID: pos[0], Name: *name, TimeZone: *tz, RetentionDays: *retention}
	if err := t.Validate(); err != nil {
		return invalidTenant(err)
	}
	db, err := openTenantDB(ctx, c, dbs, logs)
	if err != nil {
		return err
	}
	defer db.Close()

	tenants := postgres.NewTenantService(db)
	existing, err := tenants.FindTenantByID(ctx, t.ID)
	if err != nil && thermo.ErrorCode(err) != thermo.ENOTFOUND {
		return err
	}
	if err := tenants.CreateTenant(ctx, t); err != nil {
		if thermo.ErrorCode(err) == thermo.EINVALID {
			return invalidTenant(err)
		}
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	verb := "created"
	if existing != nil {
		verb = "exists, unchanged:"
	}
	fmt.Fprintf(c.stdout, "tenant %s %s name %q, time zone %s, retention %d days, schema %s\n",
		t.ID, verb, t.Name, t.TimeZone, t.RetentionDays, postgres.SchemaName(t.ID))
	return nil
}

func runTenantList(ctx context.Context, c *cli, args []string) error {
	f := newFlags("thermo tenant list", "[flags]", tenantListAbout, c.getenv)
	dbs, logs := addDBSettings(f), addLogSettings(f)
	pos, err := c.parseFlags(f, args)
	if err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q (see thermo tenant list --help)", pos[0])
	}
	db, err := openTenantDB(ctx, c, dbs, logs)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := postgres.NewTenantService(db).ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	writeTenants(c.stdout, list)
	if len(list) == 0 {
		fmt.Fprintln(c.stderr, "no tenants yet: create one with thermo tenant create <id>")
	}
	return nil
}

// writeTenants writes tenants as an aligned table.
func writeTenants(w io.Writer, list []*thermo.Tenant) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTIME ZONE\tRETENTION DAYS\tCREATED")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t.ID, t.Name, t.TimeZone, t.RetentionDays,
			t.CreatedAt.UTC().Format(time.RFC3339))
	}
	tw.Flush()
}

// openTenantDB opens PostgreSQL for the tenant commands.
func openTenantDB(ctx context.Context, c *cli, dbs dbSettings, logs logSettings) (*postgres.DB, error) {
	logger, err := logs.logger(c.stderr)
	if err != nil {
		return nil, err
	}
	opts, err := dbs.opts(logger)
	if err != nil {
		return nil, err
	}
	return openDB(ctx, opts)
}

// invalidTenant turns a tenant validation error into a usage error that
// names the flag to fix.
func invalidTenant(err error) error {
	var e *thermo.Error
	if errors.As(err, &e) && len(e.Fields) == 1 {
		flagName := map[string]string{"timeZone": "--tz", "retentionDays": "--retention-days", "name": "--name"}[e.Fields[0].Field]
		if flagName != "" {
			return usagef("%s: %s", flagName, e.Fields[0].Reason)
		}
	}
	return usagef("%s", thermo.ErrorMessage(err))
}
