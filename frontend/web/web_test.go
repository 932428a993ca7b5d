package web

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

var importRE = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)`)

func jsFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(FS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := fs.ReadFile(FS, p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("only %d modules embedded", len(files))
	}
	return files
}

// Every import is relative and names an embedded file, so the module graph
// loads entirely from the versioned asset directory (no bare specifiers, no
// CDN, no absolute paths that would escape the version).
func TestModuleGraphResolves(t *testing.T) {
	files := jsFiles(t)
	for p, src := range files {
		for _, m := range importRE.FindAllStringSubmatch(src, -1) {
			spec := m[1] + m[2] + m[3]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				t.Errorf("%s imports %q: only relative imports may be used", p, spec)
				continue
			}
			target := path.Join(path.Dir(p), spec)
			if _, ok := files[target]; !ok {
				t.Errorf("%s imports %q, which resolves to missing %s", p, spec, target)
			}
		}
	}
	index, err := fs.ReadFile(FS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(index), -1) {
		if _, err := fs.Stat(FS, strings.TrimPrefix(m[1], "/")); err != nil {
			t.Errorf("index.html references missing %s", m[1])
		}
	}
}

// The app must never turn strings into markup or code: user text goes in
// through textContent and DOM building only.
func TestNoHTMLOrCodeSinks(t *testing.T) {
	sinks := regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment|setAttribute\(\s*['"]style|srcdoc`)
	for p, src := range jsFiles(t) {
		for i, line := range strings.Split(src, "\n") {
			code := line
			if j := strings.Index(code, "//"); j >= 0 && !strings.Contains(code[:j], "'") {
				code = code[:j]
			}
			if sinks.MatchString(code) {
				t.Errorf("%s:%d uses an HTML or code sink: %s", p, i+1, strings.TrimSpace(line))
			}
		}
	}
	index, _ := fs.ReadFile(FS, "index.html")
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|\son[a-z]+=|style=`).Match(index) {
		t.Error("index.html has inline script, inline handlers or inline styles, which the CSP forbids")
	}
}
