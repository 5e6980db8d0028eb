// Command thermo runs the Thermo API server and its operator tools.
//
// main only wires the process (signals, exit code) to run; each subcommand
// lives in its own file.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// cli is what every command gets from run: its output streams and
// environment. Cancelling run's ctx is SIGTERM.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, c *cli, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "Serve the HTTP API (with --dev, accept tokens from thermo token)", runServe},
		{"migrate", "Migrate the control plane and every tenant schema to this binary's version", runMigrate},
		{"tenant", "Create a tenant (tenant create <id>) or list tenants (tenant list)", runTenant},
		{"worker", "Work background jobs (statistics, retention, notifications) without serving HTTP", runWorker},
		{"aggregate", "Compute one tenant's daily statistics for a range of days (--tenant, --from, --to, --rescan)", runAggregate},
		{"explain", "Show PostgreSQL's plans of the reading queries for one tenant and device", runExplain},
		{"simulate", "Simulate a fleet of thermometers posting readings to a --dev server", runSimulate},
		{"token", "Mint a development token; only a server started with --dev accepts it", runToken},
		{"version", "Print the version of this binary", runVersion},
		{"help", "Show help for thermo or for a command (help <command>)", nil},
	}
}

// run executes the command named by args[0] and returns the exit code: 0 on
// success, 2 for a bad invocation or setting, 1 for a runtime failure. Errors
// are reported as one line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return run(ctx, append(rest, "--help"), stdout, stderr, getenv)
		}
		usage(stdout)
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name == name && cmd.run != nil {
			return c.exitCode("thermo "+name, cmd.run(ctx, c, rest))
		}
	}
	fmt.Fprintf(stderr, "thermo: unknown command %q: run thermo --help for the list of commands\n", name)
	return 2
}

// usage writes thermo's top-level help.
func usage(w io.Writer) {
	fmt.Fprintf(w, "thermo runs the Thermo API server for smart thermometers and its operator tools.\n\n")
	fmt.Fprintf(w, "Usage: thermo <command> [arguments] [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, cmd := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEnvironment (each also a flag of the commands that use it):\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range settingDefs() {
		u := strings.ReplaceAll(d.usage, "`", "")
		if def := cmp.Or(d.shownDef, d.def); def != "" {
			u += " [default " + def + "]"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", d.env, u)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun \"thermo <command> --help\" for a command's flags.\n")
}

// usageError is a bad invocation or setting: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// cmdError names the subcommand that failed (thermo tenant create), for
// the message prefix.
type cmdError struct {
	cmd string
	err error
}

func (e *cmdError) Error() string { return e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

// exitCode reports err on one line of stderr and returns the exit code.
func (c *cli) exitCode(cmd string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		cmd = ce.cmd
	}
	fmt.Fprintf(c.stderr, "%s: %s\n", cmd, oneLine(err))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// parseFlags parses args for a command; with --help it writes the command's
// help to stdout and returns flag.ErrHelp.
func (c *cli) parseFlags(f *flags, args []string) ([]string, error) {
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.usage(c.stdout)
	}
	return pos, err
}

// oneLine returns err's message on a single line (joined errors span several).
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
