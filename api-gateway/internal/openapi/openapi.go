// Package openapi holds the OpenAPI 3.1 description of Parley's REST API
// (openapi.yaml, the source people edit) and serves it as JSON.
package openapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"
)

//go:embed openapi.yaml
var source []byte

// Path is where the gateway serves the document.
const Path = "/api/openapi.json"

// YAML is the document as written.
func YAML() []byte { return source }

// JSON converts the document to JSON, keeping the order of its keys.
func JSON() ([]byte, error) {
	b, err := yaml.YAMLToJSON(source)
	if err != nil {
		return nil, fmt.Errorf("openapi: convert to JSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("openapi: compact JSON: %w", err)
	}
	return out.Bytes(), nil
}

// Handler answers GET with the JSON document, cacheable for five minutes
// and revalidated by its ETag (a deployment changes the document only with
// the binary, so a stale copy is at worst one rollout old).
func Handler() (gin.HandlerFunc, error) {
	doc, err := JSON()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Type", "application/json")
		if match := c.GetHeader("If-None-Match"); match != "" && match == etag {
			c.Status(http.StatusNotModified)
			return
		}
		c.Data(http.StatusOK, "application/json", doc)
	}, nil
}
