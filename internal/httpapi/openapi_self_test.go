package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testSelf drives the self-service routes through every documented
// answer: the create's manage_url and manage_token, the reservation and
// its queue's availability, a reschedule (refused when full and past the
// cutoff), the opt-out, the cancel (refused past the cutoff), unknown and
// expired links, and the per-token rate limit.
func testSelf(t *testing.T, b *specBundle) {
	var c struct {
		ID          string `json:"id"`
		ManageURL   string `json:"manage_url"`
		ManageToken string `json:"manage_token"`
	}
	b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, b.createBody(0, "concurrency_limit", 1)).decode(t, &c)
	if c.ManageToken == "" || c.ManageURL != "/manage/"+c.ManageToken {
		t.Fatalf("create: manage_url %q, manage_token %q; want the manage page's path", c.ManageURL, c.ManageToken)
	}
	link := "/api/v2/self/" + c.ManageToken
	b.create(t, 2) // holds bucket 2, full for a concurrency limit of 1

	b.do(t, http.StatusOK, "GET", link, "", nil)
	from := url.QueryEscape(b.bucket(0).Format(time.RFC3339))
	to := url.QueryEscape(b.bucket(8).Format(time.RFC3339))
	b.do(t, http.StatusOK, "GET", link+"/availability?from="+from+"&to="+to, "", nil)
	b.do(t, http.StatusBadRequest, "GET", link+"/availability?from=soon", "", nil)

	slot := func(i int) map[string]any {
		return map[string]any{"time_slot_matrix": []any{slotAt(b.bucket(i), 15*time.Minute, b.ny)}}
	}
	b.do(t, http.StatusBadRequest, "PATCH", link, "", map[string]any{"reason": "x"})
	if p := b.do(t, http.StatusConflict, "PATCH", link, "", slot(2)).problem(t); p.Code != "conflict" {
		t.Fatalf("full: %+v", p)
	}
	b.do(t, http.StatusOK, "PATCH", link, "", slot(1))
	b.do(t, http.StatusOK, "POST", link+"/opt-out", "", nil)

	// Within the cutoff (15 minutes before bucket 1).
	b.selfShift.Store(int64(time.Until(b.bucket(1).Add(-10 * time.Minute))))
	if p := b.do(t, http.StatusConflict, "PATCH", link, "", slot(3)).problem(t); p.Code != "change_not_allowed" {
		t.Fatalf("past the cutoff: %+v", p)
	}
	b.do(t, http.StatusConflict, "DELETE", link, "", nil)
	// Past the slot's end plus the link's hour.
	b.selfShift.Store(int64(time.Until(b.bucket(2).Add(time.Hour))))
	for _, r := range [][2]string{{"GET", ""}, {"GET", "/availability"}, {"DELETE", ""}, {"POST", "/opt-out"}} {
		b.do(t, http.StatusGone, r[0], link+r[1], "", nil)
	}
	b.do(t, http.StatusGone, "PATCH", link, "", slot(3))
	b.selfShift.Store(0)
	b.do(t, http.StatusOK, "DELETE", link, "", nil)

	unknown := "/api/v2/self/" + strings.Repeat("A", 43)
	for _, r := range [][2]string{{"GET", ""}, {"GET", "/availability"}, {"DELETE", ""}, {"POST", "/opt-out"}} {
		b.do(t, http.StatusNotFound, r[0], unknown+r[1], "", nil)
	}
	b.do(t, http.StatusNotFound, "PATCH", unknown, "", slot(3))
	// The per-token limit (a burst of 20): the unknown token has used 5.
	for range 15 {
		b.do(t, http.StatusNotFound, "GET", unknown, "", nil)
	}
	for _, r := range [][2]string{{"GET", ""}, {"GET", "/availability"}, {"DELETE", ""}, {"POST", "/opt-out"}} {
		b.do(t, http.StatusTooManyRequests, r[0], unknown+r[1], "", nil)
	}
	b.do(t, http.StatusTooManyRequests, "PATCH", unknown, "", slot(3))
}
