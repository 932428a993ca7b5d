// Command pgentry is the entrypoint of the offline postgres stand-in image
// (package standin): a static stand-in for the official image's
// docker-entrypoint.sh, which needs bash and coreutils the stand-in does
// not carry. It does what k8s/postgres and docker run rely on:
//
//   - run as root, it makes $PGDATA and the socket directory belong to
//     postgres (uid/gid 70) and drops to that user, as the official image
//     does with gosu; run as uid 70 (k8s/postgres: runAsUser 70, read-only
//     root filesystem) it only creates $PGDATA when it can;
//   - when $PGDATA holds no PG_VERSION: initdb with POSTGRES_USER as the
//     superuser, POSTGRES_PASSWORD (or the file POSTGRES_PASSWORD_FILE
//     names) as its password via a file in $TMPDIR (default /tmp) that is
//     removed at once, encoding UTF8, the C locale, local (socket) connections
//     trusted and TCP connections authenticated with POSTGRES_HOST_AUTH_METHOD
//     (default scram-sha-256, as in the official image); extra initdb options
//     from POSTGRES_INITDB_ARGS; then a temporary server on the Unix socket
//     only creates POSTGRES_DB (default: the user's name) and runs the *.sql
//     files in /docker-entrypoint-initdb.d in name order with psql (other
//     files are logged and skipped: there is no shell for *.sh), and stops;
//   - then it execs the command, "postgres" by default, which listens on all
//     addresses (the image's postgresql.conf.sample says listen_addresses='*').
//
// Any other command (psql, pg_isready, …) is exec'd as it is.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

const (
	initDir   = "/docker-entrypoint-initdb.d"
	socketDir = "/var/run/postgresql"
	pgUID     = 70 // the postgres user of the official Alpine image
	pgGID     = 70
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "docker-entrypoint: error:", err)
		os.Exit(1)
	}
}

// config is what the entrypoint reads from the environment.
type config struct {
	User       string
	Password   string
	DB         string
	PGData     string
	Port       string
	AuthMethod string
	InitdbArgs []string
	TmpDir     string
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		User:       getenv("POSTGRES_USER"),
		Password:   getenv("POSTGRES_PASSWORD"),
		DB:         getenv("POSTGRES_DB"),
		PGData:     getenv("PGDATA"),
		Port:       getenv("PGPORT"),
		AuthMethod: getenv("POSTGRES_HOST_AUTH_METHOD"),
		InitdbArgs: strings.Fields(getenv("POSTGRES_INITDB_ARGS")),
		TmpDir:     getenv("TMPDIR"),
	}
	if f := getenv("POSTGRES_PASSWORD_FILE"); f != "" {
		if c.Password != "" {
			return c, errors.New("both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set (but are exclusive)")
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("POSTGRES_PASSWORD_FILE: %w", err)
		}
		c.Password = strings.TrimRight(string(data), "\r\n")
	}
	if c.User == "" {
		c.User = "postgres"
	}
	if c.DB == "" {
		c.DB = c.User
	}
	if c.PGData == "" {
		c.PGData = "/var/lib/postgresql/data"
	}
	if c.Port == "" {
		c.Port = "5432"
	}
	if c.AuthMethod == "" {
		c.AuthMethod = "scram-sha-256"
	}
	if c.TmpDir == "" {
		c.TmpDir = "/tmp"
	}
	return c, nil
}

// command completes the arguments the way the official entrypoint does:
// none means "postgres", a leading option means options for postgres.
// setup is false for commands that are not the server, or that only ask it
// for help or its version.
func command(args []string) (cmd []string, setup bool) {
	if len(args) == 0 {
		args = []string{"postgres"}
	} else if strings.HasPrefix(args[0], "-") {
		args = append([]string{"postgres"}, args...)
	}
	if args[0] != "postgres" {
		return args, false
	}
	for _, a := range args[1:] {
		switch {
		case a == "-?", a == "--help", a == "-V", a == "--version", a == "--describe-config",
			strings.HasPrefix(a, "-C"):
			return args, false
		}
	}
	return args, true
}

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	cmd, setup := command(args)
	if setup {
		c, err := loadConfig(getenv)
		if err != nil {
			return err
		}
		if err := prepare(c, stdout); err != nil {
			return err
		}
	}
	path, err := exec.LookPath(cmd[0])
	if err != nil {
		return err
	}
	return syscall.Exec(path, cmd, os.Environ())
}

// prepare makes the directories usable, drops root, and initialises an
// empty $PGDATA.
func prepare(c config, stdout io.Writer) error {
	if os.Getuid() == 0 {
		if err := ownDirs(c.PGData); err != nil {
			return err
		}
		// postgres refuses to run as root; this is gosu's job in the
		// official image.
		if err := syscall.Setgroups([]int{pgGID}); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(pgGID); err != nil {
			return fmt.Errorf("setgid: %w", err)
		}
		if err := syscall.Setuid(pgUID); err != nil {
			return fmt.Errorf("setuid: %w", err)
		}
	} else {
		if err := os.MkdirAll(c.PGData, 0o700); err != nil {
			return fmt.Errorf("create PGDATA %s (the directory above it must be writable by uid %d): %w", c.PGData, os.Getuid(), err)
		}
		_ = os.Chmod(c.PGData, 0o700) // best effort, as in the official image
	}
	if _, err := os.Stat(filepath.Join(c.PGData, "PG_VERSION")); err == nil {
		fmt.Fprintln(stdout, "PostgreSQL Database directory appears to contain a database; Skipping initialization")
		return nil
	}
	if c.Password == "" && c.AuthMethod != "trust" {
		return errors.New("database is uninitialized and superuser password is not specified: set POSTGRES_PASSWORD " +
			"(or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without a password")
	}
	if err := initdb(c, stdout); err != nil {
		return err
	}
	if err := initialise(c, stdout); err != nil {
		return fmt.Errorf("%w (the data directory %s is left as it is: empty it to initialise again)", err, c.PGData)
	}
	fmt.Fprintln(stdout, "\nPostgreSQL init process complete; ready for start up.")
	return nil
}

// ownDirs gives $PGDATA (recursively) and the socket directory to postgres.
func ownDirs(pgdata string) error {
	if err := os.MkdirAll(pgdata, 0o700); err != nil {
		return fmt.Errorf("create PGDATA: %w", err)
	}
	err := filepath.WalkDir(pgdata, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, pgUID, pgGID)
	})
	if err != nil {
		return fmt.Errorf("chown PGDATA: %w", err)
	}
	_ = os.Chmod(pgdata, 0o700)
	if err := os.MkdirAll(socketDir, 0o3775); err == nil {
		_ = os.Chown(socketDir, pgUID, pgGID)
		_ = os.Chmod(socketDir, 0o3775)
	}
	return nil
}

// initdbArgs are initdb's arguments; the user's POSTGRES_INITDB_ARGS come
// last so they may override the defaults.
func initdbArgs(c config, pwfile string) []string {
	args := []string{"--pgdata=" + c.PGData, "--username=" + c.User, "--encoding=UTF8", "--no-locale",
		"--auth-local=trust", "--auth-host=" + c.AuthMethod}
	if pwfile != "" {
		args = append(args, "--pwfile="+pwfile)
	}
	return append(args, c.InitdbArgs...)
}

func initdb(c config, stdout io.Writer) error {
	pwfile := ""
	if c.Password != "" {
		f, err := os.CreateTemp(c.TmpDir, "pwfile-")
		if err != nil {
			return fmt.Errorf("password file (is %s writable?): %w", c.TmpDir, err)
		}
		pwfile = f.Name()
		defer os.Remove(pwfile)
		_, err = f.WriteString(c.Password + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("password file: %w", err)
		}
	}
	if err := runTool(stdout, "initdb", initdbArgs(c, pwfile)...); err != nil {
		return err
	}
	// As the official image: TCP from anywhere, with the host method.
	hba, err := os.OpenFile(filepath.Join(c.PGData, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(hba, "\nhost all all all %s\n", c.AuthMethod)
	if cerr := hba.Close(); err == nil {
		err = cerr
	}
	return err
}

// initialise runs the init scripts on a temporary server reachable only
// through the Unix socket.
func initialise(c config, stdout io.Writer) error {
	files, err := initFiles(initDir)
	if err != nil {
		return err
	}
	if err := runTool(stdout, "pg_ctl", "-D", c.PGData, "-o", "-c listen_addresses='' -p "+c.Port, "-w", "start"); err != nil {
		return fmt.Errorf("start the temporary server: %w", err)
	}
	err = func() error {
		psql := []string{"-v", "ON_ERROR_STOP=1", "--no-psqlrc", "--no-password", "--username", c.User,
			"--host", socketDir, "--port", c.Port}
		if c.DB != "postgres" {
			fmt.Fprintf(stdout, "docker-entrypoint: creating database %s\n", c.DB)
			sql := strings.NewReader(`CREATE DATABASE :"db";` + "\n")
			if err := runToolStdin(stdout, sql, "psql", append(psql, "--dbname", "postgres", "--set", "db="+c.DB)...); err != nil {
				return fmt.Errorf("create database %s: %w", c.DB, err)
			}
		}
		for _, f := range files {
			if !f.SQL {
				fmt.Fprintf(stdout, "docker-entrypoint: ignoring %s (this stand-in runs only *.sql files)\n", f.Path)
				continue
			}
			fmt.Fprintf(stdout, "docker-entrypoint: running %s\n", f.Path)
			if err := runTool(stdout, "psql", append(psql, "--dbname", c.DB, "-f", f.Path)...); err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
		}
		return nil
	}()
	if stopErr := runTool(stdout, "pg_ctl", "-D", c.PGData, "-m", "fast", "-w", "stop"); err == nil && stopErr != nil {
		err = fmt.Errorf("stop the temporary server: %w", stopErr)
	}
	return err
}

// initFile is an entry of the init directory; only SQL files are run.
type initFile struct {
	Path string
	SQL  bool
}

// initFiles lists dir's entries in name order. Hidden names (a ConfigMap
// volume's ..data links) are not scripts.
func initFiles(dir string) ([]initFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	files := make([]initFile, 0, len(names))
	for _, n := range names {
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p) // follows a ConfigMap's symlinks
		if err != nil {
			return nil, err
		}
		files = append(files, initFile{Path: p, SQL: fi.Mode().IsRegular() && strings.HasSuffix(n, ".sql")})
	}
	return files, nil
}

func runTool(stdout io.Writer, name string, args ...string) error {
	return runToolStdin(stdout, nil, name, args...)
}

// runToolStdin runs a PostgreSQL program. Its output goes straight to ours
// when ours is a file: the server pg_ctl starts keeps that descriptor, so a
// pipe would never reach EOF.
func runToolStdin(stdout io.Writer, stdin io.Reader, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
