package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsAndValues(t *testing.T) {
	e := New(envOf(map[string]string{
		"PORT": "6000", "LOG_FORMAT": "TEXT", "TTL": "90s", "ON": "yes",
		"ORIGINS": " http://a , ,http://b ", "BASE": "http://x:1/",
	}))
	c := e.ReadCommon(5001)
	if c.Port != 6000 || c.LogFormat != "text" || c.LogLevel != "info" || c.DataDir != "./data" {
		t.Fatalf("common = %+v", c)
	}
	if d := e.Duration("TTL", time.Minute); d != 90*time.Second {
		t.Fatalf("duration = %v", d)
	}
	if d := e.OptionalDuration("TTL", time.Minute); d != 90*time.Second {
		t.Fatalf("optional duration = %v", d)
	}
	if d := e.OptionalDuration("UNSET", time.Second); d != time.Second {
		t.Fatalf("optional duration default = %v", d)
	}
	if d := New(envOf(map[string]string{"OFF": "0"})).OptionalDuration("OFF", time.Second); d != 0 {
		t.Fatalf("optional duration 0 = %v", d)
	}
	if !e.Bool("ON", false) || e.Bool("OFF", false) {
		t.Fatal("bool")
	}
	if got := e.List("ORIGINS", nil); len(got) != 2 || got[0] != "http://a" || got[1] != "http://b" {
		t.Fatalf("list = %q", got)
	}
	if got := e.URL("BASE", ""); got != "http://x:1" {
		t.Fatalf("url = %q", got)
	}
	if e.Err() != nil {
		t.Fatal(e.Err())
	}
}

func TestInvalidNamesVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		read func(*Env)
	}{
		{"PORT", map[string]string{"PORT": "abc"}, func(e *Env) { e.ReadCommon(1) }},
		{"PORT", map[string]string{"PORT": "70000"}, func(e *Env) { e.ReadCommon(1) }},
		{"LOG_LEVEL", map[string]string{"LOG_LEVEL": "loud"}, func(e *Env) { e.ReadCommon(1) }},
		{"TTL", map[string]string{"TTL": "-5s"}, func(e *Env) { e.Duration("TTL", time.Second) }},
		{"TTL", map[string]string{"TTL": "0"}, func(e *Env) { e.Duration("TTL", time.Second) }},
		{"DELAY", map[string]string{"DELAY": "-1ms"}, func(e *Env) { e.OptionalDuration("DELAY", time.Second) }},
		{"DELAY", map[string]string{"DELAY": "soon"}, func(e *Env) { e.OptionalDuration("DELAY", time.Second) }},
		{"ON", map[string]string{"ON": "maybe"}, func(e *Env) { e.Bool("ON", false) }},
		{"BASE", map[string]string{"BASE": "ftp://x"}, func(e *Env) { e.URL("BASE", "") }},
		{"KEY_FILE", map[string]string{"KEY_FILE": "/nonexistent/key"}, func(e *Env) { e.Secret("KEY", "") }},
	}
	for _, tt := range tests {
		e := New(envOf(tt.env))
		tt.read(e)
		if e.Err() == nil || !strings.Contains(e.Err().Error(), tt.name) {
			t.Errorf("%v: err = %v, want one naming %s", tt.env, e.Err(), tt.name)
		}
	}
}

func TestSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := New(envOf(map[string]string{"ADMIN_PASSWORD_FILE": p, "ADMIN_PASSWORD": "ignored"}))
	if got := e.Secret("ADMIN_PASSWORD", ""); got != "s3cret" {
		t.Fatalf("secret = %q", got)
	}
}

func TestNetworks(t *testing.T) {
	e := New(envOf(map[string]string{"OK": "10.0.0.0/8, 192.168.1.7,::1", "BAD": "10.0.0.0/8,not-an-ip"}))
	if got := e.Networks("OK", nil); len(got) != 3 || e.Err() != nil {
		t.Fatalf("Networks = %q, %v", got, e.Err())
	}
	if got := e.Networks("UNSET", PrivateNetworks); len(got) != len(PrivateNetworks) {
		t.Fatalf("default = %q", got)
	}
	e.Networks("BAD", nil)
	if e.Err() == nil || !strings.Contains(e.Err().Error(), "BAD") {
		t.Fatalf("err = %v", e.Err())
	}
}
