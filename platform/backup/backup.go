// Package backup is every service's "backup" and "restore" subcommands.
//
// A backup is one SQLite file in the service's own SQLite schema plus a
// parley_backup table saying whose it is: the same format whatever the
// live database's dialect, so a backup of PostgreSQL restores into SQLite
// and back. SQLite is copied online with VACUUM INTO (one read
// transaction: a consistent snapshot while the service keeps writing);
// PostgreSQL is exported by sqldb.Copy inside one REPEATABLE READ READ
// ONLY transaction. chat-service's files live in its database (table
// file_chunks) and are thereby included.
package backup

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parleychat/parley/platform/sqldb"
)

// Format is the version of the backup file's layout (parley_backup.format).
const Format = 1

// metaTable records which service and schema version a backup holds.
const metaTable = "parley_backup"

// Meta is a backup file's parley_backup row.
type Meta struct {
	Format        int
	Service       string
	SchemaVersion int
	SourceDialect sqldb.Dialect
	CreatedAt     time.Time
}

// TableRows is how many rows one table of a backup or restore holds.
type TableRows struct {
	Table string
	Rows  int64
}

// Result describes a finished backup or restore.
type Result struct {
	Meta   Meta
	Tables []TableRows
	Bytes  int64
	// Path is the backup file written.
	Path string
}

// Backup writes a consistent copy of the database at src to the file to
// (or, when to is a directory — or ends in "/", and is then made — to a
// file named for the service and the time in it: Result.Path), while the service keeps serving. The file
// appears only when complete (written next to it under a temporary name,
// synced, renamed); on any error nothing is left behind.
func Backup(ctx context.Context, src sqldb.Target, to string, schema sqldb.Schema, p *Progress) (Result, error) {
	if strings.HasSuffix(to, "/") {
		// "--to /data/backups/": a directory, made if missing.
		if err := os.MkdirAll(to, 0o750); err != nil {
			return Result{}, fmt.Errorf("cannot write the backup to %s: %w", to, unwrapPathError(err))
		}
	}
	to, err := filepath.Abs(to)
	if err != nil {
		return Result{}, err
	}
	if fi, err := os.Stat(to); err == nil && fi.IsDir() {
		to = filepath.Join(to, backupName(schema.Service, time.Now()))
	}
	if src.Dialect == sqldb.SQLite {
		fi, err := os.Stat(src.Path)
		if err != nil || fi.IsDir() {
			return Result{}, fmt.Errorf("no SQLite database at %s", src.Path)
		}
		if ti, err := os.Stat(to); err == nil && os.SameFile(fi, ti) {
			return Result{}, fmt.Errorf("--to %s is the live database itself", to)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".tmp-*")
	if err != nil {
		return Result{}, fmt.Errorf("cannot write the backup to %s: %w", to, unwrapPathError(err))
	}
	tmpPath := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			removeDB(tmpPath)
		}
	}()

	var meta Meta
	switch src.Dialect {
	case sqldb.SQLite:
		meta, err = snapshotSQLite(ctx, src.Path, tmpPath, p)
	case sqldb.Postgres:
		meta, err = exportPostgres(ctx, src, tmpPath, schema, p)
	default:
		err = fmt.Errorf("unknown dialect %q", src.Dialect)
	}
	if err != nil {
		return Result{}, err
	}
	meta.Format, meta.Service, meta.SourceDialect, meta.CreatedAt = Format, schema.Service, src.Dialect, time.Now().UTC()
	tables, err := finishFile(ctx, tmpPath, meta, schema.Tables)
	if err != nil {
		return Result{}, fmt.Errorf("write %s: %w", tmpPath, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return Result{}, err
	}
	if err := os.Rename(tmpPath, to); err != nil {
		return Result{}, fmt.Errorf("cannot write the backup to %s: %w", to, unwrapPathError(err))
	}
	done = true
	syncDir(filepath.Dir(to))
	fi, err := os.Stat(to)
	if err != nil {
		return Result{}, err
	}
	return Result{Meta: meta, Tables: tables, Bytes: fi.Size(), Path: to}, nil
}

// backupName is the file a backup into a directory gets: the names of one
// service sort by time.
func backupName(service string, at time.Time) string {
	return namePrefix(service) + at.UTC().Format("20060102-150405.000") + ".backup"
}

func namePrefix(service string) string { return strings.TrimSuffix(service, "-service") + "-" }

// Prune deletes all but the newest keep backups of service in dir (the
// files Backup names there), returning the paths removed.
func Prune(dir, service string, keep int) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, namePrefix(service)) && strings.HasSuffix(n, ".backup") {
			names = append(names, n)
		}
	}
	var removed []string
	for i := 0; i < len(names)-keep; i++ { // ReadDir sorts by name: oldest first
		p := filepath.Join(dir, names[i])
		if err := os.Remove(p); err != nil {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// snapshotSQLite copies the live file with VACUUM INTO: one read
// transaction, so writers carry on (WAL) and the copy is the database as
// of its start. The copy is also compacted.
func snapshotSQLite(ctx context.Context, path, tmpPath string, p *Progress) (Meta, error) {
	db, err := openFile(path, false)
	if err != nil {
		return Meta{}, err
	}
	defer db.Close()
	var meta Meta
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&meta.SchemaVersion); err != nil {
		return Meta{}, fmt.Errorf("read %s: %w (is it this service's database?)", path, err)
	}
	var pages, pageSize int64
	_ = db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages)
	_ = db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize)
	stop := p.watchFile(tmpPath, pages*pageSize)
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, tmpPath)
	stop()
	if err != nil {
		return Meta{}, fmt.Errorf("copy %s: %w", path, err)
	}
	return meta, nil
}

// exportPostgres copies every table of the PostgreSQL database into a new
// SQLite file of the service's SQLite schema, in one REPEATABLE READ
// transaction (sqldb.Copy). The live schema must be this binary's: the
// SQLite schema written is.
func exportPostgres(ctx context.Context, src sqldb.Target, tmpPath string, schema sqldb.Schema, p *Progress) (Meta, error) {
	pg, err := sqldb.Open(ctx, src)
	if err != nil {
		return Meta{}, err
	}
	defer pg.Close()
	var meta Meta
	if err := pg.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&meta.SchemaVersion); err != nil {
		return Meta{}, fmt.Errorf("read %s: %w (is it this service's database?)", pg.Location, err)
	}
	latest, err := latestVersion(schema)
	if err != nil {
		return Meta{}, err
	}
	if meta.SchemaVersion != latest {
		return Meta{}, fmt.Errorf("the database is at schema version %d but this %s's is %d: back up with the %s version that serves it", meta.SchemaVersion, schema.Service, latest, schema.Service)
	}
	out, err := sqldb.Open(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: tmpPath})
	if err != nil {
		return Meta{}, err
	}
	defer out.Close()
	if err := schema.Migrate(ctx, out); err != nil {
		return Meta{}, fmt.Errorf("create the backup's schema: %w", err)
	}
	if _, err := sqldb.Copy(ctx, pg, out, schema.Tables, sqldb.CopyOptions{
		Seeded: schema.Seeded, TimeLayout: schema.TimeLayout, Progress: p.rows,
	}); err != nil {
		return Meta{}, err
	}
	p.endRows()
	return meta, out.Close()
}

// finishFile writes the metadata row into the copy, leaves it a single
// self-contained file (rollback journal, not WAL) and counts its rows.
func finishFile(ctx context.Context, path string, meta Meta, tables []string) ([]TableRows, error) {
	db, err := openFile(path, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode=DELETE`); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+metaTable+` (
		format INTEGER NOT NULL, service TEXT NOT NULL, schema_version INTEGER NOT NULL,
		source_dialect TEXT NOT NULL, created_at TEXT NOT NULL)`); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO `+metaTable+` VALUES (?, ?, ?, ?, ?)`,
		meta.Format, meta.Service, meta.SchemaVersion, string(meta.SourceDialect), meta.CreatedAt.Format(time.RFC3339Nano)); err != nil {
		return nil, err
	}
	return countRows(ctx, db, tables)
}

func countRows(ctx context.Context, db *sql.DB, tables []string) ([]TableRows, error) {
	var out []TableRows
	for _, t := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+t+`"`).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out = append(out, TableRows{t, n})
	}
	return out, db.Close()
}

// openFile opens a SQLite file that must exist, with a single connection
// (VACUUM INTO and PRAGMAs apply to it); readOnly opens it immutable,
// for a backup file nobody writes.
func openFile(path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	if readOnly {
		q.Set("mode", "ro")
		q.Set("immutable", "1")
	} else {
		q.Set("mode", "rw")
	}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

func latestVersion(schema sqldb.Schema) (int, error) {
	ms, err := sqldb.LoadMigrations(schema.SQLite, "migrations")
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	return ms[len(ms)-1].Version, nil
}

// ErrNotBackup means a restore's --from is not a usable backup of this
// service: not SQLite, truncated, damaged, another service's, or newer.
var ErrNotBackup = errors.New("not a usable backup")

// Inspect checks that path is a complete, undamaged backup of schema's
// service that this binary can restore, and returns its metadata.
func Inspect(ctx context.Context, path string, schema sqldb.Schema) (Meta, error) {
	bad := func(format string, args ...any) (Meta, error) {
		return Meta{}, fmt.Errorf("%w: %s: %s", ErrNotBackup, path, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return Meta{}, fmt.Errorf("read the backup: %w", unwrapPathError(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return Meta{}, err
	}
	if fi.IsDir() {
		f.Close()
		return bad("is a directory")
	}
	var h [100]byte
	_, err = io.ReadFull(f, h[:])
	f.Close()
	if err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return bad("not a SQLite file, so not a backup")
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	// The header's page count is valid when its "version valid for"
	// matches the change counter (always, for files SQLite 3.7+ wrote).
	if pages := int64(binary.BigEndian.Uint32(h[28:32])); binary.BigEndian.Uint32(h[92:96]) == binary.BigEndian.Uint32(h[24:28]) && pages*pageSize != fi.Size() {
		return bad("truncated or damaged: %d bytes where its header says %d", fi.Size(), pages*pageSize)
	}
	db, err := openFile(path, true)
	if err != nil {
		return bad("%v", err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil || check != "ok" {
		if err != nil {
			check = err.Error()
		}
		return bad("damaged (%s)", check)
	}
	var m Meta
	var dialect, created string
	err = db.QueryRowContext(ctx, `SELECT format, service, schema_version, source_dialect, created_at FROM `+metaTable).Scan(&m.Format, &m.Service, &m.SchemaVersion, &dialect, &created)
	if err != nil {
		return bad("no %s table: a SQLite file but not a backup made by `%s backup`", metaTable, schema.Service)
	}
	m.SourceDialect = sqldb.Dialect(dialect)
	m.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	if m.Service != schema.Service {
		return bad("a %s backup, not a %s one: restore it with %s", m.Service, schema.Service, m.Service)
	}
	if m.Format != Format {
		return bad("backup format %d; this %s reads format %d", m.Format, schema.Service, Format)
	}
	latest, err := latestVersion(schema)
	if err != nil {
		return Meta{}, err
	}
	if m.SchemaVersion > latest {
		return bad("made by a newer %s (schema version %d; this one knows up to %d): restore with that version", m.Service, m.SchemaVersion, latest)
	}
	return m, nil
}

// ErrInUse means a restore's SQLite target is held by a running service.
var ErrInUse = sqldb.ErrInUse

// Restore replaces the database at dst with the backup at from. It
// refuses a target that holds rows unless force, and a SQLite file a
// running service holds (sqldb's lock file) always. A SQLite target is
// replaced atomically (the backup is staged next to it and renamed over
// it); a PostgreSQL target in one transaction (emptied and filled by
// sqldb.Copy). On any error the target is as it was.
func Restore(ctx context.Context, from string, dst sqldb.Target, schema sqldb.Schema, force bool, p *Progress) (Result, error) {
	meta, err := Inspect(ctx, from, schema)
	if err != nil {
		return Result{}, err
	}
	var tables []TableRows
	switch dst.Dialect {
	case sqldb.SQLite:
		tables, err = restoreSQLite(ctx, from, dst.Path, schema, force, p)
	case sqldb.Postgres:
		tables, err = restorePostgres(ctx, from, dst, schema, meta, force, p)
	default:
		err = fmt.Errorf("unknown dialect %q", dst.Dialect)
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Meta: meta, Tables: tables}, nil
}

// ErrTargetNotEmpty is sqldb's: the target holds rows and --force was not
// given.
var ErrTargetNotEmpty = sqldb.ErrTargetNotEmpty

func notEmpty(service, where string, detail string) error {
	return fmt.Errorf("%w: %s %s; restoring would replace it: give --force to do that", ErrTargetNotEmpty, where, detail)
}

func restoreSQLite(ctx context.Context, from, path string, schema sqldb.Schema, force bool, p *Progress) ([]TableRows, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	release, err := sqldb.LockExclusive(path)
	if err != nil {
		if errors.Is(err, sqldb.ErrInUse) {
			return nil, fmt.Errorf("%w: %s is running on %s (a replica holds %s): stop every replica before restoring", sqldb.ErrInUse, schema.Service, path, sqldb.LockPath(path))
		}
		return nil, err
	}
	defer release()
	if !force {
		if err := checkEmptySQLite(ctx, path, schema); err != nil {
			return nil, err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return nil, fmt.Errorf("stage the restore next to %s: %w", path, unwrapPathError(err))
	}
	tmpPath := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			removeDB(tmpPath)
		}
	}()
	if err := stage(ctx, from, tmpPath, schema, p); err != nil {
		return nil, err
	}
	tables, err := countFile(ctx, tmpPath, schema.Tables)
	if err != nil {
		return nil, err
	}
	if err := syncFile(tmpPath); err != nil {
		return nil, err
	}
	// The old database's WAL and shared memory belong to the old file:
	// left beside the new one, SQLite would replay them into it.
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove the old %s: %w", path+suffix, err)
		}
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return nil, fmt.Errorf("replace %s: %w", path, err)
	}
	done = true
	syncDir(filepath.Dir(path))
	return tables, nil
}

// stage copies the backup to tmpPath as a live database of this binary's
// schema: VACUUM INTO, the metadata dropped, newer migrations applied.
func stage(ctx context.Context, from, tmpPath string, schema sqldb.Schema, p *Progress) error {
	src, err := openFile(from, true)
	if err != nil {
		return err
	}
	fi, _ := os.Stat(from)
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	stop := p.watchFile(tmpPath, size)
	_, err = src.ExecContext(ctx, `VACUUM INTO ?`, tmpPath)
	stop()
	src.Close()
	if err != nil {
		return fmt.Errorf("copy the backup: %w", err)
	}
	db, err := openFile(tmpPath, false)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `DROP TABLE `+metaTable)
	db.Close()
	if err != nil {
		return err
	}
	staged, err := sqldb.Open(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: tmpPath})
	if err != nil {
		return err
	}
	err = schema.Migrate(ctx, staged)
	if cerr := staged.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bring the backup's schema up to date: %w", err)
	}
	return nil
}

func countFile(ctx context.Context, path string, tables []string) ([]TableRows, error) {
	db, err := openFile(path, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return countRows(ctx, db, tables)
}

// checkEmptySQLite refuses a target file that holds rows beyond the
// migrations' own (a missing or empty file is empty).
func checkEmptySQLite(ctx context.Context, path string, schema sqldb.Schema) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	db, err := openFile(path, false)
	if err != nil {
		return notEmpty(schema.Service, path, "exists and is not a database ("+err.Error()+")")
	}
	defer db.Close()
	seeded := map[string]bool{}
	for _, t := range schema.Seeded {
		seeded[t] = true
	}
	for _, t := range schema.Tables {
		if seeded[t] {
			continue
		}
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+t+`"`).Scan(&n); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue
			}
			return notEmpty(schema.Service, path, "cannot be read ("+err.Error()+")")
		}
		if n > 0 {
			return notEmpty(schema.Service, path, fmt.Sprintf("holds data (table %s has %d rows)", t, n))
		}
	}
	return nil
}

func restorePostgres(ctx context.Context, from string, dst sqldb.Target, schema sqldb.Schema, meta Meta, force bool, p *Progress) ([]TableRows, error) {
	srcPath := from
	latest, err := latestVersion(schema)
	if err != nil {
		return nil, err
	}
	if meta.SchemaVersion < latest {
		// An older backup is brought up to this binary's schema first, in
		// a scratch copy (the backup file itself is never written).
		dir, err := os.MkdirTemp("", "parley-restore-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		srcPath = filepath.Join(dir, "staged.db")
		if err := stage(ctx, from, srcPath, schema, p); err != nil {
			return nil, err
		}
	}
	raw, err := openFile(srcPath, srcPath == from)
	if err != nil {
		return nil, err
	}
	src := &sqldb.DB{DB: raw, Dialect: sqldb.SQLite, Location: srcPath}
	defer src.Close()
	pg, err := sqldb.Open(ctx, dst)
	if err != nil {
		return nil, err
	}
	defer pg.Close()
	if err := schema.Migrate(ctx, pg); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", pg.Location, err)
	}
	res, err := sqldb.Copy(ctx, src, pg, schema.Tables, sqldb.CopyOptions{Seeded: schema.Seeded, Replace: force, Progress: p.rows})
	p.endRows()
	if err != nil {
		if errors.Is(err, sqldb.ErrTargetNotEmpty) {
			return nil, notEmpty(schema.Service, pg.Location, "holds data ("+err.Error()+")")
		}
		return nil, err
	}
	out := make([]TableRows, len(res))
	for i, r := range res {
		out[i] = TableRows{r.Table, r.Rows}
	}
	return out, nil
}

// removeDB removes a SQLite file and whatever journal it left.
func removeDB(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable (best effort: not every file
// system can sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// unwrapPathError keeps "permission denied" of an *os.PathError without
// repeating the temporary file's name.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
