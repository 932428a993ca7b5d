package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCommand(t *testing.T) {
	cases := []struct {
		args  []string
		want  []string
		setup bool
	}{
		{nil, []string{"postgres"}, true},
		{[]string{"postgres"}, []string{"postgres"}, true},
		{[]string{"-c", "max_connections=50"}, []string{"postgres", "-c", "max_connections=50"}, true},
		{[]string{"postgres", "--version"}, []string{"postgres", "--version"}, false},
		{[]string{"-C", "data_directory"}, []string{"postgres", "-C", "data_directory"}, false},
		{[]string{"psql", "-U", "parley"}, []string{"psql", "-U", "parley"}, false},
		{[]string{"pg_isready", "-h", "127.0.0.1"}, []string{"pg_isready", "-h", "127.0.0.1"}, false},
	}
	for _, c := range cases {
		got, setup := command(c.args)
		if !slices.Equal(got, c.want) || setup != c.setup {
			t.Errorf("command(%q) = %q, %v; want %q, %v", c.args, got, setup, c.want, c.setup)
		}
	}
}

func TestConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "postgres" || c.DB != "postgres" || c.PGData != "/var/lib/postgresql/data" || c.Port != "5432" ||
		c.AuthMethod != "scram-sha-256" || c.TmpDir != "/tmp" {
		t.Errorf("defaults: %+v", c)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = loadConfig(env(map[string]string{"POSTGRES_USER": "parley", "POSTGRES_PASSWORD_FILE": pw,
		"PGDATA": "/d/pgdata", "POSTGRES_INITDB_ARGS": "--data-checksums  --locale=C"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "parley" || c.DB != "parley" || c.Password != "s3cret" || c.PGData != "/d/pgdata" {
		t.Errorf("config: %+v", c)
	}
	want := []string{"--pgdata=/d/pgdata", "--username=parley", "--encoding=UTF8", "--no-locale",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=/tmp/pw", "--data-checksums", "--locale=C"}
	if got := initdbArgs(c, "/tmp/pw"); !slices.Equal(got, want) {
		t.Errorf("initdb args %q, want %q", got, want)
	}
	if _, err := loadConfig(env(map[string]string{"POSTGRES_PASSWORD": "a", "POSTGRES_PASSWORD_FILE": pw})); err == nil {
		t.Error("both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE were accepted")
	}
	if _, err := loadConfig(env(map[string]string{"POSTGRES_PASSWORD_FILE": filepath.Join(t.TempDir(), "none")})); err == nil {
		t.Error("a missing POSTGRES_PASSWORD_FILE was accepted")
	}
}

// Init scripts run in name order; only *.sql files run, and a ConfigMap
// volume's hidden ..data entries are not scripts.
func TestInitFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"20-b.sql", "10-a.sql", "15-c.sh", "30-d.sql.gz"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "..2026_data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "40-e.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..2026_data", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/40-e.sql", filepath.Join(dir, "40-e.sql")); err != nil {
		t.Fatal(err)
	}
	files, err := initFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []initFile{
		{filepath.Join(dir, "10-a.sql"), true},
		{filepath.Join(dir, "15-c.sh"), false},
		{filepath.Join(dir, "20-b.sql"), true},
		{filepath.Join(dir, "30-d.sql.gz"), false},
		{filepath.Join(dir, "40-e.sql"), true},
	}
	if !slices.Equal(files, want) {
		t.Errorf("init files %+v, want %+v", files, want)
	}
	if files, err := initFiles(filepath.Join(dir, "absent")); err != nil || files != nil {
		t.Errorf("absent directory: %+v %v", files, err)
	}
}
