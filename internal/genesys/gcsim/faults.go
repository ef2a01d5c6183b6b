package gcsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault scripts the failure of upcoming requests. A request matches when its
// method equals Method (empty: any) and its path starts with PathPrefix
// (empty: any path but the admin API). Faults apply to the login, API and
// notification socket routes, after authentication. A fault with a Status
// (and no LoseResponse) is a refusal: it is answered before the rate limit
// and does not use it, as a request refused is not one served; the others
// apply after the rate limit.
type Fault struct {
	// Method and PathPrefix select the requests.
	Method, PathPrefix string
	// Status is the error status to answer (e.g. 429, 503); 0 lets the
	// request through (after Latency).
	Status int
	// RetryAfter sets the Retry-After header (whole seconds, rounded up; a
	// 429 always has one, at least 1 s).
	RetryAfter time.Duration
	// Count is how many matching requests fail (default 1).
	Count int
	// Latency delays the matching requests before anything else happens.
	Latency time.Duration
	// LoseResponse commits the request (the handler runs to completion) and
	// then drops the connection without answering, as when a response is
	// lost on the way back.
	LoseResponse bool
}

func (f Fault) matches(r *http.Request) bool {
	return (f.Method == "" || strings.EqualFold(f.Method, r.Method)) && strings.HasPrefix(r.URL.Path, f.PathPrefix)
}

// FailNext scripts a fault for the next f.Count matching requests. Faults
// are consumed in the order they were scripted; one request takes at most one.
func (s *Sim) FailNext(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// SetFailureRate makes API calls (not login, not sockets) fail at random
// with status at the given rate (0 to 1; 0 turns it off). retryAfter sets
// the Retry-After header (429s always get one). Like any refusal, a random
// failure does not use the rate limit's allowance.
func (s *Sim) SetFailureRate(status int, rate float64, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failRate, s.failRetryAfter = status, rate, retryAfter
}

// SetRefusalsUseAllowance makes refusals (a fault with a status, or a
// random failure) count against the rate limit, as a Genesys that counts
// every request it answers would; by default they do not.
func (s *Sim) SetRefusalsUseAllowance(charge bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chargeRefusals = charge
}

// takeFault returns the fault to apply to r, if any. It is called twice:
// with refusals true before the rate limit, taking the first scripted fault
// matching r if it is a refusal, or else a random failure; then, for a
// request the rate limit let through, with refusals false, taking the first
// matching scripted fault if it is not one. Faults keep their order.
func (s *Sim) takeFault(r *http.Request, kind routeKind, refusals bool) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := s.faults[i]
		if !f.matches(r) {
			continue
		}
		if f.refusal() != refusals {
			return Fault{}, false
		}
		s.faults[i].Count--
		if s.faults[i].Count <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		s.stats.faults++
		return f, true
	}
	if refusals && kind == routeAPI && s.failStatus != 0 && s.failRate > 0 && s.rng.Float64() < s.failRate {
		s.stats.faults++
		return Fault{Status: s.failStatus, RetryAfter: s.failRetryAfter}, true
	}
	if !refusals && kind == routeAPI && s.loseRate > 0 &&
		(Fault{Method: s.loseMethod, PathPrefix: s.losePathPrefix}).matches(r) && s.rng.Float64() < s.loseRate {
		s.stats.faults++
		return Fault{LoseResponse: true}, true
	}
	return Fault{}, false
}

// SetLostResponseRate makes API calls matching method and pathPrefix (as
// in Fault; "" matches any) have their answer lost at the given rate (0 to
// 1; 0 turns it off): each is served in full, then its connection is
// dropped without an answer (Fault.LoseResponse). Scripted faults come
// first.
func (s *Sim) SetLostResponseRate(method, pathPrefix string, rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseMethod, s.losePathPrefix, s.loseRate = method, pathPrefix, rate
}

// refusal reports whether f answers an error status without serving the
// request.
func (f Fault) refusal() bool { return f.Status != 0 && !f.LoseResponse }

// serveWithFault runs h, unless the fault f (when faulted) says otherwise.
func (s *Sim) serveWithFault(w *statusWriter, r *http.Request, h http.HandlerFunc, f Fault, faulted bool) {
	if !faulted {
		h(w, r)
		return
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
	switch {
	case f.LoseResponse:
		s.loseResponse(w, r, h)
	case f.Status != 0:
		s.logger.Debug("gcsim: injected fault", "path", r.URL.Path, "status", f.Status)
		writeFault(w, f.Status, f.RetryAfter)
	default:
		h(w, r)
	}
}

// loseResponse runs h into a buffer, so that its write commits, then closes
// the connection without answering.
func (s *Sim) loseResponse(w *statusWriter, r *http.Request, h http.HandlerFunc) {
	buf := &discardWriter{header: make(http.Header)}
	h(buf, r)
	w.status = buf.status
	s.mu.Lock()
	s.stats.lost++
	s.mu.Unlock()
	s.logger.Debug("gcsim: losing response", "path", r.URL.Path, "status", buf.status)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hijack; aborting the handler resets the stream,
		// which is what the client must see.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// writeFault answers an injected error as Genesys would: ErrorBody, and for
// 429 the normalized body and a Retry-After header.
func writeFault(w http.ResponseWriter, status int, retryAfter time.Duration) {
	if status == http.StatusTooManyRequests {
		secs := retryAfterSeconds(retryAfter)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, status, "too.many.requests.retry.after",
			fmt.Sprintf("Rate limit exceeded the maximum. Retry the request in [%d] seconds", secs))
		return
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(retryAfter)))
	}
	code, msg := faultCode(status)
	writeError(w, status, code, msg)
}

func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// faultCode returns the ErrorBody code and message for an injected status.
func faultCode(status int) (code, message string) {
	switch status {
	case http.StatusInternalServerError:
		return "internal.server.error", "The server encountered an unexpected condition which prevented it from fulfilling the request."
	case http.StatusBadGateway:
		return "bad.gateway", "The server received an invalid response from an upstream server."
	case http.StatusServiceUnavailable:
		return "service.unavailable", "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance)."
	case http.StatusGatewayTimeout:
		return "gateway.timeout", "The request timed out."
	case http.StatusBadRequest:
		return "bad.request", "The request could not be understood by the server due to malformed syntax."
	case http.StatusUnauthorized:
		return "bad.credentials", "Invalid login credentials."
	case http.StatusForbidden:
		return "missing.permissions", "Unable to perform the requested action. You are missing the following permission(s)."
	case http.StatusNotFound:
		return "not.found", "The requested resource was not found."
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Error"
	}
	return strings.ToLower(strings.ReplaceAll(text, " ", ".")), text
}
