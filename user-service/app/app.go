// Package app wires user-service together. Run is the whole program; main
// calls it with the process's arguments and environment, tests call it with
// their own.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/backup"
	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/metrics"
	"github.com/parleychat/parley/platform/serve"
	"github.com/parleychat/parley/platform/sqldb"

	"github.com/parleychat/parley/user-service/internal/accounts"
	"github.com/parleychat/parley/user-service/internal/chatstats"
	"github.com/parleychat/parley/user-service/internal/httpapi"
	"github.com/parleychat/parley/user-service/internal/profile"
	"github.com/parleychat/parley/user-service/internal/store"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

const (
	service = "user-service"
	// DefaultPort is user-service's port.
	DefaultPort = 5002
	// maxStatsTimeout keeps a stats call well inside the gateway's own
	// upstream timeout, so a slow chat-service degrades the answer instead
	// of failing it.
	maxStatsTimeout = 30 * time.Second
)

// Config is user-service's configuration (the names of docs/ARCHITECTURE.md,
// Contract: Conventions, plus its own).
type Config struct {
	config.Common
	DB             sqldb.Target
	AuthServiceURL string
	ChatServiceURL string
	JWKSURL        string
	RevocationsURL string        // REVOCATIONS_URL
	RevocationPoll time.Duration // REVOCATION_POLL_INTERVAL
	StatsTimeout   time.Duration
	TrustedProxies []string
}

// ReadConfig reads and checks the environment.
func ReadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	s := Config{Common: env.ReadCommon(DefaultPort)}
	s.AuthServiceURL = env.URL("AUTH_SERVICE_URL", "http://localhost:5001")
	authURL := s.AuthServiceURL
	s.ChatServiceURL = env.URL("CHAT_SERVICE_URL", "http://localhost:5003")
	s.JWKSURL = env.URL("JWKS_URL", authURL+"/.well-known/jwks.json")
	s.RevocationsURL = env.URL("REVOCATIONS_URL", authn.FeedURL(s.JWKSURL))
	s.RevocationPoll = env.Duration("REVOCATION_POLL_INTERVAL", authn.DefaultPollInterval)
	s.StatsTimeout = env.Duration("STATS_TIMEOUT", 2*time.Second)
	// Client addresses are only logged here; trusting the gateway's private
	// networks makes the logs show the browser rather than the gateway.
	s.TrustedProxies = env.Networks("TRUSTED_PROXIES", config.PrivateNetworks)
	if err := env.Err(); err != nil {
		return s, err
	}
	if s.StatsTimeout > maxStatsTimeout {
		return s, fmt.Errorf("config: STATS_TIMEOUT: must be at most %s (got %s)", maxStatsTimeout, s.StatsTimeout)
	}
	db, err := sqldb.ParseURL(env.Raw("DATABASE_URL"), s.DataDir, "users.db")
	if err != nil {
		return s, err
	}
	s.DB = db
	return s, nil
}

// Run is the whole service: main calls it with the process's arguments
// and environment, tests with their own. Besides serving it answers the
// healthcheck, copy-db, backup and restore subcommands (serve.Program).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return serve.Program{
		Service: service, DefaultPort: DefaultPort,
		Commands: backup.Commands(store.Schema, "users.db"),
		Serve:    run,
	}.Run(ctx, args, getenv, stdout)
}

// run serves user-service until ctx ends.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	cfg, err := ReadConfig(getenv)
	if err != nil {
		return err
	}
	db, err := sqldb.OpenSchema(ctx, cfg.DB, store.Schema)
	if err != nil {
		return err
	}
	// Closed last, once the server has stopped.
	defer db.Close()
	dbWrites := metrics.NewDBWrites(service)
	db.ObserveWrites(dbWrites)
	st := store.New(db)

	// The verifier refreshes keys in the background until Run returns.
	vctx, stopVerifier := context.WithCancel(ctx)
	defer stopVerifier()
	verifier, err := authn.NewJWKSVerifier(vctx, cfg.JWKSURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		return fmt.Errorf("config: JWKS_URL: %w", err)
	}

	h := health.New(service, Version)
	chat := chatstats.New(cfg.ChatServiceURL, cfg.StatsTimeout)
	h.Registry.MustRegister(dbWrites)
	h.Add(health.Check{Name: "database", Critical: true, Fn: db.Check, Gauge: metrics.DBWritable, Help: metrics.DBWritableHelp})
	// Without chat-service only stats degrade: shown in /health, but it
	// does not take the service out of rotation. There is deliberately no
	// JWKS check: keys load lazily on the first unknown kid, so "no keys
	// yet" right after a start is not a fault.
	h.Add(health.Check{Name: "chat-service", Critical: false, Fn: chat.Check})

	degraded := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "user_stats_degraded_total",
		Help:        "Stats answers served degraded because chat-service failed.",
		ConstLabels: prometheus.Labels{"service": service},
	})
	h.Registry.MustRegister(degraded)

	catchUpFailed := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "user_directory_catchup_failures_total",
		Help:        "Directory lookups answered without catching up because auth-service's account list failed.",
		ConstLabels: prometheus.Labels{"service": service},
	})
	h.Registry.MustRegister(catchUpFailed)

	svc := profile.NewService(profile.Options{
		Store:           st,
		Stats:           chat,
		Accounts:        accounts.New(cfg.AuthServiceURL, cfg.StatsTimeout),
		Logger:          log,
		OnStatsDegraded: degraded.Inc,
		OnCatchUpFailed: catchUpFailed.Inc,
	})
	engine := httpx.NewEngine(httpx.Options{
		Service: service, Logger: log, Registry: h.Registry,
		MaxBodyBytes: httpapi.MaxBody, TrustedProxies: cfg.TrustedProxies,
	})
	h.Register(engine)
	// Revoked sessions and changed accounts come from auth-service's feed.
	revs := authn.StartFollowing(vctx, cfg.RevocationsURL, cfg.RevocationPoll, log)
	h.Registry.MustRegister(revs.Collectors(service)...)
	tokens := authn.Guard{V: verifier, R: revs}
	httpapi.Routes(engine, httpapi.Deps{Service: svc, Verifier: tokens})

	srv := serve.Server{
		Addr:    net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler: engine,
		Logger:  log,
		Health:  h,
	}
	log.Info("starting", "version", Version, "database", db.Location, "dialect", db.Dialect, "auth_service", cfg.AuthServiceURL, "chat_service", cfg.ChatServiceURL, "jwks_url", cfg.JWKSURL)
	return srv.Run(ctx)
}
