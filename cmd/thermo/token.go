package main

import (
	"context"
	"fmt"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
)

const tokenAbout = `Mint a development token for subject --sub in tenant --tenant, signed with the
local dev key (created on first use). Only the token is printed on stdout:

  TOKEN=$(thermo token --tenant building_a --sub alice)
  curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/v1/tenant

Only a server started with "thermo serve --dev" and the same dev key accepts
it; servers without --dev reject it.`

func runToken(_ context.Context, c *cli, args []string) error {
	f := newFlags("thermo token", "--tenant <id> --sub <subject> [flags]", tokenAbout, c.getenv)
	tenant := f.fs.String("tenant", "", "tenant `id` the token is for (required)")
	sub := f.fs.String("sub", "", "`subject` (user id) of the token (required)")
	ttl := f.fs.Duration("ttl", time.Hour, "how long the token is valid (`duration`)")
	devKey, claim := f.setting(envDevKey), f.setting(envTenantClaim)
	pos, err := c.parseFlags(f, args)
	switch {
	case err != nil:
		return err
	case len(pos) > 0:
		return usagef("unexpected argument %q (see thermo token --help)", pos[0])
	case *tenant == "":
		return usagef("--tenant is required: the tenant id the token is for, e.g. --tenant building_a")
	case *sub == "":
		return usagef("--sub is required: the subject (user id) of the token, e.g. --sub alice")
	case *ttl <= 0:
		return usagef("--ttl=%s: must be a positive duration such as 1h", *ttl)
	case claim.Value == "":
		return claim.invalid("must name the token claim holding the tenant id")
	}
	if err := thermo.ValidateTenantID(*tenant); err != nil {
		return usagef("--tenant: %s", thermo.ErrorMessage(err))
	}
	path, err := devKeyPath(devKey)
	if err != nil {
		return err
	}
	issuer, err := auth.LoadDevIssuer(path)
	if err != nil {
		return err
	}
	issuer.TenantClaim = claim.Value
	token, err := issuer.Mint(*tenant, *sub, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, token)
	fmt.Fprintf(c.stderr, "thermo token: dev token for %s in tenant %s, valid until %s; "+
		"only a server started with --dev (and the key %s) accepts it\n",
		*sub, *tenant, time.Now().Add(*ttl).UTC().Format(time.RFC3339), path)
	return nil
}
