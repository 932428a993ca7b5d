// Package web holds the single-page app: index.html and the ES modules,
// styles and icons under assets/. There is no build step; the files here are
// exactly what the browser runs.
package web

import "embed"

// FS is the app: index.html at the root, everything else under assets/.
//
//go:embed index.html assets
var FS embed.FS
