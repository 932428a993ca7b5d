package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/logx"
)

// RunFunc is a service's whole life: main calls it with the process's
// arguments and environment, tests with their own.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// Command is a subcommand: args are the arguments after its name.
type Command func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// Program is the part of app.Run that every service shares: the
// `healthcheck` subcommand (for a scratch image's HEALTHCHECK), the
// service's own subcommands (copy-db, backup and restore: package backup)
// and otherwise serving. A service's app.Run is one Program.
type Program struct {
	// Service names the binary in messages, e.g. "chat-service".
	Service string
	// DefaultPort is the port healthcheck probes when PORT is unset.
	DefaultPort int
	// Commands are the subcommands beside healthcheck.
	Commands map[string]Command
	// Serve runs the service until ctx ends, logging to log (built from
	// LOG_LEVEL and LOG_FORMAT, on stdout).
	Serve func(ctx context.Context, getenv func(string) string, log *slog.Logger) error
}

// Run dispatches args[1] to a subcommand, or serves when there is none. An
// unknown subcommand is an error naming the known ones, not a silent start.
func (p Program) Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) < 2 {
		env := config.New(getenv)
		common := env.ReadCommon(p.DefaultPort)
		if err := env.Err(); err != nil {
			return err
		}
		log := logx.New(stdout, p.Service, common.LogLevel, common.LogFormat)
		ctx, stopTracing, err := StartTracing(ctx, p.Service, getenv, log)
		if err != nil {
			return err
		}
		defer stopTracing()
		return p.Serve(ctx, getenv, log)
	}
	if IsHealthcheck(args) {
		return HealthcheckFromEnv(ctx, getenv, p.DefaultPort, stdout)
	}
	if cmd, ok := p.Commands[args[1]]; ok {
		return cmd(ctx, args[2:], getenv, stdout)
	}
	names := []string{"healthcheck"}
	for name := range p.Commands {
		names = append(names, name)
	}
	sort.Strings(names[1:])
	return fmt.Errorf("%s: unknown command %q (run it without arguments to serve, or with one of: %s)", p.Service, args[1], strings.Join(names, ", "))
}
