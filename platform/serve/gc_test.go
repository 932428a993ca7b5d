package serve

import (
	"errors"
	"io/fs"
	"testing"
)

func TestGCSettings(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	v2, v1 := cgroupMemoryFiles[0], cgroupMemoryFiles[1]
	tests := []struct {
		name        string
		env         map[string]string
		files       map[string]string
		wantPercent int
		wantLimit   int64
	}{
		{"no container", nil, nil, 400, 0},
		{"cgroup v2 limit", nil, map[string]string{v2: "268435456\n"}, 400, 268435456 - 26843545},
		{"cgroup v2 unlimited", nil, map[string]string{v2: "max\n"}, 400, 0},
		{"cgroup v1 limit", nil, map[string]string{v1: "104857600\n"}, 400, 104857600 - 10485760},
		{"cgroup v1 unlimited", nil, map[string]string{v1: "9223372036854771712\n"}, 400, 0},
		{"v2 wins over v1", nil, map[string]string{v2: "max", v1: "104857600"}, 400, 0},
		{"garbage", nil, map[string]string{v2: "lots"}, 400, 0},
		{"GOGC set", map[string]string{"GOGC": "100"}, map[string]string{v2: "1000"}, 0, 900},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "64MiB"}, map[string]string{v2: "1000"}, 400, 0},
		{"GOGC=off set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, l := gcSettings(env(tt.env), 400, files(tt.files))
			if p != tt.wantPercent || l != tt.wantLimit {
				t.Fatalf("gcSettings = %d, %d; want %d, %d", p, l, tt.wantPercent, tt.wantLimit)
			}
		})
	}
}

func TestGCSettingsUnreadableLimit(t *testing.T) {
	read := func(string) ([]byte, error) { return nil, errors.New("permission denied") }
	if p, l := gcSettings(func(string) string { return "" }, 200, read); p != 200 || l != 0 {
		t.Fatalf("gcSettings = %d, %d", p, l)
	}
}
