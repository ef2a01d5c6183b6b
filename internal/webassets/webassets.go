// SPDX-License-Identifier: Apache-2.0

// Package webassets serves Slotline's browser code: the booking widget
// (GET /widget/slotline.js, the <slotline-booking> web component), the
// enhancement script of the booking pages (GET /assets/js/book.js) and a
// demo page for the widget (GET /widget/demo).
//
// The scripts are built from the sources in web/ by `npm run build` and
// committed in dist/, which is embedded: the server needs no Node at run
// time. CI builds them again and fails when the result differs.
package webassets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

//go:embed demo.html demo.css
var demoFiles embed.FS

// Cache-Control of the scripts: short, so a new release reaches the
// embedding sites within minutes; the ETag makes the revalidation cheap.
const scriptCacheControl = "public, max-age=300"

// demoCSP lets the demo page load its own script, style and API only.
const demoCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options configure the handler.
type Options struct {
	// AllowedOrigins returns the origins that may load the widget from
	// another site (the publishable keys' origins); it is called on each
	// request, so a changed key set applies at once. Nil allows none: the
	// widget then loads only on Slotline's own pages.
	AllowedOrigins func() []string
	// DemoKey is the publishable key (pk_…) the demo page embeds the
	// widget with; empty: the page says how to configure one.
	DemoKey string
	// DemoQueue is the queue the demo page books on.
	DemoQueue string
}

// asset is one embedded file ready to serve.
type asset struct {
	body        []byte
	etag        string
	contentType string
}

// load reads an embedded file. The files are embedded by name, so a
// missing one fails the build: the read cannot fail at run time.
func load(fsys fs.FS, name, contentType string) asset {
	b, _ := fs.ReadFile(fsys, name)
	sum := sha256.Sum256(b)
	return asset{body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: contentType}
}

// Widget returns the widget's script as embedded (the build output).
func Widget() []byte {
	b, _ := fs.ReadFile(dist, "dist/slotline.js")
	return b
}

// BookScript returns the booking pages' enhancement script as embedded.
func BookScript() []byte {
	b, _ := fs.ReadFile(dist, "dist/book.js")
	return b
}

// ConsoleScript returns the console page script name ("capacity.js", …;
// built from web/src/console/) as embedded, and whether there is one.
func ConsoleScript(name string) ([]byte, bool) {
	if !strings.HasSuffix(name, ".js") || strings.ContainsAny(name, "/\\") {
		return nil, false
	}
	b, err := fs.ReadFile(dist, "dist/console/"+name)
	return b, err == nil
}

type handler struct {
	opts   Options
	widget asset
	book   asset
	css    asset
	demo   *template.Template
	// demoErr is the template's parse error (none: the tests parse it).
	demoErr error
	mux     *http.ServeMux
}

// Handler serves GET (and HEAD) /widget/slotline.js, /widget/demo,
// /widget/demo.css and /assets/js/book.js; another method on them is a
// plain 405, any other path a plain 404.
func Handler(opts Options) http.Handler {
	js := "text/javascript; charset=utf-8"
	h := &handler{
		opts:   opts,
		widget: load(dist, "dist/slotline.js", js),
		book:   load(dist, "dist/book.js", js),
		css:    load(demoFiles, "demo.css", "text/css; charset=utf-8"),
		mux:    http.NewServeMux(),
	}
	h.demo, h.demoErr = template.ParseFS(demoFiles, "demo.html")
	h.mux.HandleFunc("GET /widget/slotline.js", h.serveWidget)
	h.mux.HandleFunc("GET /assets/js/book.js", func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, h.book) })
	h.mux.HandleFunc("GET /widget/demo.css", func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, h.css) })
	h.mux.HandleFunc("GET /widget/demo", h.serveDemo)
	h.mux.HandleFunc("/", notFound)
	return h.mux
}

// notFound answers a path the handler does not serve with 404 and, on
// those it serves, another method with 405 (ServeMux's answer to a path
// of another method is shadowed by the catch-all).
func notFound(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/widget/slotline.js", "/widget/demo", "/widget/demo.css", "/assets/js/book.js":
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

// serve writes a, answering conditional requests (If-None-Match) with 304.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, a asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", scriptCacheControl)
	hd.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// serveWidget serves the widget, with CORS for the allowed origins: a
// site loads it as a module script, which the browser fetches in CORS
// mode.
func (h *handler) serveWidget(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" && h.allowed(origin) {
		hd.Set("Access-Control-Allow-Origin", origin)
	}
	h.serve(w, r, h.widget)
}

func (h *handler) allowed(origin string) bool {
	if h.opts.AllowedOrigins == nil {
		return false
	}
	for _, o := range h.opts.AllowedOrigins() {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// demoData is what demo.html shows.
type demoData struct {
	Key, Queue string
	// Locale is the widget's locale attribute (?locale=, one of the
	// shipped languages; empty: the browser's language).
	Locale string
	// Origin is this server's origin as the browser sees it, and Script
	// the widget's absolute URL, for the embed snippet.
	Origin, Script string
}

var demoLocales = map[string]bool{"en": true, "de": true, "fr": true, "es": true}

// serveDemo serves the demo page: the widget on the demo queue with the
// demo key, and the snippet that embeds it elsewhere.
func (h *handler) serveDemo(w http.ResponseWriter, r *http.Request) {
	if h.demoErr != nil {
		http.Error(w, "the demo page could not be rendered", http.StatusInternalServerError)
		return
	}
	d := demoData{Key: h.opts.DemoKey, Queue: h.opts.DemoQueue}
	if l := r.URL.Query().Get("locale"); demoLocales[l] {
		d.Locale = l
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	d.Origin = scheme + "://" + r.Host
	d.Script = d.Origin + "/widget/slotline.js"
	var buf bytes.Buffer
	if err := h.demo.Execute(&buf, d); err != nil {
		http.Error(w, "the demo page could not be rendered", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", demoCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	_, _ = w.Write(buf.Bytes())
}
