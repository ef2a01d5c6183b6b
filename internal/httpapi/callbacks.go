package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
)

// readJSON checks the content type and reads a body of at most MaxBodyBytes.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, reservation.Errorf(reservation.EUNSUPPORTEDTYPE, "Content-Type must be application/json (got %q)", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, reservation.Errorf(reservation.ETOOLARGE, "the body is over %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, reservation.Errorf(reservation.EINVALID, "the body could not be read")
	}
	return body, nil
}

// caller returns who is calling, with the Idempotency-Key header.
func caller(r *http.Request) (booking.Caller, error) {
	ri := info(r)
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		return booking.Caller{}, reservation.FieldError("Idempotency-Key", "must be at most 255 characters")
	}
	if !reservation.ValidText(key) {
		return booking.Caller{}, reservation.FieldError("Idempotency-Key", "must be valid UTF-8 without NUL characters")
	}
	c := booking.Caller{ClientID: ri.principal.ClientID, All: ri.principal.Has(auth.ScopeCallbackAdmin), RequestID: ri.id, IdempotencyKey: key}
	if ri.key != nil {
		c.Origin = reservation.OriginWidget
	}
	return c, nil
}

// reader returns who is reading: the calling client, reaching every
// client's reservations only with callback:admin.
func reader(r *http.Request) booking.Caller {
	p := info(r).principal
	return booking.Caller{ClientID: p.ClientID, All: p.Has(auth.ScopeCallbackAdmin), RequestID: info(r).id}
}

// etagVersions parses an If-Match or If-None-Match value: a list of ETags
// ("3", W/"3" or a bare 3) or *. It returns nil for * or an empty header.
func etagVersions(h, header string) ([]int, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return nil, nil
	}
	var out []int
	for _, tag := range strings.Split(h, ",") {
		v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, reservation.FieldError(header, "must be the reservation's ETag, like \"3\"")
		}
		out = append(out, n)
	}
	return out, nil
}

// ifMatch returns the versions If-Match accepts; nil means any.
func ifMatch(r *http.Request) ([]int, error) {
	return etagVersions(r.Header.Get("If-Match"), "If-Match")
}

// writeReservation writes a reservation with its ETag.
func writeReservation(w http.ResponseWriter, status int, res *booking.Result) {
	w.Header().Set("ETag", res.Reservation.ETag())
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if res.DuplicateOf != "" {
		w.Header().Set("Slotline-Duplicate-Of", res.DuplicateOf)
	}
	writeJSON(w, status, res.Reservation)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	req, err := reservation.DecodeCreate(body)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	info(r).target = req.QueueID
	c, err := caller(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if info(r).key != nil {
		if err := s.checkKeyCreate(r, req.QueueID); err != nil {
			s.problem(w, r, err)
			return
		}
	}
	res, err := s.Booking.Create(r.Context(), c, req)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if info(r).key != nil {
		res = keyResult(res)
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/api/v2/callbacks/"+res.Reservation.ID)
	s.writeCreated(w, r, status, res)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutSuffix(r.PathValue("id"), ".ics"); ok {
		s.handleReservationICS(w, r, id)
		return
	}
	res, err := s.Booking.Find(r.Context(), reader(r), r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		versions, err := etagVersions(inm, "If-None-Match")
		if err != nil {
			s.problem(w, r, err)
			return
		}
		if versions == nil || slices.Contains(versions, res.Version) {
			w.Header().Set("ETag", res.ETag())
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	writeReservation(w, http.StatusOK, &booking.Result{Reservation: res})
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	req, err := reservation.DecodeUpdate(body)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	c, err := caller(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	res, err := s.Booking.Update(r.Context(), c, r.PathValue("id"), version, req)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeReservation(w, http.StatusOK, res)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	c, err := caller(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	res, err := s.Booking.Cancel(r.Context(), c, r.PathValue("id"), version)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeReservation(w, http.StatusOK, res)
}

// queryTime parses an instant query parameter: RFC 3339 with an offset (of
// at most ±14:00), or a date (YYYY-MM-DD) meaning local midnight in loc.
// ok is false when the parameter is absent; any instant given is one, the
// zero time (0001-01-01T00:00:00Z) too.
func queryTime(q url.Values, name string, loc *time.Location) (t time.Time, ok bool, err error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		if msg := reservation.OffsetProblem(v); msg != "" {
			return time.Time{}, false, reservation.FieldError(name, msg)
		}
		return t, true, nil
	}
	if loc != nil {
		if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
			return d, true, nil
		}
	}
	return time.Time{}, false, reservation.FieldError(name, "must be an RFC 3339 date-time with an offset (or a date YYYY-MM-DD)")
}

// filterBound returns t as a bound of reservation.Filter, which reads the
// zero time as no bound. The zero instant itself, 0001-01-01T00:00:00Z, is
// a bound a client may give (to=0001-01-01T00:00:00Z selects nothing): it
// becomes the nanosecond after, the same instant at the database's
// precision (microseconds).
func filterBound(t time.Time) time.Time {
	if t.IsZero() {
		return t.Add(time.Nanosecond)
	}
	return t
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	f := reservation.Filter{QueueID: q.Get("queue_id"), CallbackNumber: q.Get("callback_number"), Cursor: q.Get("cursor")}
	if strings.HasPrefix(f.CallbackNumber, " ") {
		// An unencoded "+" in a query string arrives as a space.
		f.CallbackNumber = "+" + f.CallbackNumber[1:]
	}
	if f.QueueID == "" {
		f.QueueID = q.Get("queue")
	}
	var loc *time.Location
	if f.QueueID != "" {
		if qu, err := s.Booking.Queue(f.QueueID); err == nil {
			loc = qu.Calendar.Location
		}
	}
	if st := q.Get("status"); st != "" {
		ok := false
		for _, v := range reservation.Statuses {
			ok = ok || string(v) == st
		}
		if !ok {
			s.problem(w, r, reservation.FieldError("status", "must be one of scheduled, in_progress, completed, missed, canceled, failed"))
			return
		}
		f.Status = reservation.Status(st)
	}
	for _, b := range []struct {
		name  string
		bound *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		t, ok, err := queryTime(q, b.name, loc)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		if ok {
			*b.bound = filterBound(t)
		}
	}
	if l := q.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit < 1 || f.Limit > 500 {
			s.problem(w, r, reservation.FieldError("limit", "must be from 1 to 500"))
			return
		}
	}
	c := reader(r)
	if id := q.Get("client_id"); id != "" {
		if !c.All && id != c.ClientID {
			w.Header().Set("WWW-Authenticate", `Bearer realm="slotline", error="insufficient_scope", scope="`+auth.ScopeCallbackAdmin+`"`)
			s.problem(w, r, reservation.Errorf(reservation.EFORBIDDEN, "listing another client's reservations needs the %s scope", auth.ScopeCallbackAdmin))
			return
		}
		f.ClientID = id
	}
	items, next, err := s.Booking.List(r.Context(), c, f)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if items == nil {
		items = []*reservation.Reservation{}
	}
	out := map[string]any{"items": items}
	if next != "" {
		out["next_cursor"] = next
		nq := r.URL.Query()
		nq.Set("cursor", next)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+nq.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}
