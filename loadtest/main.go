// Command loadtest drives real clients against a Parley running on this
// machine — WebSocket fan-out, idle connections, HTTP, logins, message
// persistence — and the baselines it is compared with, and prints one JSON
// record per run. It refuses any target that is not a loopback address,
// and every run is bounded in clients, rate and time.
//
//	loadtest <command> [flags]     (loadtest help lists the commands)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"users":     {"register (or refresh) a population of users into a file", cmdUsers},
		"fanout":    {"N WebSocket clients in R rooms, S senders at a total rate: deliveries/s, latency, loss", cmdFanout},
		"saturate":  {"step the send rate up until p99 or delivery breaks: the highest sustained delivery rate", cmdSaturate},
		"idle":      {"N idle authenticated connections: server RSS per connection", cmdIdle},
		"storm":     {"N clients connect and subscribe at once (one room by default): time until all subscribed, presence bytes per client, sheds", cmdStorm},
		"soak":      {"clients that reconnect and resume while senders send (across replica restarts): lost, duplicates, resume times, ack p99 per second", cmdSoak},
		"persist":   {"closed-loop senders: chat messages persisted per second through the WebSocket send path", cmdPersist},
		"http":      {"closed-loop GETs of one URL: requests/s and latency", cmdHTTP},
		"history":   {"room list and history paging through the gateway", cmdHistory},
		"login":     {"login storm through the gateway vs the bcrypt bound at the same cost", cmdLogin},
		"sqlite":    {"raw SQLite WAL commits/s with Parley's pragmas", cmdSQLite},
		"hello":     {"serve a bare net/http hello handler (the HTTP baseline)", cmdHello},
		"proxy":     {"serve a bare httputil.ReverseProxy to one URL (the proxy-hop baseline)", cmdProxy},
		"service":   {"run a Parley service (-name) in this process, with net/http/pprof on PPROF_ADDR", cmdService},
		"nats":      {"run an embedded NATS server", cmdNATS},
		"otlp-sink": {"serve an OTLP/HTTP trace endpoint that counts and discards what it is sent", cmdOTLPSink},
		"report":    {"medians, ratios and targets of a results file, and the chart", cmdReport},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return errors.New("no command")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: loadtest <command> [flags]   (loadtest <command> -h for its flags)")
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "Targets must be loopback addresses; every run is bounded in size and time.")
}

// splitList splits a comma list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
