// Package app is chat-service's composition root: Run reads configuration,
// opens the database and broker, and serves HTTP and WebSocket until its
// context ends. Tests (and other modules' end-to-end tests) call Run directly.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/directory"
	"github.com/parleychat/parley/chat-service/internal/httpapi"
	"github.com/parleychat/parley/chat-service/internal/hub"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/backup"
	"github.com/parleychat/parley/platform/broker"
	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/metrics"
	"github.com/parleychat/parley/platform/ratelimit"
	"github.com/parleychat/parley/platform/serve"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/tracing"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

const (
	service = "chat-service"
	// DefaultPort is chat-service's port.
	DefaultPort = 5003
)

// Config is chat-service's configuration (the names of docs/ARCHITECTURE.md,
// Contract: Conventions, plus its own).
type Config struct {
	config.Common
	DatabaseURL    string
	JWKSURL        string
	RevocationsURL string        // REVOCATIONS_URL
	RevocationPoll time.Duration // REVOCATION_POLL_INTERVAL
	NATSURL        string
	AllowedOrigins []string
	// TrustedProxies: whose X-Forwarded-For is believed (TRUSTED_PROXIES;
	// none by default: chat-service is published for the WebSocket, so
	// anyone could send the header). Only logs use the client address;
	// every limit here is per verified user.
	TrustedProxies []string
	// UserServiceURL is the user directory, asked whether the other person
	// of a new DM exists (USER_SERVICE_URL); DirectoryTimeout bounds one
	// such call (DIRECTORY_TIMEOUT).
	UserServiceURL   string
	DirectoryTimeout time.Duration
	// SendRate/SendBurst: messages per user per second (SEND_RATE, SEND_BURST).
	SendRate  float64
	SendBurst int
	// WebSocket tuning.
	QueueSize  int
	WriteDelay time.Duration
	MaxReplay  int
	// MaxConnsPerUser caps one user's sockets per replica
	// (WS_MAX_CONNS_PER_USER); UserRPS/UserBurst limit each user's REST
	// requests (USER_RATE_LIMIT_RPS, USER_RATE_LIMIT_BURST).
	MaxConnsPerUser int
	UserRPS         float64
	UserBurst       int
	AuthTimeout     time.Duration
	// Admission of new sockets in a reconnect storm (past any of these a
	// socket is accepted and closed with 1013 overloaded and a retry hint):
	// WS_ADMIT_RATE/WS_ADMIT_BURST admissions per second,
	// WS_ADMIT_MAX_PENDING sockets still in their auth and subscribe phase,
	// WS_MAX_CONNS open sockets (0: no cap).
	AdmitRate       float64
	AdmitBurst      int
	AdmitMaxPending int
	MaxConns        int
	PingPeriod      time.Duration
	PongWait        time.Duration
	// Presence across replicas.
	PresenceHeartbeat time.Duration
	PresenceTTL       time.Duration
	// PresenceFlush batches presence changes per room (PRESENCE_FLUSH).
	PresenceFlush time.Duration
	// PresenceBigInterval spaces the count frames of rooms with more than
	// 200 online (PRESENCE_BIG_INTERVAL).
	PresenceBigInterval time.Duration
	// Rebalancing of sockets between replicas (hub/rebalance.go):
	// WS_REBALANCE (on/off), WS_REBALANCE_INTERVAL, WS_REBALANCE_SLACK
	// (the fraction over the mean tolerated), WS_REBALANCE_MIN (sockets a
	// replica may hold whatever the mean), WS_REBALANCE_RETRY_MAX (the
	// upper end of the jittered retry hint).
	Rebalance         bool
	RebalanceInterval time.Duration
	RebalanceSlack    float64
	RebalanceMin      int
	RebalanceRetryMax time.Duration
	// DrainDelay keeps /readyz failing before the listener closes.
	DrainDelay time.Duration
	// FileMaxBytes caps one uploaded file (FILE_MAX_BYTES, 25 MiB).
	FileMaxBytes int64
	// PublicURL is the gateway's base URL as clients see it (API_BASE_URL,
	// optional): webhook URLs are absolute under it, else gateway paths.
	// WebhookRate/WebhookBurst limit posts per webhook (WEBHOOK_RATE,
	// WEBHOOK_BURST).
	PublicURL    string
	WebhookRate  float64
	WebhookBurst int
}

// maxDirectoryTimeout keeps a DM lookup well inside the gateway's own
// upstream timeout.
const maxDirectoryTimeout = 30 * time.Second

// DefaultWriteDelay is the WebSocket write-coalescing window (hub.Options
// WriteDelay): busy connections are written at most about once per window,
// quiet ones at once.
const DefaultWriteDelay = 10 * time.Millisecond

// ReadConfig reads and checks the environment.
func ReadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{Common: env.ReadCommon(DefaultPort)}
	c.DatabaseURL = env.String("DATABASE_URL", "")
	auth := env.URL("AUTH_SERVICE_URL", "http://localhost:5001")
	c.JWKSURL = env.URL("JWKS_URL", auth+"/.well-known/jwks.json")
	c.RevocationsURL = env.URL("REVOCATIONS_URL", authn.FeedURL(c.JWKSURL))
	c.RevocationPoll = env.Duration("REVOCATION_POLL_INTERVAL", authn.DefaultPollInterval)
	c.NATSURL = env.String("NATS_URL", "")
	c.UserServiceURL = env.URL("USER_SERVICE_URL", "http://localhost:5002")
	c.DirectoryTimeout = env.Duration("DIRECTORY_TIMEOUT", directory.DefaultTimeout)
	c.AllowedOrigins = env.List("ALLOWED_ORIGINS", []string{"http://localhost:8080"})
	c.TrustedProxies = env.Networks("TRUSTED_PROXIES", nil)
	c.SendRate = env.Float("SEND_RATE", 10, 0.01, 1e6)
	c.SendBurst = env.Int("SEND_BURST", 30, 1, 1_000_000)
	c.QueueSize = env.Int("WS_QUEUE_SIZE", 256, 8, 1<<16)
	c.WriteDelay = env.OptionalDuration("WS_WRITE_DELAY", DefaultWriteDelay)
	c.MaxReplay = env.Int("WS_MAX_REPLAY", 1000, 1, 1<<20)
	c.MaxConnsPerUser = env.Int("WS_MAX_CONNS_PER_USER", 20, 1, 1<<16)
	c.UserRPS = env.Float("USER_RATE_LIMIT_RPS", 20, 0.1, 1e6)
	c.UserBurst = env.Int("USER_RATE_LIMIT_BURST", 100, 1, 1<<20)
	c.AuthTimeout = env.Duration("WS_AUTH_TIMEOUT", 10*time.Second)
	c.AdmitRate = env.Float("WS_ADMIT_RATE", httpapi.DefaultAdmitRate, 0.1, 1e6)
	c.AdmitBurst = env.Int("WS_ADMIT_BURST", httpapi.DefaultAdmitBurst, 1, 1<<20)
	c.AdmitMaxPending = env.Int("WS_ADMIT_MAX_PENDING", httpapi.DefaultAdmitMaxPending, 1, 1<<20)
	c.MaxConns = env.Int("WS_MAX_CONNS", 0, 0, 1<<24)
	c.PingPeriod = env.Duration("WS_PING_PERIOD", 25*time.Second)
	c.PongWait = env.Duration("WS_PONG_WAIT", 60*time.Second)
	c.PresenceHeartbeat = env.Duration("PRESENCE_HEARTBEAT", 5*time.Second)
	c.PresenceTTL = env.Duration("PRESENCE_TTL", 15*time.Second)
	c.PresenceFlush = env.Duration("PRESENCE_FLUSH", 200*time.Millisecond)
	c.PresenceBigInterval = env.Duration("PRESENCE_BIG_INTERVAL", 2*time.Second)
	c.Rebalance = env.Bool("WS_REBALANCE", true)
	c.RebalanceInterval = env.Duration("WS_REBALANCE_INTERVAL", hub.DefaultRebalanceInterval)
	c.RebalanceSlack = env.Float("WS_REBALANCE_SLACK", hub.DefaultRebalanceSlack, 0.01, 10)
	c.RebalanceMin = env.Int("WS_REBALANCE_MIN", hub.DefaultRebalanceMin, 0, 1<<24)
	c.RebalanceRetryMax = env.Duration("WS_REBALANCE_RETRY_MAX", hub.DefaultRebalanceRetryMax)
	c.DrainDelay = env.Duration("SHUTDOWN_DRAIN_DELAY", 0)
	c.FileMaxBytes = int64(env.Int("FILE_MAX_BYTES", chat.DefaultFileMaxBytes, 1, 1<<30))
	c.PublicURL = env.URL("API_BASE_URL", "")
	c.WebhookRate = env.Float("WEBHOOK_RATE", 1, 0.001, 1e6)
	c.WebhookBurst = env.Int("WEBHOOK_BURST", 10, 1, 1_000_000)
	if err := env.Err(); err != nil {
		return Config{}, err
	}
	if c.PongWait <= c.PingPeriod {
		return Config{}, errors.New("config: WS_PONG_WAIT: must be longer than WS_PING_PERIOD")
	}
	if c.PresenceTTL <= c.PresenceHeartbeat {
		return Config{}, errors.New("config: PRESENCE_TTL: must be longer than PRESENCE_HEARTBEAT")
	}
	if c.DirectoryTimeout > maxDirectoryTimeout {
		return Config{}, fmt.Errorf("config: DIRECTORY_TIMEOUT: must be at most %s (got %s)", maxDirectoryTimeout, c.DirectoryTimeout)
	}
	if c.NATSURL != "" && !strings.Contains(c.NATSURL, "://") {
		return Config{}, fmt.Errorf("config: NATS_URL: must look like nats://host:4222 (got %q)", c.NATSURL)
	}
	return c, nil
}

// Run is the whole service: main calls it with the process's arguments
// and environment, tests with their own. Besides serving it answers the
// healthcheck, copy-db, backup and restore subcommands (serve.Program).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return serve.Program{
		Service: service, DefaultPort: DefaultPort,
		Commands: backup.Commands(store.Schema, "chat.db"),
		Serve:    run,
	}.Run(ctx, args, getenv, stdout)
}

// run serves chat-service until ctx ends.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	cfg, err := ReadConfig(getenv)
	if err != nil {
		return err
	}
	target, err := sqldb.ParseURL(cfg.DatabaseURL, cfg.DataDir, "chat.db")
	if err != nil {
		return err
	}
	db, err := sqldb.OpenSchema(ctx, target, store.Schema)
	if err != nil {
		return err
	}
	// Closed last: after the WebSockets and the broker (OnShutdown below).
	defer db.Close()
	dbWrites := metrics.NewDBWrites(service)
	db.ObserveWrites(dbWrites)
	st := store.New(db)
	// Migration 0002 could only key public room names by lower(name);
	// the real fold key is computed here (and again after an upgrade that
	// changes folding). Clashing rooms are kept; an admin renames one.
	clashes, err := st.RefoldRoomNames(ctx)
	if err != nil {
		return err
	}
	for _, c := range clashes {
		log.Warn("public room names fold to the same name; rename one", "room_id", c.RoomID, "name", c.Name, "same_as_room_id", c.SameAsID, "same_as_name", c.SameAsName)
	}

	replica := hub.NewReplicaID()
	var b broker.Broker = broker.NewMemory()
	if cfg.NATSURL != "" {
		nb, err := broker.NewNATS(cfg.NATSURL, service+"/"+replica)
		if err != nil {
			db.Close()
			return fmt.Errorf("config: NATS_URL: %w", err)
		}
		nb.SetTracing(tracing.FromContext(ctx))
		b = nb
	}

	h := health.New(service, Version)
	h.Registry.MustRegister(dbWrites)
	h.Add(health.Check{Name: "database", Critical: true, Fn: db.Check, Gauge: metrics.DBWritable, Help: metrics.DBWritableHelp})
	if cfg.NATSURL != "" {
		h.Add(health.Check{Name: "broker", Critical: true, Fn: b.Check, Gauge: metrics.BrokerConnected, Help: metrics.BrokerConnectedHelp})
	}
	verifier, err := authn.NewJWKSVerifier(ctx, cfg.JWKSURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		b.Close()
		db.Close()
		return err
	}
	// Keys are fetched on the first token; not having them yet is not a
	// reason to take the replica out of rotation.
	h.Add(health.Check{Name: "jwks", Critical: false, Fn: verifier.Check})

	hb, err := hub.New(hub.Options{
		Broker: b, Logger: log, ReplicaID: replica, Registry: h.Registry,
		QueueSize: cfg.QueueSize, PingPeriod: cfg.PingPeriod, WriteDelay: cfg.WriteDelay, MaxReplay: cfg.MaxReplay, MaxConnsPerUser: cfg.MaxConnsPerUser,
		PresenceHeartbeat: cfg.PresenceHeartbeat, PresenceTTL: cfg.PresenceTTL, PresenceBigInterval: cfg.PresenceBigInterval,
		PresenceFlush: cfg.PresenceFlush,
		RebalanceOff:  !cfg.Rebalance, RebalanceInterval: cfg.RebalanceInterval, RebalanceSlack: cfg.RebalanceSlack,
		RebalanceMin: cfg.RebalanceMin, RebalanceRetryMax: cfg.RebalanceRetryMax,
	})
	if err != nil {
		b.Close()
		db.Close()
		return err
	}
	users := directory.New(cfg.UserServiceURL, cfg.DirectoryTimeout)
	// Only opening a DM needs the directory: its absence is reported, not
	// a reason to leave rotation.
	h.Add(health.Check{Name: "user-service", Critical: false, Fn: users.Check})
	// File URLs are signed with a key kept in the database: every
	// replica sharing it signs and checks alike, with no configuration.
	fileKey, err := st.FileKey(ctx)
	if err != nil {
		b.Close()
		db.Close()
		return err
	}
	urls := &chat.FileURLs{Key: fileKey, Now: time.Now}
	st.SetFileURLs(urls)
	svc := chat.NewService(chat.Options{
		Store: st, Publisher: hb, Presence: hb, Directory: users, Logger: log,
		SendRate: cfg.SendRate, SendBurst: cfg.SendBurst,
		FileURLs: urls, FileMaxBytes: cfg.FileMaxBytes,
		WebhookRate: cfg.WebhookRate, WebhookBurst: cfg.WebhookBurst,
	})
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() { defer close(swept); sweepFiles(sweepCtx, svc, log) }()
	defer func() { stopSweep(); <-swept }() // before the database closes

	// Bodies are small (256 KiB) but on the upload route (a file).
	engine := httpx.NewEngine(httpx.Options{Service: service, Logger: log, Registry: h.Registry, MaxBodyBytes: -1, TrustedProxies: cfg.TrustedProxies})
	engine.Use(httpapi.BodyLimit(256<<10, cfg.FileMaxBytes))
	h.Register(engine)
	// Revoked sessions and changed accounts come from auth-service's feed:
	// tokens are judged by it on every request and frame (a map lookup),
	// and the sockets an entry ends are closed as it arrives.
	revs := authn.StartFollowing(ctx, cfg.RevocationsURL, cfg.RevocationPoll, log)
	h.Registry.MustRegister(revs.Collectors(service)...)
	revs.OnRevoke(func(e authn.Revocation) {
		switch {
		case e.IsSession():
			hb.CloseUser(e.UserID, e.SID, authn.CloseSessionRevoked, authn.ErrSessionRevoked.Code)
		case e.Disabled:
			hb.CloseUser(e.UserID, "", authn.CloseAccountDisabled, authn.ErrAccountDisabled.Code)
		}
	})
	httpapi.Routes(engine, httpapi.Deps{
		Service: svc, Hub: hb, Verifier: authn.Guard{V: verifier, R: revs}, Revocations: revs,
		Logger: log, AllowedOrigins: cfg.AllowedOrigins,
		WS: httpapi.WSOptions{AuthTimeout: cfg.AuthTimeout, PongWait: cfg.PongWait,
			AdmitRate: cfg.AdmitRate, AdmitBurst: cfg.AdmitBurst, AdmitMaxPending: cfg.AdmitMaxPending, MaxConns: cfg.MaxConns},
		Registry:     h.Registry,
		UserRequests: ratelimit.New(cfg.UserRPS, cfg.UserBurst),
		FileMaxBytes: cfg.FileMaxBytes,
		PublicURL:    cfg.PublicURL,
	})
	log.Info("starting", "version", Version, "replica", replica, "database", db.Location, "dialect", db.Dialect, "broker", brokerName(cfg.NATSURL))

	srv := serve.Server{
		Addr: fmt.Sprintf(":%d", cfg.Port), Handler: engine, Logger: log, Health: h, DrainDelay: cfg.DrainDelay,
		// Shutdown does not wait for hijacked WebSockets: close them (1012)
		// first, then let the service finish its writes, then the broker;
		// the database closes when run returns.
		OnShutdown: []func(context.Context) error{
			hb.Close,
			svc.Close, // the last activity records
			func(context.Context) error { return b.Close() },
		},
	}
	return srv.Run(ctx)
}

// sweepFiles deletes uploads never attached to a message, every
// fileSweepInterval until ctx ends. Every replica sweeps; the deletes are
// idempotent.
func sweepFiles(ctx context.Context, svc *chat.Service, log *slog.Logger) {
	t := time.NewTicker(fileSweepInterval)
	defer t.Stop()
	for {
		if n, err := svc.SweepFiles(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep unattached files", "error", err)
		} else if n > 0 {
			log.Info("swept unattached files", "files", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

const fileSweepInterval = 10 * time.Minute

func brokerName(natsURL string) string {
	if natsURL == "" {
		return "memory"
	}
	return "nats"
}
