package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/webassets"
)

// TestWidgetRoutes checks that the browser code is mounted: the widget, its
// demo and the pages' script reach Deps.Widget through the middleware, with
// every method.
func TestWidgetRoutes(t *testing.T) {
	t.Parallel()
	h := httpapi.NewServer(httpapi.Deps{Widget: webassets.Handler(webassets.Options{DemoQueue: "q", DemoKey: "pk_x"})})
	for _, c := range []struct {
		method, path string
		status       int
		contentType  string
	}{
		{"GET", "/widget/slotline.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/assets/js/book.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/widget/demo", 200, "text/html; charset=utf-8"},
		{"HEAD", "/widget/slotline.js", 200, "text/javascript; charset=utf-8"},
		{"POST", "/widget/demo", 405, "text/plain; charset=utf-8"},
		{"GET", "/widget/other", 404, "text/plain; charset=utf-8"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || rec.Header().Get("Content-Type") != c.contentType {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), c.status, c.contentType)
		}
		if rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s %s: not through the middleware", c.method, c.path)
		}
	}

	// Without a Widget handler the paths are unknown.
	rec := httptest.NewRecorder()
	httpapi.NewServer(httpapi.Deps{}).ServeHTTP(rec, httptest.NewRequest("GET", "/widget/slotline.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("without Deps.Widget: %d, want 404", rec.Code)
	}
}
