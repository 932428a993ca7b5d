package backup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/serve"
	"github.com/parleychat/parley/platform/sqldb"
)

// Progress reports a backup or restore as it goes. On a terminal it
// redraws one line (bytes copied, or rows per table); otherwise it writes
// nothing until the per-table summary, so logs of a scheduled job stay
// short.
type Progress struct {
	w   io.Writer
	tty bool

	mu    sync.Mutex
	table string
}

// NewProgress reports to w, live when w is a terminal.
func NewProgress(w io.Writer) *Progress {
	p := &Progress{w: w}
	if f, ok := w.(*os.File); ok {
		p.tty = isatty.IsTerminal(f.Fd())
	}
	return p
}

func (p *Progress) live() bool { return p != nil && p.tty }

// watchFile shows path's size against total until stop is called.
func (p *Progress) watchFile(path string, total int64) (stop func()) {
	if !p.live() {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			var n int64
			if fi, err := os.Stat(path); err == nil {
				n = fi.Size()
			}
			if total > 0 {
				fmt.Fprintf(p.w, "\r  copied %s of about %s", size(n), size(total))
			} else {
				fmt.Fprintf(p.w, "\r  copied %s", size(n))
			}
			select {
			case <-done:
				fmt.Fprintln(p.w)
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// rows is a sqldb.CopyOptions.Progress: the rows copied into table so far.
func (p *Progress) rows(table string, n int64) {
	if !p.live() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.table != "" && p.table != table {
		fmt.Fprintln(p.w)
	}
	p.table = table
	fmt.Fprintf(p.w, "\r  %-20s %d rows", table, n)
}

func (p *Progress) endRows() {
	if !p.live() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.table != "" {
		fmt.Fprintln(p.w)
		p.table = ""
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Commands returns a service's database subcommands for serve.Program:
// "backup" and "restore" (the database is --database, else DATABASE_URL
// of either dialect, else dbFile under DATA_DIR) and "copy-db"
// (sqldb.CopyDBCommand).
func Commands(schema sqldb.Schema, dbFile string) map[string]serve.Command {
	return map[string]serve.Command{
		"copy-db": sqldb.CopyDBCommand(schema, dbFile),
		"backup": func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
			return backupCommand(ctx, args, getenv, stdout, schema, dbFile)
		},
		"restore": func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
			return restoreCommand(ctx, args, getenv, stdout, schema, dbFile)
		},
	}
}

// database resolves --database, else DATABASE_URL, else dbFile under
// DATA_DIR.
func database(flagValue string, getenv func(string) string, dbFile string) (sqldb.Target, error) {
	env := config.New(getenv)
	dataDir := env.ReadCommon(0).DataDir
	if err := env.Err(); err != nil {
		return sqldb.Target{}, err
	}
	u := env.Raw("DATABASE_URL")
	if strings.TrimSpace(flagValue) != "" {
		u = flagValue
	}
	return sqldb.ParseURL(u, dataDir, dbFile)
}

func describe(t sqldb.Target) string {
	if t.Dialect == sqldb.SQLite {
		return t.Path
	}
	return "PostgreSQL database (DATABASE_URL)"
}

func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, schema sqldb.Schema, dbFile string) error {
	service := schema.Service
	usage := fmt.Sprintf("usage: %s backup --to FILE|DIR [--keep N] [--database URL]", service)
	fs := flag.NewFlagSet(service+" backup", flag.ContinueOnError)
	fs.SetOutput(stdout)
	to := fs.String("to", "", "the backup file to write, or a directory to write a time-named one in (required)")
	keep := fs.Int("keep", 0, "with --to DIR: keep only the newest N backups of this service there (0 keeps all)")
	db := fs.String("database", "", "the database to back up (default DATABASE_URL, else "+dbFile+" under DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s backup: %w", service, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s backup: unexpected argument %q (%s)", service, fs.Arg(0), usage)
	}
	if strings.TrimSpace(*to) == "" {
		return fmt.Errorf("%s backup: --to is required (%s)", service, usage)
	}
	if *keep < 0 {
		return fmt.Errorf("%s backup: --keep must be 0 (keep all) or more", service)
	}
	src, err := database(*db, getenv, dbFile)
	if err != nil {
		return fmt.Errorf("%s backup: %w", service, err)
	}
	fmt.Fprintf(stdout, "backing up %s to %s\n", describe(src), *to)
	start := time.Now()
	res, err := Backup(ctx, src, *to, schema, NewProgress(stdout))
	if err != nil {
		return fmt.Errorf("%s backup: %w", service, err)
	}
	report(stdout, res.Tables)
	took := time.Since(start)
	fmt.Fprintf(stdout, "wrote %s (%s, schema version %d) in %s, %s/s\n", res.Path, size(res.Bytes), res.Meta.SchemaVersion,
		took.Round(time.Millisecond), size(int64(float64(res.Bytes)/max(took.Seconds(), 1e-3))))
	if fi, err := os.Stat(*to); *keep > 0 && err == nil && fi.IsDir() {
		removed, err := Prune(*to, service, *keep)
		for _, p := range removed {
			fmt.Fprintf(stdout, "removed old backup %s\n", p)
		}
		if err != nil {
			return fmt.Errorf("%s backup: written, but removing old backups failed: %w", service, err)
		}
	}
	return nil
}

func restoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, schema sqldb.Schema, dbFile string) error {
	service := schema.Service
	usage := fmt.Sprintf("usage: %s restore --from FILE [--force] [--database URL]", service)
	fs := flag.NewFlagSet(service+" restore", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("from", "", "the backup file to restore (required)")
	force := fs.Bool("force", false, "replace a database that holds data")
	db := fs.String("database", "", "the database to restore into (default DATABASE_URL, else "+dbFile+" under DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s restore: %w", service, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s restore: unexpected argument %q (%s)", service, fs.Arg(0), usage)
	}
	if strings.TrimSpace(*from) == "" {
		return fmt.Errorf("%s restore: --from is required (%s)", service, usage)
	}
	dst, err := database(*db, getenv, dbFile)
	if err != nil {
		return fmt.Errorf("%s restore: %w", service, err)
	}
	fmt.Fprintf(stdout, "restoring %s into %s\n", *from, describe(dst))
	start := time.Now()
	res, err := Restore(ctx, *from, dst, schema, *force, NewProgress(stdout))
	if err != nil {
		if errors.Is(err, ErrNotBackup) || errors.Is(err, ErrTargetNotEmpty) || errors.Is(err, ErrInUse) {
			return fmt.Errorf("%s restore: refused, nothing changed: %w", service, err)
		}
		return fmt.Errorf("%s restore: %w", service, err)
	}
	report(stdout, res.Tables)
	fmt.Fprintf(stdout, "restored the %s backup of %s (schema version %d) in %s; start %s\n",
		res.Meta.SourceDialect, res.Meta.CreatedAt.Format(time.RFC3339), res.Meta.SchemaVersion, time.Since(start).Round(time.Millisecond), service)
	return nil
}

func report(w io.Writer, tables []TableRows) {
	for _, t := range tables {
		fmt.Fprintf(w, "  %-20s %d rows\n", t.Table, t.Rows)
	}
}
