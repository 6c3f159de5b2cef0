// Command crmctl is the operator's and data team's tool: backfill imports,
// dead letters, GDPR erasure, model retraining, promotion and rollback,
// tokens for the dashboard API, and evaluation against simulated truth.
//
//	crmctl <command> [flags]
//	crmctl help <command>
//
// Each command lives in its own file of this package and registers itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of crmctl.
type command struct {
	name  string
	run   func(ctx context.Context, args []string) error
	usage string // one line, shown by `crmctl help`
}

var commands = map[string]command{}

// register adds a subcommand; called from init functions of this package.
func register(name string, run func(ctx context.Context, args []string) error, usage string) {
	if _, dup := commands[name]; dup {
		panic("crmctl: command registered twice: " + name) // programming error, caught by any test run
	}
	commands[name] = command{name: name, run: run, usage: usage}
}

// errUsage makes main print the command's usage and exit 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:]))
}

func dispatch(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				_ = c.run(ctx, []string{"--help"})
				return 0
			}
		}
		printHelp()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "crmctl: unknown command %q\n\n", args[0])
		printHelp()
		return 2
	}
	if err := c.run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errUsage) {
			fmt.Fprintf(os.Stderr, "crmctl %s: %v\n", c.name, err)
			return 2
		}
		fmt.Fprintf(os.Stderr, "crmctl %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func printHelp() {
	fmt.Fprintln(os.Stderr, "crmctl: operate crmstream — imports, dead letters, erasure, models, tokens, evaluation.")
	fmt.Fprintln(os.Stderr, "\nUsage: crmctl <command> [flags]   (crmctl help <command> for its flags)\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-14s %s\n", n, commands[n].usage)
	}
}
