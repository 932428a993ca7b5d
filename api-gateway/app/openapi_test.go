package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The API description is public and cacheable: a client reads it before it
// has a token, and revalidates it by its ETag.
func TestOpenAPIDocumentIsPublic(t *testing.T) {
	f := startFixture(t, nil)
	r := f.do(t, request{path: "/api/openapi.json"})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/openapi.json without a token = %d %s, want 200", r.StatusCode, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q", cc)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths["/api/openapi.json"] == nil {
		t.Errorf("document: openapi %q, %d paths, want 3.1.0 describing /api/openapi.json", doc.OpenAPI, len(doc.Paths))
	}

	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := f.do(t, request{path: "/api/openapi.json", header: map[string]string{"If-None-Match": etag}})
	if again.StatusCode != http.StatusNotModified || len(again.body) != 0 {
		t.Errorf("revalidation = %d with %d bytes, want 304 and no body", again.StatusCode, len(again.body))
	}
	stale := f.do(t, request{path: "/api/openapi.json", header: map[string]string{"If-None-Match": `"other"`}})
	if stale.StatusCode != http.StatusOK {
		t.Errorf("stale ETag = %d, want 200", stale.StatusCode)
	}
	// The document is not a way past the gate: a neighbour still needs a token.
	if r := f.do(t, request{path: "/api/openapi.json/x"}); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/openapi.json/x = %d, want 404", r.StatusCode)
	}
}
