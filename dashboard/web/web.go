// Package web holds the dashboard's browser UI: plain HTML, CSS and
// JavaScript with no build step, embedded into dashboard-api.
//
// The UI signs in with a bearer token (kept in sessionStorage), reads the
// API with fetch and the Authorization header, and follows the live streams
// (funnel, alerts) by reading Server-Sent Events from fetch bodies, so the
// token never appears in a URL. Charts are small SVG drawings made in
// app.js: no third-party code.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS is the UI's files, rooted at index.html.
var FS, _ = fs.Sub(static, "static")
