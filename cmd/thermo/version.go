package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/thermo/thermo/postgres"
)

const versionAbout = `Print the version of this binary, the Go release that built it and the
tenant schema version its embedded migrations reach.`

func runVersion(_ context.Context, c *cli, args []string) error {
	f := newFlags("thermo version", "", versionAbout, c.getenv)
	pos, err := c.parseFlags(f, args)
	if err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	fmt.Fprintf(c.stdout, "thermo %s (%s, %s/%s, tenant schema version %d)\n",
		buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH, postgres.LatestTenantVersion())
	return nil
}

// buildVersion returns the module version the binary was built from (set by
// go install module@version), else the VCS revision when the build recorded
// one, else "devel".
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "devel-" + rev
}
