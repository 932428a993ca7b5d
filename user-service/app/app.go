// Package app wires user-service together. Run is the whole program; main
// calls it with the process's arguments and environment, tests call it with
// their own.
package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/logx"
	"github.com/parleychat/parley/platform/serve"
	"github.com/parleychat/parley/platform/sqldb"

	"github.com/parleychat/parley/user-service/internal/chatstats"
	"github.com/parleychat/parley/user-service/internal/httpapi"
	"github.com/parleychat/parley/user-service/internal/profile"
	"github.com/parleychat/parley/user-service/internal/store"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

const (
	service     = "user-service"
	defaultPort = 5002
	// maxStatsTimeout keeps a stats call well inside the gateway's own
	// upstream timeout, so a slow chat-service degrades the answer instead
	// of failing it.
	maxStatsTimeout = 30 * time.Second
)

// settings is user-service's configuration (DESIGN §2 and §5).
type settings struct {
	config.Common
	DB             sqldb.Target
	ChatServiceURL string
	JWKSURL        string
	StatsTimeout   time.Duration
	TrustedProxies []string
}

func readSettings(getenv func(string) string) (settings, error) {
	env := config.New(getenv)
	s := settings{Common: env.ReadCommon(defaultPort)}
	authURL := env.URL("AUTH_SERVICE_URL", "http://localhost:5001")
	s.ChatServiceURL = env.URL("CHAT_SERVICE_URL", "http://localhost:5003")
	s.JWKSURL = env.URL("JWKS_URL", authURL+"/.well-known/jwks.json")
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

// Run runs user-service until ctx ends. args[1] == "healthcheck" runs the
// container health check instead, and args[1] == "copy-db" copies a SQLite
// database into PostgreSQL (see copyDB).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if serve.IsHealthcheck(args) {
		return serve.HealthcheckFromEnv(ctx, getenv, defaultPort, stdout)
	}
	if len(args) > 1 && args[1] == "copy-db" {
		return copyDB(ctx, args[2:], getenv, stdout)
	}
	cfg, err := readSettings(getenv)
	if err != nil {
		return err
	}
	log := logx.New(stdout, service, cfg.LogLevel, cfg.LogFormat)

	db, err := sqldb.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if !started {
			_ = db.Close()
		}
	}()
	st, err := store.Open(ctx, db)
	if err != nil {
		return err
	}

	// The verifier refreshes keys in the background until Run returns.
	vctx, stopVerifier := context.WithCancel(ctx)
	defer stopVerifier()
	verifier, err := authn.NewJWKSVerifier(vctx, cfg.JWKSURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		return fmt.Errorf("config: JWKS_URL: %w", err)
	}

	h := health.New(service, Version)
	chat := chatstats.New(cfg.ChatServiceURL, cfg.StatsTimeout)
	h.Add(health.Check{Name: "database", Critical: true, Fn: db.Check})
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

	svc := profile.NewService(profile.Options{
		Store:           st,
		Stats:           chat,
		Logger:          log,
		OnStatsDegraded: degraded.Inc,
	})
	engine := httpx.NewEngine(httpx.Options{
		Service: service, Logger: log, Registry: h.Registry,
		MaxBodyBytes: httpapi.MaxBody, TrustedProxies: cfg.TrustedProxies,
	})
	h.Register(engine)
	httpapi.Routes(engine, httpapi.Deps{Service: svc, Verifier: verifier})

	started = true
	srv := serve.Server{
		Addr:       net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:    engine,
		Logger:     log,
		Health:     h,
		OnShutdown: []func(context.Context) error{func(context.Context) error { return db.Close() }},
	}
	log.Info("starting", "version", Version, "database", db.Location, "dialect", db.Dialect, "chat_service", cfg.ChatServiceURL, "jwks_url", cfg.JWKSURL)
	return srv.Run(ctx)
}

// copyDB is "user-service copy-db [--from sqlite:///data/users.db] --to
// postgres://...": it fills a new PostgreSQL database with the SQLite one's
// profiles, avatars and settings. --from defaults to DATABASE_URL when that
// is SQLite, else to users.db under DATA_DIR.
func copyDB(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	env := config.New(getenv)
	common := env.ReadCommon(defaultPort)
	if err := env.Err(); err != nil {
		return err
	}
	from, err := sqldb.ParseURL(env.Raw("DATABASE_URL"), common.DataDir, "users.db")
	if err != nil || from.Dialect != sqldb.SQLite {
		from, _ = sqldb.ParseURL("", common.DataDir, "users.db")
	}
	return sqldb.CopyCommand(ctx, args, stdout, sqldb.CopySpec{
		Service: service, DefaultFrom: from, Tables: store.Tables, Migrate: store.Migrate,
	})
}
