// Package app wires auth-service together. Run is the whole program; main
// calls it with the process's arguments and environment, tests call it with
// their own.
package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/auth-service/internal/httpapi"
	"github.com/parleychat/parley/auth-service/internal/store"
	"github.com/parleychat/parley/auth-service/internal/token"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/backup"
	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/metrics"
	"github.com/parleychat/parley/platform/ratelimit"
	"github.com/parleychat/parley/platform/serve"
	"github.com/parleychat/parley/platform/sqldb"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

const (
	service = "auth-service"
	// DefaultPort is auth-service's port.
	DefaultPort = 5001
	// maxBody bounds request bodies: the largest legitimate one is a few
	// hundred bytes.
	maxBody = 64 << 10
	// jwksMaxAge is how long verifiers may cache the key set.
	jwksMaxAge = 300
	// pruneEvery is how often expired refresh tokens are deleted.
	pruneEvery = time.Hour
)

// Config is auth-service's configuration (the names of docs/ARCHITECTURE.md,
// Contract: Conventions, plus its own).
type Config struct {
	config.Common
	DB             sqldb.Target
	KeyFile        string
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	BcryptCost     int
	AdminUsername  string
	AdminPassword  string
	LoginUser      limit
	LoginIP        limit
	LoginAccount   limit
	RegisterIP     limit
	TokenCacheSize int // TOKEN_CACHE_SIZE; 0 disables the cache
	TrustedProxies []string
	RevocationPoll time.Duration // REVOCATION_POLL_INTERVAL
}

// limit is a token bucket: Burst attempts at once, then one per Interval.
// Burst 0 turns it off.
type limit struct {
	Burst    int
	Interval time.Duration
}

func (l limit) keyed() auth.Limiter {
	if l.Burst == 0 {
		return nil
	}
	return ratelimit.New(1/l.Interval.Seconds(), l.Burst)
}

// ReadConfig reads and checks the environment.
func ReadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	s := Config{
		Common:        env.ReadCommon(DefaultPort),
		KeyFile:       env.String("JWT_PRIVATE_KEY_FILE", ""),
		AccessTTL:     env.Duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTTL:    env.Duration("REFRESH_TOKEN_TTL", 720*time.Hour),
		BcryptCost:    env.Int("BCRYPT_COST", 12, 4, 16),
		AdminUsername: env.String("ADMIN_USERNAME", "admin"),
		AdminPassword: env.Secret("ADMIN_PASSWORD", ""),
		// A person mistyping gets 5 tries from their address, then one
		// every 12 s (5 a minute): slow enough to make guessing one
		// account's password from one address hopeless, and per address so
		// that nobody elsewhere can lock the owner out.
		LoginUser: limit{env.Int("LOGIN_RATE_USER_BURST", 5, 0, 1000), env.Duration("LOGIN_RATE_USER_INTERVAL", 12*time.Second)},
		// Across all addresses one account may fail 100 times, then once
		// every 9 s (100 per 15 minutes): a spray from many addresses
		// crawls, and reaching it is logged.
		LoginAccount: limit{env.Int("LOGIN_RATE_ACCOUNT_BURST", 100, 0, 100000), env.Duration("LOGIN_RATE_ACCOUNT_INTERVAL", 9*time.Second)},
		// One address may fail 20 times at once, then once a second: an
		// office behind one NAT still logs in, a spray across accounts crawls.
		LoginIP: limit{env.Int("LOGIN_RATE_IP_BURST", 20, 0, 100000), env.Duration("LOGIN_RATE_IP_INTERVAL", time.Second)},
		// Each sign-up costs a bcrypt hash, so sign-ups per address are
		// bounded too: 30 at once, then one every 2 s.
		RegisterIP: limit{env.Int("REGISTER_RATE_IP_BURST", 30, 0, 100000), env.Duration("REGISTER_RATE_IP_INTERVAL", 2*time.Second)},
		// Access tokens that verified are remembered (never past their
		// expiry, at most a minute), so a client's token costs one Ed25519
		// check a minute rather than one per request.
		TokenCacheSize: env.Int("TOKEN_CACHE_SIZE", authn.DefaultCacheSize, 0, 1e7),
		// The gateway sets X-Forwarded-For to the browser's address; trusting
		// the private networks it runs on by default lets per-address login
		// throttling see the browser rather than the gateway. Narrow it with
		// TRUSTED_PROXIES where other hosts on those networks can reach
		// this service.
		TrustedProxies: env.Networks("TRUSTED_PROXIES", config.PrivateNetworks),
		// Other replicas' revocations are read from the shared database
		// this often (this replica's own apply at once).
		RevocationPoll: env.Duration("REVOCATION_POLL_INTERVAL", authn.DefaultPollInterval),
	}
	if err := env.Err(); err != nil {
		return s, err
	}
	db, err := sqldb.ParseURL(env.Raw("DATABASE_URL"), s.DataDir, "auth.db")
	if err != nil {
		return s, err
	}
	s.DB = db
	if err := auth.ValidateUsername(s.AdminUsername); err != nil {
		return s, fmt.Errorf("config: ADMIN_USERNAME: must be 3 to 32 of [A-Za-z0-9_.-] (got %q)", s.AdminUsername)
	}
	if s.AdminPassword != "" {
		if err := auth.ValidatePassword(s.AdminPassword); err != nil {
			name := "ADMIN_PASSWORD"
			if env.Raw("ADMIN_PASSWORD_FILE") != "" {
				name = "ADMIN_PASSWORD_FILE"
			}
			return s, fmt.Errorf("config: %s: the password must be 8 to 72 bytes and not only whitespace", name)
		}
	}
	return s, nil
}

// Run is the whole service: main calls it with the process's arguments
// and environment, tests with their own. Besides serving it answers the
// healthcheck, copy-db, backup and restore subcommands (serve.Program).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return serve.Program{
		Service: service, DefaultPort: DefaultPort,
		Commands: backup.Commands(store.Schema, "auth.db"),
		Serve:    run,
	}.Run(ctx, args, getenv, stdout)
}

// run serves auth-service until ctx ends.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	cfg, err := ReadConfig(getenv)
	if err != nil {
		return err
	}
	db, err := sqldb.OpenSchema(ctx, cfg.DB, store.Schema)
	if err != nil {
		return err
	}
	// Closed last, once the server and the pruner have stopped.
	defer db.Close()
	dbWrites := metrics.NewDBWrites(service)
	db.ObserveWrites(dbWrites)
	st := store.New(db)
	log.Info("database ready", "dialect", db.Dialect, "location", db.Location)

	key, err := signingKey(ctx, cfg, st)
	if err != nil {
		return err
	}
	signer, err := token.NewSigner(ctx, key, authn.DefaultIssuer, authn.DefaultAudience, cfg.AccessTTL)
	if err != nil {
		return err
	}
	// This service judges tokens by the revocation feed like every other
	// one, reading its own store: every tick for other replicas' entries,
	// and before answering a request that recorded one, so its own apply
	// before the answer leaves.
	revs := authn.NewRevocations(nil)
	var feed authn.Source
	svc, err := auth.NewService(st, signer, auth.Config{
		Revoked: func(ctx context.Context) {
			if err := revs.Poll(ctx, feed); err != nil {
				log.Warn("apply own revocation", "error", err)
			}
		},
		BcryptCost:   cfg.BcryptCost,
		AccessTTL:    cfg.AccessTTL,
		RefreshTTL:   cfg.RefreshTTL,
		LoginUser:    cfg.LoginUser.keyed(),
		LoginIP:      cfg.LoginIP.keyed(),
		LoginAccount: cfg.LoginAccount.keyed(),
		Register:     cfg.RegisterIP.keyed(),
		Logger:       log,
	})
	if err != nil {
		return err
	}
	feed = httpapi.FeedSource(svc)
	if err := bootstrapAdmin(ctx, log, svc, cfg); err != nil {
		return err
	}
	log.Info("signing key ready", "kid", signer.KID(), "source", keySource(cfg))

	h := health.New(service, Version)
	h.Registry.MustRegister(revs.Collectors(service)...)
	h.Registry.MustRegister(dbWrites)
	h.Add(health.Check{Name: "database", Critical: true, Fn: db.Check, Gauge: metrics.DBWritable, Help: metrics.DBWritableHelp})
	engine := httpx.NewEngine(httpx.Options{
		Service: service, Logger: log, Registry: h.Registry,
		MaxBodyBytes: maxBody, TrustedProxies: cfg.TrustedProxies,
	})
	h.Register(engine)
	// Personal access tokens are checked against this service's own store.
	signer.Verifier().WithPATs(svc.VerifyToken)
	tokens := authn.Guard{
		V: authn.NewCache(signer.Verifier().Verify, cfg.TokenCacheSize, authn.DefaultCacheTTL, time.Now),
		R: revs,
	}
	httpapi.Routes(engine, httpapi.Deps{
		Service: svc, Verifier: tokens, JWKS: signer.JWKS(), JWKSMaxAge: jwksMaxAge,
		Registry: h.Registry,
	})

	bgCtx, stopBackground := context.WithCancel(ctx)
	pruned, followed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(pruned)
		prune(bgCtx, log, svc)
	}()
	go func() {
		defer close(followed)
		revs.Follow(bgCtx, feed, cfg.RevocationPoll, log)
	}()
	stopPruner := func(context.Context) error {
		stopBackground()
		<-pruned
		<-followed
		return nil
	}

	srv := serve.Server{
		Addr:       net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:    engine,
		Logger:     log,
		Health:     h,
		OnShutdown: []func(context.Context) error{stopPruner},
	}
	return srv.Run(ctx)
}

func keySource(cfg Config) string {
	if cfg.KeyFile != "" {
		return "JWT_PRIVATE_KEY_FILE"
	}
	return "database"
}

// signingKey reads JWT_PRIVATE_KEY_FILE, or else the key stored in the
// database, generating and storing one on the very first start.
func signingKey(ctx context.Context, cfg Config, ks token.KeyStore) (ed25519.PrivateKey, error) {
	if cfg.KeyFile == "" {
		key, err := token.LoadOrCreate(ctx, ks, time.Now())
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		return key, nil
	}
	b, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("config: JWT_PRIVATE_KEY_FILE: cannot read %q: %v", cfg.KeyFile, err)
	}
	key, err := token.ParsePEM(b)
	if err != nil {
		return nil, fmt.Errorf("config: JWT_PRIVATE_KEY_FILE: %q must hold a PKCS#8 PEM Ed25519 private key: %v", cfg.KeyFile, err)
	}
	return key, nil
}

// bootstrapAdmin creates the first admin. A generated password is logged
// here, once, and nowhere else is a password ever logged.
func bootstrapAdmin(ctx context.Context, log *slog.Logger, svc *auth.Service, cfg Config) error {
	res, err := svc.EnsureAdmin(ctx, cfg.AdminUsername, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("create first admin %q: %w", cfg.AdminUsername, err)
	}
	switch {
	case res.GeneratedPassword != "":
		log.Warn("created the first admin with a generated password; it is shown only this once: sign in and change it on the settings page (Settings → Password, /settings)",
			"username", cfg.AdminUsername, "password", res.GeneratedPassword)
	case res.Created:
		log.Info("created the first admin from ADMIN_PASSWORD", "username", cfg.AdminUsername)
	case res.NotAdmin:
		log.Warn("ADMIN_USERNAME names an existing account without the admin role; it was left unchanged", "username", cfg.AdminUsername)
	}
	return nil
}

// prune deletes expired refresh tokens now and then every pruneEvery.
func prune(ctx context.Context, log *slog.Logger, svc *auth.Service) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n, err := svc.PruneExpired(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("prune expired refresh tokens", "error", err)
		case n > 0:
			log.Info("pruned expired refresh tokens", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
