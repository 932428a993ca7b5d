package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var scripts = []string{"build-all.sh", "deploy-all.sh", "scripts/offline-images.sh"}

func TestScriptsShellcheck(t *testing.T) {
	root := repoRoot(t)
	for _, s := range scripts {
		if out, err := run(t, time.Minute, root, nil, "bash", "-n", s); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
		if fi, err := os.Stat(filepath.Join(root, s)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s should exist and be executable", s)
		}
	}
	sc := needTool(t, "shellcheck", "apt-get install shellcheck")
	// The developer scripts are held to the same standard.
	all := append([]string{"bench/run.sh", ".ci/run"}, scripts...)
	dev, _ := filepath.Glob(filepath.Join(root, "scripts", "*.sh")) // every one, not only those listed
	for _, p := range dev {
		if rel, _ := filepath.Rel(root, p); !slices.Contains(all, rel) {
			all = append(all, rel)
		}
	}
	out, err := run(t, time.Minute, root, nil, sc, append([]string{"--severity=style"}, all...)...)
	if err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestScriptsExplainMissingPrerequisites runs the scripts without Docker,
// kubectl or k3s and expects a clear message, not a stack of shell errors.
func TestScriptsExplainMissingPrerequisites(t *testing.T) {
	root := repoRoot(t)
	// A PATH with only the basic tools the scripts use, none of the prerequisites.
	bin := t.TempDir()
	for _, tool := range []string{"bash", "dirname", "sed", "git", "cat", "date", "sha256sum", "cut", "awk"} {
		if p, err := findInPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	env := []string{"PATH=" + bin, "DOCKER=", "KUBECTL=", "REGISTRY="}
	cases := []struct {
		script string
		args   []string
		want   []string
	}{
		{"build-all.sh", nil, []string{"'docker' not found", "install Docker"}},
		{"build-all.sh", []string{"no-such-service"}, []string{"unknown service 'no-such-service'"}},
		{"deploy-all.sh", nil, []string{"missing prerequisites", "kubectl (or k3s", "docker", "k3s on this machine"}},
		{"deploy-all.sh", []string{"--push", "--no-build"}, []string{"missing prerequisites", "REGISTRY="}},
		{"deploy-all.sh", []string{"--bogus"}, []string{"unknown argument '--bogus'"}},
		{"deploy-all.sh", []string{"--local-cluster", "--push"}, []string{"drop --push"}},
		{"scripts/offline-images.sh", nil, []string{"missing prerequisites", "go: install Go", "docker: install Docker"}},
		{"scripts/offline-images.sh", []string{"--bogus"}, []string{"unknown argument '--bogus'"}},
	}
	for _, c := range cases {
		out, err := run(t, time.Minute, root, env, filepath.Join(root, c.script), c.args...)
		if err == nil {
			t.Errorf("%s %v: succeeded without its prerequisites:\n%s", c.script, c.args, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %v: output lacks %q:\n%s", c.script, c.args, w, out)
			}
		}
		if strings.Contains(out, "command not found") || strings.Contains(out, "unbound variable") {
			t.Errorf("%s %v: a raw shell error instead of an explanation:\n%s", c.script, c.args, out)
		}
	}
}

func findInPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not in PATH", name)
}

// TestDockerfiles checks what ARCHITECTURE.md, Contract: Deployment asks of every Dockerfile; the compose
// end-to-end test builds and runs them.
func TestDockerfiles(t *testing.T) {
	root := repoRoot(t)
	for _, s := range services {
		t.Run(s.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, s.Name, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			var lines []string // instructions, continuation lines joined
			cur := ""
			for _, l := range strings.Split(string(data), "\n") {
				l = strings.TrimSpace(l)
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				if strings.HasSuffix(l, "\\") {
					cur += strings.TrimSuffix(l, "\\") + " "
					continue
				}
				lines = append(lines, cur+l)
				cur = ""
			}
			idx := func(re string) int {
				r := regexp.MustCompile(re)
				return slices.IndexFunc(lines, r.MatchString)
			}
			must := func(what, re string) int {
				i := idx(re)
				if i < 0 {
					t.Errorf("Dockerfile: no %s (want a line matching %s)", what, re)
				}
				return i
			}
			must("builder base image ARG", `^ARG GO_IMAGE=golang:1\.26-(bookworm|alpine)$`)
			from := must("builder stage from ${GO_IMAGE}", `^FROM \$\{GO_IMAGE\} AS build$`)
			modCopy := must("go.mod/go.sum copied first", `^COPY platform/go\.mod platform/go\.sum `)
			svcMod := must("service go.mod/go.sum", `^COPY `+s.Name+`/go\.mod `+s.Name+`/go\.sum `)
			download := must("go mod download", `^RUN go mod download$`)
			src := must("service sources", `^COPY `+s.Name+`/ `)
			must("platform sources", `^COPY platform/ `)
			build := must("static, workspace-free, trimmed build",
				`^RUN CGO_ENABLED=0 GOWORK=off go build -trimpath +-ldflags "-s -w -X github\.com/parleychat/parley/`+s.Name+`/app\.Version=\$\{VERSION\}"`)
			final := must("scratch runtime", `^FROM scratch$`)
			must("CA certificates", `^COPY --from=build /etc/ssl/certs/ca-certificates\.crt `)
			must("/data owned by the runtime user", `^COPY --from=build --chown=10001:10001 \S+ /data$`)
			must("numeric non-root user", `^USER 10001:10001$`)
			must("PORT default", fmt.Sprintf(`^ENV PORT=%d `, s.Port))
			must("DATA_DIR default", `DATA_DIR=/data$`)
			must("EXPOSE", fmt.Sprintf(`^EXPOSE %d$`, s.Port))
			must("HEALTHCHECK", `^HEALTHCHECK .*CMD \["/app", "healthcheck"\]$`)
			must("ENTRYPOINT", `^ENTRYPOINT \["/app"\]$`)
			if !(from < modCopy && modCopy < download && svcMod < download && download < src && src < build && build < final) {
				t.Errorf("Dockerfile: order should be FROM, module files, go mod download, sources, build, FROM scratch (layer caching)")
			}
			if strings.Contains(string(data), "--mount=") || strings.Contains(string(data), "# syntax=") {
				t.Errorf("Dockerfile: keep to the classic syntax (the legacy builder and BuildKit both build it)")
			}
		})
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/*.db", "test-output", "docs", "k8s", "k8s-hostnetwork", "*/data"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}
