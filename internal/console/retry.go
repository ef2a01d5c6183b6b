package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/slotline/slotline/internal/reservation"
)

// handleRetrySync is POST /console/reservations/{id}/retry-sync (a
// supervisor of the reservation's queue, or an admin): the failed Genesys
// sync of the reservation is tried again now (HealthDeps.RetrySync: the
// genesys_sync_retry job, audited as reservation.retry_sync by the
// operator). It redirects (303) to the form's back (a /console/ path) or
// else to the reservation's page, with retried=ID; a reservation whose
// sync cannot be tried again answers 409.
func (s *Server) handleRetrySync(w http.ResponseWriter, r *http.Request) {
	op, _ := OperatorFrom(r.Context())
	ctx := r.Context()
	id := r.PathValue("id")
	if s.health.Store == nil || s.health.RetrySync == nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	res, err := s.health.Store.FindReservationByID(ctx, id)
	switch {
	case reservation.ErrorCode(err) == reservation.ENOTFOUND:
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	case err != nil:
		s.unavailable(w, r, "find reservation", err)
		return
	case !s.queueExists(res.QueueID) || !op.CanSee(res.QueueID):
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	case !op.CanChange(res.QueueID):
		s.plain(w, r, http.StatusForbidden, "forbidden")
		return
	}
	err = s.health.RetrySync(ctx, id, reservation.Write{Actor: op.AuditActor(), Origin: reservation.OriginOperator,
		RequestID: w.Header().Get("X-Request-Id")})
	if reservation.ErrorCode(err) == reservation.EINVALID {
		s.plain(w, r, http.StatusConflict, "retry_refused")
		return
	}
	if s.actionFailed(w, r, "retry sync", err) {
		return
	}
	back := safeBack(r.FormValue("back"), "/console/reservations/"+url.PathEscape(id))
	http.Redirect(w, r, withQuery(back, "retried", id), http.StatusSeeOther)
}

// safeBack returns back when it is a path of the console (no scheme, no
// host, no way out of /console/), else def.
func safeBack(back, def string) string {
	u, err := url.Parse(back)
	if back == "" || err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || strings.ContainsAny(back, "\\\r\n") ||
		!strings.HasPrefix(back, "/console/") || strings.HasPrefix(back, "//") || strings.Contains(u.Path, "/..") {
		return def
	}
	return back
}

// withQuery adds the query parameter name=value to the path p (before
// any fragment).
func withQuery(p, name, value string) string {
	frag := ""
	if i := strings.IndexByte(p, '#'); i >= 0 {
		p, frag = p[:i], p[i:]
	}
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sep + url.QueryEscape(name) + "=" + url.QueryEscape(value) + frag
}

// actionFailed answers the error of an action, if any: ENOTFOUND is the
// 404 page, anything else the 503 page (logged). It reports whether it
// answered.
func (s *Server) actionFailed(w http.ResponseWriter, r *http.Request, what string, err error) bool {
	switch reservation.ErrorCode(err) {
	case "":
		return false
	case reservation.ENOTFOUND:
		s.plain(w, r, http.StatusNotFound, "notfound")
	default:
		s.unavailable(w, r, what, err)
	}
	return true
}
