package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"github.com/parleychat/parley/platform/config"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// CopyOptions tunes Copy.
type CopyOptions struct {
	// BatchRows is the most rows one INSERT carries (default 500; fewer for
	// wide tables, to stay under PostgreSQL's 65535 parameters).
	BatchRows int
	// Progress, when set, is called after every batch with the table and
	// the rows copied into it so far.
	Progress func(table string, rows int64)
	// Seeded names tables the target's own migrations fill (a default
	// room): while every other table is empty their rows do not make the
	// target count as used, and they are replaced by the source's rows.
	Seeded []string
	// Replace empties the target's tables (in the same transaction)
	// instead of refusing a target that holds rows: restore --force.
	Replace bool
	// TimeLayout is how the target stores a time as text (the service's
	// SQLite layout); used when a PostgreSQL TIMESTAMPTZ is copied into
	// SQLite.
	TimeLayout string
}

// maxBatchBytes bounds the text and blob bytes one INSERT of Copy carries.
const maxBatchBytes = 1 << 20

// CopyResult is how many rows Copy moved into one table.
type CopyResult struct {
	Table string
	Rows  int64
}

// ErrTargetNotEmpty is returned (wrapped) by Copy when a target table
// already holds rows: copying only ever fills a new database, it never
// merges two histories.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// Copy copies every row of tables from src into dst, a database of either
// dialect already migrated to the same schema (copy-db: SQLite into
// PostgreSQL; backup and restore: PostgreSQL into SQLite and back). Tables are copied in the order
// given, so list parents before children (foreign key order).
//
// src is read in one read-only transaction (a consistent snapshot); dst is
// written in one transaction that first locks the tables against writers
// (SQLite: BEGIN IMMEDIATE) and refuses if any holds a row (or, with
// Replace, empties them), so a failed copy leaves dst as it was.
// Columns are matched by name: a source column the target lacks is an
// error (it would be lost), a target column the source lacks takes its
// default, generated target columns (e.g. a tsvector) fill themselves.
// Values are converted to the target's types where SQLite's differ
// (integer 0/1 → boolean, text ↔ bytea). Afterwards each serial column's
// sequence is moved past the highest id copied — and past SQLite's
// AUTOINCREMENT high-water mark, so ids of deleted rows are not reissued.
func Copy(ctx context.Context, src, dst *DB, tables []string, opts CopyOptions) ([]CopyResult, error) {
	if len(tables) == 0 {
		return nil, errors.New("copy: no tables")
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
	}
	srcOpts := &sql.TxOptions{ReadOnly: true}
	if src.Dialect == Postgres {
		srcOpts.Isolation = sql.LevelRepeatableRead
	}
	stx, err := src.BeginTx(ctx, srcOpts)
	if err != nil {
		return nil, fmt.Errorf("copy: read source: %w", err)
	}
	defer func() { _ = stx.Rollback() }()

	var out []CopyResult
	err = dst.Tx(ctx, func(dtx *sql.Tx) error {
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = quoteIdent(t)
		}
		// EXCLUSIVE lets readers in but no writer, so a service started on
		// the target by mistake cannot slip rows in between check and copy.
		// A SQLite transaction holds the file's write lock from BEGIN.
		if dst.Dialect == Postgres {
			if _, err := dtx.ExecContext(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("lock target tables: %w", err)
			}
		}
		seeded := map[string]bool{}
		for _, t := range opts.Seeded {
			seeded[t] = true
		}
		var seedRows bool
		for _, t := range tables {
			var n int64
			if err := dtx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quoteIdent(t)).Scan(&n); err != nil {
				return fmt.Errorf("count target %s: %w", t, err)
			}
			switch {
			case n > 0 && (seeded[t] || opts.Replace):
				seedRows = true
			case n > 0:
				return fmt.Errorf("%w: table %s already has %d rows (copy into a new database)", ErrTargetNotEmpty, t, n)
			}
		}
		if seedRows && opts.Replace && dst.Dialect == Postgres {
			// One statement, so foreign keys between the tables hold;
			// RESTART IDENTITY is redone past the copied ids below.
			if _, err := dtx.ExecContext(ctx, `TRUNCATE `+strings.Join(names, ", ")+` RESTART IDENTITY`); err != nil {
				return fmt.Errorf("empty target tables: %w", err)
			}
		} else if seedRows {
			for i := len(tables) - 1; i >= 0; i-- {
				if seeded[tables[i]] || opts.Replace {
					if _, err := dtx.ExecContext(ctx, `DELETE FROM `+quoteIdent(tables[i])); err != nil {
						return fmt.Errorf("clear seeded %s: %w", tables[i], err)
					}
				}
			}
		}
		for _, t := range tables {
			n, err := copyTable(ctx, stx, src.Dialect, dtx, dst.Dialect, t, opts)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
			if err := resetSequences(ctx, stx, src.Dialect, dtx, dst.Dialect, t); err != nil {
				return fmt.Errorf("reset sequences of %s: %w", t, err)
			}
			out = append(out, CopyResult{Table: t, Rows: n})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	return out, nil
}

type column struct {
	name     string
	dataType string // PostgreSQL information_schema data_type; "" for SQLite
	pk       int    // position in the primary key (SQLite source), 0 if not part of it
}

// pgColumns lists a PostgreSQL table's stored, non-generated columns.
func pgColumns(ctx context.Context, q querier, table string) ([]column, error) {
	rows, err := q.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
		ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.dataType); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// sqliteColumns lists a SQLite table's columns and its primary key.
func sqliteColumns(ctx context.Context, q querier, table string) ([]column, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.pk); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func copyTable(ctx context.Context, stx *sql.Tx, srcDialect Dialect, dtx *sql.Tx, dstDialect Dialect, table string, opts CopyOptions) (int64, error) {
	var (
		dcols []column
		err   error
	)
	if dstDialect == Postgres {
		dcols, err = pgColumns(ctx, dtx, table)
	} else {
		// SQLite columns carry no type: values are converted by kind
		// "sqlite" (booleans to 0/1, times to TimeLayout text).
		dcols, err = sqliteColumns(ctx, dtx, table)
		for i := range dcols {
			dcols[i].dataType = "sqlite"
		}
	}
	if err != nil {
		return 0, fmt.Errorf("target columns: %w", err)
	}
	if len(dcols) == 0 {
		return 0, fmt.Errorf("the target has no table %s (are its migrations applied?)", table)
	}
	var scols []column
	if srcDialect == Postgres {
		scols, err = pgColumns(ctx, stx, table)
	} else {
		scols, err = sqliteColumns(ctx, stx, table)
	}
	if err != nil {
		return 0, fmt.Errorf("source columns: %w", err)
	}
	if len(scols) == 0 {
		return 0, fmt.Errorf("the source has no table %s", table)
	}
	types := map[string]string{}
	for _, c := range dcols {
		types[c.name] = c.dataType
	}
	var (
		names []string
		kinds []string
		order []column
	)
	for _, c := range scols {
		kind, ok := types[c.name]
		if !ok {
			return 0, fmt.Errorf("source column %s.%s has no place in the target schema", table, c.name)
		}
		names = append(names, quoteIdent(c.name))
		kinds = append(kinds, kind)
		if c.pk > 0 {
			order = append(order, c)
		}
	}
	q := `SELECT ` + strings.Join(names, ", ") + ` FROM ` + quoteIdent(table)
	if len(order) > 0 {
		// Rows arrive in key order, so the copy is laid out as a long-lived
		// table would be (history pages read neighbouring rows).
		keys := make([]string, len(order))
		for _, c := range order {
			keys[c.pk-1] = quoteIdent(c.name)
		}
		q += ` ORDER BY ` + strings.Join(keys, ", ")
	}
	rows, err := stx.QueryContext(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("read source: %w", err)
	}
	defer rows.Close()

	batch := opts.BatchRows
	maxParams := 65535
	if dstDialect == SQLite {
		maxParams = 32766 // SQLITE_MAX_VARIABLE_NUMBER
	}
	if max := maxParams / len(names); batch > max {
		batch = max
	}
	insert := func(n int) string {
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + quoteIdent(table) + ` (` + strings.Join(names, ", ") + `) VALUES `)
		p := 0
		for r := 0; r < n; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := range names {
				if c > 0 {
					b.WriteString(", ")
				}
				p++
				if dstDialect == SQLite {
					b.WriteByte('?')
				} else {
					b.WriteString("$" + strconv.Itoa(p))
				}
			}
			b.WriteByte(')')
		}
		return b.String()
	}
	full := insert(batch)
	var (
		copied int64
		// bytes counts the text and blob bytes held in args: a batch is
		// also sent once it holds maxBatchBytes, so tables of large
		// values (file chunks) are copied in bounded memory.
		bytes int
		args  = make([]any, 0, batch*len(names))
		vals  = make([]any, len(names))
		ptrs  = make([]any, len(names))
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	flush := func() error {
		n := len(args) / len(names)
		if n == 0 {
			return nil
		}
		stmt := full
		if n < batch {
			stmt = insert(n)
		}
		if _, err := dtx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("insert rows %d-%d: %w", copied+1, copied+int64(n), err)
		}
		copied += int64(n)
		clear(args)
		args = args[:0]
		bytes = 0
		if opts.Progress != nil {
			opts.Progress(table, copied)
		}
		return nil
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return copied, fmt.Errorf("read source: %w", err)
		}
		for i, v := range vals {
			cv, err := convertValue(v, kinds[i], opts.TimeLayout)
			if err != nil {
				return copied, fmt.Errorf("row %d, column %s: %w", copied+int64(len(args)/len(names))+1, scols[i].name, err)
			}
			args = append(args, cv)
			switch x := cv.(type) {
			case []byte:
				bytes += len(x)
			case string:
				bytes += len(x)
			}
		}
		if len(args) == batch*len(names) || bytes >= maxBatchBytes {
			if err := flush(); err != nil {
				return copied, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return copied, fmt.Errorf("read source: %w", err)
	}
	return copied, flush()
}

// convertValue turns a value as the source driver gave it into one the
// target column of PostgreSQL type pgType accepts ("sqlite" for any
// SQLite column, where times are stored as text in layout).
func convertValue(v any, pgType, layout string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "sqlite":
		switch x := v.(type) {
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case time.Time:
			if layout == "" {
				layout = time.RFC3339Nano
			}
			return x.UTC().Format(layout), nil
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return nil, fmt.Errorf("%q is not a boolean", x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("cannot store a %T as boolean", v)
	case "bytea":
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	case "text", "character varying", "character":
		switch x := v.(type) {
		case []byte:
			return string(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return v, nil
}

// resetSequences moves the sequence behind each serial column of table
// past the highest value present, so the next insert does not collide with
// a copied row. Into SQLite (whose AUTOINCREMENT mark follows inserted ids
// by itself) it carries a PostgreSQL sequence's position into
// sqlite_sequence, so ids of deleted rows stay unused there too.
func resetSequences(ctx context.Context, stx *sql.Tx, srcDialect Dialect, dtx *sql.Tx, dstDialect Dialect, table string) error {
	if dstDialect == SQLite {
		return carrySequences(ctx, stx, srcDialect, dtx, table)
	}
	cols, err := pgColumns(ctx, dtx, table)
	if err != nil {
		return err
	}
	for _, c := range cols {
		var seq sql.NullString
		if err := dtx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, quoteIdent(table), c.name).Scan(&seq); err != nil {
			return err
		}
		if !seq.Valid {
			continue
		}
		var high int64
		if err := dtx.QueryRowContext(ctx, `SELECT COALESCE(MAX(`+quoteIdent(c.name)+`), 0) FROM `+quoteIdent(table)).Scan(&high); err != nil {
			return err
		}
		if srcDialect == SQLite {
			// AUTOINCREMENT remembers ids of deleted rows; keep honouring
			// that. The table may not exist (no AUTOINCREMENT column).
			var mark int64
			if err := stx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = ?`, table).Scan(&mark); err == nil && mark > high {
				high = mark
			}
		}
		if high > 0 {
			_, err = dtx.ExecContext(ctx, `SELECT setval($1, $2, true)`, seq.String, high)
		} else {
			_, err = dtx.ExecContext(ctx, `SELECT setval($1, 1, false)`, seq.String)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// carrySequences raises a SQLite target's AUTOINCREMENT mark for table to
// the source's: a PostgreSQL serial sequence's last value, or the source
// SQLite's own mark.
func carrySequences(ctx context.Context, stx *sql.Tx, srcDialect Dialect, dtx *sql.Tx, table string) error {
	var mark int64
	if srcDialect == Postgres {
		cols, err := pgColumns(ctx, stx, table)
		if err != nil {
			return err
		}
		for _, c := range cols {
			var seq sql.NullString
			if err := stx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, quoteIdent(table), c.name).Scan(&seq); err != nil {
				return err
			}
			if !seq.Valid {
				continue
			}
			var last int64
			var called bool
			if err := stx.QueryRowContext(ctx, `SELECT last_value, is_called FROM `+seq.String).Scan(&last, &called); err != nil {
				return err
			}
			if called && last > mark {
				mark = last
			}
		}
	} else if err := stx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = ?`, table).Scan(&mark); err != nil {
		mark = 0
	}
	if mark == 0 || !isAutoincrement(ctx, dtx, table) {
		return nil
	}
	// The table's row in sqlite_sequence appears with its first insert.
	res, err := dtx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?`, mark, table)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, err = dtx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, table, mark)
	}
	return err
}

// isAutoincrement reports whether a SQLite table was declared with an
// AUTOINCREMENT key.
func isAutoincrement(ctx context.Context, q *sql.Tx, table string) bool {
	var ddl string
	if err := q.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&ddl); err != nil {
		return false
	}
	return strings.Contains(strings.ToUpper(ddl), "AUTOINCREMENT")
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// CopySpec describes one service's database for CopyCommand.
type CopySpec struct {
	// Schema is the service's: its name, tables and migrations.
	Schema Schema
	// DefaultFrom is the source when --from is not given: the service's
	// own SQLite file under DATA_DIR.
	DefaultFrom Target
}

// CopyCommand is a service's "copy-db" subcommand: it copies the service's
// SQLite database into a new PostgreSQL database, so a deployment that
// outgrows one node keeps its history. args are the arguments after
// "copy-db":
//
//	--from sqlite:///data/auth.db   (default: the service's file under DATA_DIR)
//	--to   postgres://user:pass@host:5432/db?sslmode=disable   (required)
//	--batch 500                     (rows per INSERT)
//
// Both databases are migrated first (the source as a start of the service
// on it would), then Copy runs. Stop the service's writers before copying:
// rows written to SQLite after the copy's snapshot are not carried over.
func CopyCommand(ctx context.Context, args []string, stdout io.Writer, spec CopySpec) error {
	service := spec.Schema.Service
	fs := flag.NewFlagSet(service+" copy-db", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("from", "", "source database URL (default "+describe(spec.DefaultFrom)+")")
	to := fs.String("to", "", "target PostgreSQL URL, e.g. postgres://user:pass@host:5432/"+strings.TrimSuffix(service, "-service")+"?sslmode=disable (required)")
	batch := fs.Int("batch", 500, "rows per INSERT")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s copy-db: %w", service, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s copy-db: unexpected argument %q (usage: %s copy-db [--from sqlite:///path.db] --to postgres://...)", service, fs.Arg(0), service)
	}
	source := spec.DefaultFrom
	if strings.TrimSpace(*from) != "" {
		t, err := ParseURL(*from, "", "")
		if err != nil {
			return fmt.Errorf("%s copy-db: --from: %w", service, err)
		}
		source = t
	}
	if strings.TrimSpace(*to) == "" {
		return fmt.Errorf("%s copy-db: --to is required (usage: %s copy-db [--from sqlite:///path.db] --to postgres://...)", service, service)
	}
	target, err := ParseURL(*to, "", "")
	if err != nil {
		return fmt.Errorf("%s copy-db: --to: %w", service, err)
	}
	if target.Dialect != Postgres {
		return fmt.Errorf("%s copy-db: --to must be a postgres:// URL", service)
	}
	if source.Dialect == Postgres && source.DSN == target.DSN {
		return fmt.Errorf("%s copy-db: --from and --to are the same database", service)
	}
	if source.Dialect == SQLite {
		// Opening a missing file would create an empty database and copy
		// nothing: a mistyped path must fail loudly instead.
		if fi, err := os.Stat(source.Path); err != nil || fi.IsDir() {
			return fmt.Errorf("%s copy-db: --from: no SQLite database at %s", service, source.Path)
		}
	}

	sdb, err := Open(ctx, source)
	if err != nil {
		return fmt.Errorf("%s copy-db: source: %w", service, err)
	}
	defer sdb.Close()
	ddb, err := Open(ctx, target)
	if err != nil {
		return fmt.Errorf("%s copy-db: target: %w", service, err)
	}
	defer ddb.Close()
	if err := spec.Schema.Migrate(ctx, sdb); err != nil {
		return fmt.Errorf("%s copy-db: migrate source %s: %w", service, sdb.Location, err)
	}
	if err := spec.Schema.Migrate(ctx, ddb); err != nil {
		return fmt.Errorf("%s copy-db: migrate target %s: %w", service, ddb.Location, err)
	}
	fmt.Fprintf(stdout, "copying %s → %s\n", sdb.Location, ddb.Location)
	start := time.Now()
	res, err := Copy(ctx, sdb, ddb, spec.Schema.Tables, CopyOptions{BatchRows: *batch, Seeded: spec.Schema.Seeded})
	if err != nil {
		return fmt.Errorf("%s copy-db: %w", service, err)
	}
	var total int64
	for _, r := range res {
		fmt.Fprintf(stdout, "  %-20s %d rows\n", r.Table, r.Rows)
		total += r.Rows
	}
	fmt.Fprintf(stdout, "copied %d rows in %s; point DATABASE_URL at the target and start %s\n",
		total, time.Since(start).Round(time.Millisecond), service)
	return nil
}

// describe is t's URL without a password, for help texts and logs.
func describe(t Target) string {
	t.DSN = redact(t.DSN)
	return t.URL()
}

// CopyDBCommand is a service's "copy-db" subcommand (see CopyCommand) as a
// serve.Command: --from defaults to DATABASE_URL when that is SQLite, else
// to dbFile under DATA_DIR.
func CopyDBCommand(schema Schema, dbFile string) func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
		env := config.New(getenv)
		dataDir := env.ReadCommon(0).DataDir
		if err := env.Err(); err != nil {
			return err
		}
		from, err := ParseURL(env.Raw("DATABASE_URL"), dataDir, dbFile)
		if err != nil || from.Dialect != SQLite {
			from, _ = ParseURL("", dataDir, dbFile)
		}
		return CopyCommand(ctx, args, stdout, CopySpec{Schema: schema, DefaultFrom: from})
	}
}
