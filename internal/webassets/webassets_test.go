package webassets_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/slotline/slotline/internal/webassets"
)

// maxWidgetGzip is the widget's size budget, gzipped.
const maxWidgetGzip = 30 * 1024

func get(t testing.TB, h http.Handler, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t testing.TB, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEmbeddedIsBuildOutput checks that what the binary serves is the
// committed build output (the CI step rebuilds it from web/ and compares).
func TestEmbeddedIsBuildOutput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file string
		got  []byte
		want string // a mark of the source it was built from
	}{
		{"slotline.js", webassets.Widget(), `customElements.define("slotline-booking"`},
		{"book.js", webassets.BookScript(), `data-challenge-url`},
	} {
		onDisk, err := os.ReadFile(filepath.Join("dist", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.got, onDisk) {
			t.Errorf("%s: the embedded file differs from dist/%s", c.file, c.file)
		}
		if !bytes.Contains(c.got, []byte(c.want)) {
			t.Errorf("%s does not contain %q: not the build of web/src", c.file, c.want)
		}
		if bytes.Contains(c.got, []byte("sourceMappingURL")) {
			t.Errorf("%s points at a source map", c.file)
		}
	}
}

func TestWidgetSize(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(webassets.Widget()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("slotline.js: %d bytes, %d gzipped", len(webassets.Widget()), buf.Len())
	if buf.Len() > maxWidgetGzip {
		t.Errorf("slotline.js is %d bytes gzipped; the budget is %d", buf.Len(), maxWidgetGzip)
	}
}

func TestScripts(t *testing.T) {
	t.Parallel()
	h := webassets.Handler(webassets.Options{})
	for _, c := range []struct {
		path string
		want []byte
	}{
		{"/widget/slotline.js", webassets.Widget()},
		{"/assets/js/book.js", webassets.BookScript()},
	} {
		t.Run(c.path, func(t *testing.T) {
			t.Parallel()
			res := get(t, h, c.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			for k, want := range map[string]string{
				"Content-Type":           "text/javascript; charset=utf-8",
				"Cache-Control":          "public, max-age=300",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := body(t, res); !bytes.Equal(got, c.want) {
				t.Errorf("body is %d bytes, not the embedded %d", len(got), len(c.want))
			}
			etag := res.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
				t.Fatalf("ETag %q is not a strong entity tag", etag)
			}

			res = get(t, h, c.path, map[string]string{"If-None-Match": etag})
			if res.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match with the ETag: status %d, want 304", res.StatusCode)
			}
			if b := body(t, res); len(b) != 0 {
				t.Errorf("304 with a body of %d bytes", len(b))
			}
			res = get(t, h, c.path, map[string]string{"If-None-Match": `"other"`})
			if res.StatusCode != http.StatusOK {
				t.Errorf("If-None-Match with another tag: status %d, want 200", res.StatusCode)
			}
		})
	}
}

func TestWidgetETagsDiffer(t *testing.T) {
	t.Parallel()
	h := webassets.Handler(webassets.Options{})
	a := get(t, h, "/widget/slotline.js", nil).Header.Get("ETag")
	b := get(t, h, "/assets/js/book.js", nil).Header.Get("ETag")
	if a == b {
		t.Errorf("both scripts have the ETag %s", a)
	}
}

func TestWidgetCORS(t *testing.T) {
	t.Parallel()
	calls := 0
	h := webassets.Handler(webassets.Options{AllowedOrigins: func() []string {
		calls++
		return []string{"https://shop.example", "https://Other.example/"}
	}})
	for _, c := range []struct {
		name, origin, want string
	}{
		{"allowed", "https://shop.example", "https://shop.example"},
		{"allowed, configured with another case and a slash", "https://other.example", "https://other.example"},
		{"not listed", "https://evil.example", ""},
		{"listed origin's other port", "https://shop.example:8443", ""},
		{"no origin", "", ""},
	} {
		res := get(t, h, "/widget/slotline.js", map[string]string{"Origin": c.origin})
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != c.want {
			t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", c.name, got, c.want)
		}
		if got := res.Header.Get("Vary"); got != "Origin" {
			t.Errorf("%s: Vary = %q, want Origin", c.name, got)
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: credentials allowed", c.name)
		}
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", c.name, res.StatusCode)
		}
	}
	if calls == 0 {
		t.Error("AllowedOrigins was never asked")
	}

	// No origins configured: none allowed.
	res := get(t, webassets.Handler(webassets.Options{}), "/widget/slotline.js", map[string]string{"Origin": "https://shop.example"})
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("without AllowedOrigins: Access-Control-Allow-Origin = %q", got)
	}
	// book.js is for Slotline's own pages.
	res = get(t, webassets.Handler(webassets.Options{AllowedOrigins: func() []string { return []string{"https://shop.example"} }}),
		"/assets/js/book.js", map[string]string{"Origin": "https://shop.example"})
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("book.js: Access-Control-Allow-Origin = %q", got)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	h := webassets.Handler(webassets.Options{})
	for _, p := range []string{"/widget/", "/widget/other.js", "/assets/js/", "/assets/js/slotline.js", "/widget/slotline.js/x"} {
		if res := get(t, h, p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := webassets.Handler(webassets.Options{})
	for _, p := range []string{"/widget/slotline.js", "/widget/demo", "/assets/js/book.js"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(m, p, nil))
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q; want 405 and GET, HEAD", m, p, rec.Code, rec.Header().Get("Allow"))
			}
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/widget/nothing", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST /widget/nothing: %d, want 404", rec.Code)
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	h := webassets.Handler(webassets.Options{})
	req := httptest.NewRequest(http.MethodHead, "/widget/slotline.js", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: status %d with %d bytes", rec.Code, rec.Body.Len())
	}
	if rec.Header().Get("ETag") == "" {
		t.Error("HEAD: no ETag")
	}
}

// page is what the demo page's markup holds.
type page struct {
	lang     string
	h1       int
	scripts  []map[string]string
	elements []map[string]string
	inline   []string // inline scripts, style elements and style attributes
	text     string
}

func parse(t testing.TB, b []byte) page {
	t.Helper()
	var p page
	z := html.NewTokenizer(bytes.NewReader(b))
	inScript := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatal(z.Err())
			}
			return p
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				p.inline = append(p.inline, "script text")
			}
			p.text += string(z.Text())
		case html.EndTagToken:
			inScript = false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Key] = a.Val
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
					p.inline = append(p.inline, tok.Data+" "+a.Key)
				}
			}
			switch tok.Data {
			case "html":
				p.lang = attrs["lang"]
			case "h1":
				p.h1++
			case "style":
				p.inline = append(p.inline, "style element")
			case "script":
				inScript = true
				p.scripts = append(p.scripts, attrs)
			case "slotline-booking":
				p.elements = append(p.elements, attrs)
			}
		}
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := webassets.Handler(webassets.Options{DemoKey: "pk_demo_123", DemoQueue: "support"})
		res := get(t, h, "/widget/demo", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") == "" {
			t.Errorf("headers %v", res.Header)
		}
		p := parse(t, body(t, res))
		if p.lang != "en" || p.h1 != 1 {
			t.Errorf("lang %q and %d h1, want en and 1", p.lang, p.h1)
		}
		if len(p.inline) > 0 {
			t.Errorf("inline code or style: %v", p.inline)
		}
		if len(p.scripts) != 1 || p.scripts[0]["type"] != "module" || p.scripts[0]["src"] != "/widget/slotline.js" {
			t.Errorf("scripts %v, want the widget as a module", p.scripts)
		}
		if len(p.elements) != 1 || p.elements[0]["queue"] != "support" || p.elements[0]["key"] != "pk_demo_123" {
			t.Fatalf("widget elements %v", p.elements)
		}
		if _, ok := p.elements[0]["locale"]; ok {
			t.Errorf("locale set without ?locale=: %v", p.elements[0])
		}
		if !strings.Contains(p.text, "include this server's own origin, http://example.com.") {
			t.Errorf("the page does not name the origin the key must list:\n%s", p.text)
		}
		if !strings.Contains(p.text, `src="http://example.com/widget/slotline.js"`) {
			t.Errorf("the embed snippet does not name the script's URL:\n%s", p.text)
		}
	})
	t.Run("Locale", func(t *testing.T) {
		t.Parallel()
		h := webassets.Handler(webassets.Options{DemoKey: "pk_demo_123", DemoQueue: "support"})
		for q, want := range map[string]string{"de": "de", "es": "es", "xx": "", "<b>": ""} {
			p := parse(t, body(t, get(t, h, "/widget/demo?locale="+q, nil)))
			if len(p.elements) != 1 || p.elements[0]["locale"] != want {
				t.Errorf("?locale=%s: elements %v, want locale %q", q, p.elements, want)
			}
		}
	})
	t.Run("Escaped", func(t *testing.T) {
		t.Parallel()
		h := webassets.Handler(webassets.Options{DemoKey: `pk_"><script>x()</script>`, DemoQueue: "q"})
		p := parse(t, body(t, get(t, h, "/widget/demo", nil)))
		if len(p.scripts) != 1 || len(p.elements) != 1 || p.elements[0]["key"] != `pk_"><script>x()</script>` {
			t.Errorf("scripts %v, elements %v", p.scripts, p.elements)
		}
	})
	t.Run("NoKey", func(t *testing.T) {
		t.Parallel()
		h := webassets.Handler(webassets.Options{DemoQueue: "support"})
		res := get(t, h, "/widget/demo", nil)
		p := parse(t, body(t, res))
		if res.StatusCode != http.StatusOK || len(p.elements) != 0 {
			t.Errorf("status %d, elements %v", res.StatusCode, p.elements)
		}
		if !strings.Contains(p.text, "publishable_keys:") {
			t.Errorf("the page does not say how to configure a key:\n%s", p.text)
		}
	})
	t.Run("CSS", func(t *testing.T) {
		t.Parallel()
		res := get(t, webassets.Handler(webassets.Options{}), "/widget/demo.css", nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		// The embed snippet wraps: a <pre> that scrolled would be a
		// region the keyboard cannot reach (axe scrollable-region-focusable).
		css := string(body(t, res))
		if !regexp.MustCompile(`pre \{[^}]*white-space: pre-wrap;[^}]*overflow-wrap: anywhere`).MatchString(css) {
			t.Errorf("demo.css does not wrap the snippet's <pre>:\n%s", css)
		}
	})
}

// TestWidgetStrings checks the widget.* strings of the message catalogs:
// every language has every key of English with the same placeholders, and
// the embedded widget holds them (it was built from these catalogs).
func TestWidgetStrings(t *testing.T) {
	t.Parallel()
	read := func(lang string) map[string]string {
		b, err := os.ReadFile(filepath.Join("..", "web", "i18n", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var all map[string]string
		if err := json.Unmarshal(b, &all); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		out := map[string]string{}
		for k, v := range all {
			if strings.HasPrefix(k, "widget.") {
				out[k] = v
			}
		}
		return out
	}
	placeholders := regexp.MustCompile(`\{[a-z_]+\}`)
	en := read("en")
	if len(en) < 20 {
		t.Fatalf("en.json has only %d widget.* strings", len(en))
	}
	widget := webassets.Widget()
	for _, lang := range []string{"en", "de", "fr", "es"} {
		cat := read(lang)
		for k, want := range en {
			got, ok := cat[k]
			if !ok || got == "" {
				t.Errorf("%s.json: %s is missing", lang, k)
				continue
			}
			if g, w := placeholders.FindAllString(got, -1), placeholders.FindAllString(want, -1); strings.Join(g, ",") != strings.Join(w, ",") {
				t.Errorf("%s.json: %s has placeholders %v, English %v", lang, k, g, w)
			}
			if !bytes.Contains(widget, []byte(got)) {
				t.Errorf("the embedded widget lacks %s.json's %s (%q): rebuild it (cd web && npm run build)", lang, k, got)
			}
		}
		for k := range cat {
			if _, ok := en[k]; !ok {
				t.Errorf("%s.json: %s is not in en.json", lang, k)
			}
		}
	}
}
