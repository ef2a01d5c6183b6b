package genesys

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/slotline/slotline/internal/backoff"
)

// Defaults applied by New to zero Config fields.
const (
	// DocumentedLimitPerMinute is Genesys Cloud's documented Platform API
	// limit, in requests per minute per client-credentials token
	// (client.credentials.token.rate.per.minute; whether a ceiling per
	// OAuth client exists too is UNCONFIRMED). Resources may allow less:
	// their inin-ratelimit-allowed lowers the budget (Budget.Allow).
	DocumentedLimitPerMinute = 300
	// DefaultRateLimit is Genesys' documented limit, 300 requests per
	// minute, in requests per second. The budget keeps every 60 s at or
	// under it, so it sustains 295 a minute with DefaultBurst (BudgetRate).
	DefaultRateLimit = DocumentedLimitPerMinute / 60.0
	// DefaultBurst is the token bucket's default size.
	DefaultBurst = 5
	// DefaultMaxRetryAfter is the longest Retry-After the client waits out;
	// the official Go SDK gives up above the same 180 s.
	DefaultMaxRetryAfter = 180 * time.Second
	// DefaultCallTimeout bounds each attempt.
	DefaultCallTimeout = 15 * time.Second
	// DefaultMaxAttempts is the number of attempts per call, the first
	// included.
	DefaultMaxAttempts = 6
)

const (
	// tokenEarlyExpiry is how long before its expiry a token is replaced.
	tokenEarlyExpiry = 30 * time.Second
	// defaultBackoffBase and defaultBackoffCap bound the full-jitter
	// backoff: attempt n sleeps a uniform time in [0, min(cap, base·2ⁿ⁻¹)].
	defaultBackoffBase = 500 * time.Millisecond
	defaultBackoffCap  = 30 * time.Second
	// maxResponseBody bounds a 2xx body (an analytics page of 100
	// conversations with their segments stays far below it).
	maxResponseBody = 16 << 20
	// maxErrorBody bounds the part of an error body that is read.
	maxErrorBody = 64 << 10
)

// Retry reasons passed to Observer.Retry.
const (
	reason429     = "429"
	reason5xx     = "5xx"
	reasonNetwork = "network"
	reason401     = "401"
)

// Config configures a Client. Set exactly one of Region or both APIURL and
// LoginURL. Zero fields take the documented defaults.
type Config struct {
	// Region is a Genesys Cloud region domain ("mypurecloud.com",
	// "usw2.pure.cloud", "mypurecloud.ie", …) or AWS region name
	// ("us-east-1", "eu-west-1", …); see RegionURLs.
	Region string
	// APIURL is the API base URL, e.g. https://api.mypurecloud.com or a
	// simulator's base URL.
	APIURL string
	// LoginURL is the OAuth base URL, e.g. https://login.mypurecloud.com;
	// tokens come from LoginURL + "/oauth/token".
	LoginURL string
	// ClientID and ClientSecret are the OAuth client-credentials pair.
	// Neither is ever logged.
	ClientID     string
	ClientSecret string
	// RateLimit is the client-side limit in requests per second (default
	// DefaultRateLimit, 300 per minute): at most RateLimit × 60 calls in
	// any 60 s (see BudgetRate). Calls Genesys refuses with 503 give their
	// token back, up to RefusedShare of it. Ignored when Budget is set.
	RateLimit float64
	// Burst is the token bucket size (default DefaultBurst). Ignored when
	// Budget is set.
	Burst int
	// Budget is the rate limit the calls draw from (default: NewBucket with
	// RateLimit, Burst and Observer, this process's own). A deployment of
	// several processes gives each the same NewSharedBudget.
	Budget Budget
	// MaxRetryAfter: a 429 (or 5xx) whose Retry-After exceeds it is
	// returned instead of waited out (default DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// CallTimeout bounds each attempt, the response body included (default
	// DefaultCallTimeout). It also bounds each token request.
	CallTimeout time.Duration
	// MaxAttempts is the number of attempts per call, the first included
	// (default DefaultMaxAttempts).
	MaxAttempts int
	// BackoffBase is the first backoff step after a 5xx or network error
	// (default 500 ms; doubled per attempt with full jitter, capped at 30 s).
	BackoffBase time.Duration
	// HTTPClient sends the API and token requests (default: a client with
	// dial, TLS and idle timeouts). Its Timeout, if any, should exceed
	// CallTimeout.
	HTTPClient *http.Client
	// Logger receives one Warn record per failed attempt that is retried
	// (default: discard).
	Logger *slog.Logger
	// Observer receives metrics hooks (default: none).
	Observer Observer
}

// Observer receives the client's metrics hooks. Implementations must be
// safe for concurrent use and must not block.
type Observer interface {
	// Call reports one attempt of operation op (e.g. "create_callback")
	// with its HTTP status (0 for a transport error) and latency.
	Call(op string, status int, d time.Duration)
	// Retry reports that op will be attempted again, for reason "429",
	// "5xx", "network" or "401".
	Retry(op, reason string)
	// TokenRefresh reports that a new OAuth token was fetched.
	TokenRefresh()
	// RateLimit reports the inin-ratelimit-* headers of a response:
	// Genesys' allowance (calls per minute), the calls it has counted, and
	// the time until that count resets.
	RateLimit(allowed, count int, reset time.Duration)
	// Paused reports that a budget stopped all calls for d, for reason
	// PauseRetryAfter, PauseCount or PauseDeployment.
	Paused(reason string, d time.Duration)
	// BudgetRate reports the limit, in calls per minute, a budget now holds
	// the calls to: the configured one, or Genesys' allowance when lower.
	BudgetRate(perMinute float64)
}

type nopObserver struct{}

func (nopObserver) Call(string, int, time.Duration)   {}
func (nopObserver) Retry(string, string)              {}
func (nopObserver) TokenRefresh()                     {}
func (nopObserver) RateLimit(int, int, time.Duration) {}
func (nopObserver) Paused(string, time.Duration)      {}
func (nopObserver) BudgetRate(float64)                {}

// Client calls the Genesys Cloud Platform API. It is safe for concurrent
// use.
type Client struct {
	apiURL     string
	loginURL   string
	httpClient *http.Client
	tokens     *tokenCache
	budget     Budget
	sent       minuteCount // calls sent, for BudgetStatus
	log        *slog.Logger
	obs        Observer

	maxRetryAfter time.Duration
	callTimeout   time.Duration
	maxAttempts   int

	// backoffBase and backoffCap are fields so that tests can shrink them.
	backoffBase time.Duration
	backoffCap  time.Duration
}

// New validates cfg, applies its defaults and returns a Client. It makes no
// network call; the first token is fetched by the first API call.
func New(cfg Config) (*Client, error) {
	apiURL, loginURL := cfg.APIURL, cfg.LoginURL
	switch {
	case cfg.Region != "" && (apiURL != "" || loginURL != ""):
		return nil, errors.New("genesys config: set either region or api_url and login_url, not both")
	case cfg.Region != "":
		var err error
		if apiURL, loginURL, err = RegionURLs(cfg.Region); err != nil {
			return nil, fmt.Errorf("genesys config: %w", err)
		}
	case apiURL == "" || loginURL == "":
		return nil, errors.New("genesys config: set region, or both api_url and login_url")
	}
	var err error
	if apiURL, err = baseURL("api_url", apiURL); err != nil {
		return nil, err
	}
	if loginURL, err = baseURL("login_url", loginURL); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("genesys config: client id and client secret are required")
	}
	if cfg.RateLimit < 0 || cfg.Burst < 0 || cfg.MaxRetryAfter < 0 || cfg.CallTimeout < 0 || cfg.MaxAttempts < 0 {
		return nil, errors.New("genesys config: rate limit, burst, max retry after, call timeout and max attempts must not be negative")
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Budget == nil {
		cfg.Budget = NewBucket(BucketConfig{RateLimit: cfg.RateLimit, Burst: cfg.Burst, Observer: cfg.Observer})
	}

	// The token request goes through the same transport, bounded by
	// CallTimeout: oauth2 token sources take no per-call context.
	tokenHTTP := &http.Client{Transport: cfg.HTTPClient.Transport, Timeout: cfg.CallTimeout}
	f := &tokenFetcher{
		cfg: &clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     loginURL + "/oauth/token",
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		ctx: context.WithValue(context.Background(), oauth2.HTTPClient, tokenHTTP),
		obs: cfg.Observer,
	}
	return &Client{
		apiURL:        apiURL,
		loginURL:      loginURL,
		httpClient:    cfg.HTTPClient,
		tokens:        newTokenCache(f),
		budget:        cfg.Budget,
		log:           cfg.Logger,
		obs:           cfg.Observer,
		maxRetryAfter: cfg.MaxRetryAfter,
		callTimeout:   cfg.CallTimeout,
		maxAttempts:   cfg.MaxAttempts,
		backoffBase:   cmp.Or(cfg.BackoffBase, defaultBackoffBase),
		backoffCap:    defaultBackoffCap,
	}, nil
}

// APIURL returns the API base URL the client calls.
func (c *Client) APIURL() string { return c.apiURL }

// baseURL checks an http(s) base URL and drops a trailing slash.
func baseURL(name, s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("genesys config: %s %q is not an http(s) URL", name, s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// defaultHTTPClient returns a client whose transport bounds dialing, TLS
// handshakes and idle connections; CallTimeout bounds the rest.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 16
	t.ExpectContinueTimeout = time.Second
	return &http.Client{Transport: t}
}

// tokenFetcher fetches a new client-credentials token on every call; the
// tokenCache reuses it until 30 s before it expires.
type tokenFetcher struct {
	cfg *clientcredentials.Config
	ctx context.Context
	obs Observer
}

// Token implements oauth2.TokenSource.
func (f *tokenFetcher) Token() (*oauth2.Token, error) {
	t, err := f.cfg.Token(f.ctx)
	if err != nil {
		return nil, err
	}
	f.obs.TokenRefresh()
	return t, nil
}

// tokenCache holds the reusing token source. A 401 replaces the source,
// dropping its token, unless another call already did so since the
// rejected token was handed out (gen tells).
type tokenCache struct {
	src oauth2.TokenSource

	mu  sync.Mutex
	gen uint64
	ts  oauth2.TokenSource
}

func newTokenCache(src oauth2.TokenSource) *tokenCache {
	return &tokenCache{src: src, ts: oauth2.ReuseTokenSourceWithExpiry(nil, src, tokenEarlyExpiry)}
}

// token returns a valid token and the generation of the source it came
// from.
func (tc *tokenCache) token() (*oauth2.Token, uint64, error) {
	tc.mu.Lock()
	ts, gen := tc.ts, tc.gen
	tc.mu.Unlock()
	t, err := ts.Token()
	return t, gen, err
}

// invalidate drops the cached token if it is still the one of generation
// gen.
func (tc *tokenCache) invalidate(gen uint64) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.gen == gen {
		tc.gen++
		tc.ts = oauth2.ReuseTokenSourceWithExpiry(nil, tc.src, tokenEarlyExpiry)
	}
}

// call describes one API operation.
type call struct {
	op     string
	method string
	path   string // from /api/v2, with any query
	body   any    // sent as JSON when non-nil
	out    any    // decoded from a non-empty 2xx body when non-nil
	// create marks a request that must not be repeated once it may have
	// reached Genesys; see UnknownOutcomeError.
	create bool
	// idempotencyKey, when set, is sent as the Idempotency-Key header.
	idempotencyKey string
	// onResponse, when set, sees the status and headers of every answer
	// (Probe reads the Date header).
	onResponse func(status int, h http.Header)
}

// outcome classifies one failed attempt.
type outcome struct {
	err     error
	status  int
	reason  string        // retry reason; "" means final
	wait    time.Duration // Retry-After, when hasWait
	hasWait bool
	gen     uint64 // token generation used, for a 401
}

// do runs cl with rate limiting, token handling and retries, and returns
// nil or the final error.
func (c *Client) do(ctx context.Context, cl call) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("genesys %s: encode request: %w", cl.op, err)
		}
	}
	refreshed := false
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := c.budget.Take(ctx); err != nil {
			return errors.Join(lastErr, fmt.Errorf("genesys %s: rate limiter: %w", cl.op, err))
		}
		c.sent.add(time.Now())
		o := c.attempt(ctx, cl, payload)
		if o.err == nil {
			return nil
		}
		if o.status == http.StatusServiceUnavailable {
			// Refused, usually not served: its token goes back, within
			// RefusedShare of the rate.
			c.budget.Refund()
		}
		paused := false
		if o.status == http.StatusTooManyRequests && o.hasWait {
			// Genesys refuses the OAuth client, not this call: every call
			// of the budget waits (the retry below in Take).
			c.budget.Pause(ctx, min(o.wait, c.maxRetryAfter), PauseRetryAfter)
			paused = true
		}
		lastErr = o.err
		final := o.reason == "" ||
			(o.reason == reason401 && refreshed) ||
			attempt >= c.maxAttempts
		if final {
			c.logAttempt(ctx, slog.LevelDebug, cl.op, attempt, o, 0)
			return o.err
		}
		var delay time.Duration
		switch {
		case o.reason == reason401:
			refreshed = true
			c.tokens.invalidate(o.gen)
		case o.hasWait:
			delay = o.wait
		default:
			delay = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			c.logAttempt(ctx, slog.LevelDebug, cl.op, attempt, o, 0)
			return o.err
		}
		c.obs.Retry(cl.op, o.reason)
		c.logAttempt(ctx, slog.LevelWarn, cl.op, attempt, o, delay)
		if paused {
			continue // the budget holds the retry until the pause ends
		}
		if err := sleep(ctx, delay); err != nil {
			return errors.Join(o.err, fmt.Errorf("genesys %s: %w", cl.op, err))
		}
	}
}

// logAttempt logs a failed attempt. It never logs bodies, tokens or
// messages (which may quote personal data).
func (c *Client) logAttempt(ctx context.Context, level slog.Level, op string, attempt int, o outcome, delay time.Duration) {
	if !c.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("op", op),
		slog.Int("attempt", attempt),
		slog.Int("genesys_status", o.status),
	}
	var ae *APIError
	if errors.As(o.err, &ae) {
		attrs = append(attrs, slog.String("genesys_code", ae.Code), slog.String("correlation_id", ae.CorrelationID))
	} else {
		attrs = append(attrs, slog.String("error", o.err.Error()))
	}
	msg := "genesys call failed"
	if level >= slog.LevelWarn {
		msg = "genesys call failed, retrying"
		attrs = append(attrs, slog.String("retry_reason", o.reason), slog.Duration("retry_in", delay))
	}
	c.log.LogAttrs(ctx, level, msg, attrs...)
}

// backoff returns the full-jitter delay after the attempt-th failure.
func (c *Client) backoff(attempt int) time.Duration {
	return backoff.Full(attempt, c.backoffBase, c.backoffCap)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// attempt makes one HTTP request and classifies its result.
func (c *Client) attempt(ctx context.Context, cl call, payload []byte) outcome {
	tok, gen, err := c.tokens.token()
	if err != nil {
		return c.tokenOutcome(ctx, cl.op, err)
	}

	actx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	// Once a connection is in hand, request bytes may reach Genesys even
	// if the round trip then fails, so a create is no longer safe to
	// repeat. Only a failure to get a connection (DNS, dial, TLS, proxy)
	// proves the request was never sent. The transport itself re-sends a
	// request on a fresh connection when it wrote nothing at all.
	var gotConn atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	})
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, c.apiURL+cl.path, body)
	if err != nil {
		return outcome{err: fmt.Errorf("genesys %s: build request: %w", cl.op, err)}
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", cl.idempotencyKey)
	}

	start := time.Now()
	resp, err := c.httpClient.Do(req)
	if err != nil {
		c.obs.Call(cl.op, 0, time.Since(start))
		return c.transportOutcome(ctx, cl, err, gotConn.Load())
	}
	defer resp.Body.Close()
	c.rateHeaders(ctx, resp.Header)
	if cl.onResponse != nil {
		cl.onResponse(resp.StatusCode, resp.Header)
	}

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
		c.obs.Call(cl.op, resp.StatusCode, time.Since(start))
		if err != nil {
			// Genesys answered 2xx: a create took effect, but its id is
			// lost with the body.
			return c.transportOutcome(ctx, cl, fmt.Errorf("read response: %w", err), true)
		}
		if len(data) > maxResponseBody {
			return c.decodeOutcome(cl, fmt.Errorf("response body over %d bytes", maxResponseBody))
		}
		if cl.out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, cl.out); err != nil {
				return c.decodeOutcome(cl, fmt.Errorf("decode response: %w", err))
			}
		}
		return outcome{}
	}

	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	c.obs.Call(cl.op, resp.StatusCode, time.Since(start))
	return c.statusOutcome(cl, newAPIError(cl.op, resp, data), gen)
}

// decodeOutcome handles an unusable 2xx body: final, and for a create an
// unknown outcome (the callback exists but its id is unknown).
func (c *Client) decodeOutcome(cl call, err error) outcome {
	err = fmt.Errorf("genesys %s: %w", cl.op, err)
	if cl.create {
		err = &UnknownOutcomeError{Op: cl.op, Err: err}
	}
	return outcome{err: err}
}

// transportOutcome classifies a failed round trip. sent reports whether
// the request may have reached the server.
func (c *Client) transportOutcome(ctx context.Context, cl call, err error, sent bool) outcome {
	err = fmt.Errorf("genesys %s: %w", cl.op, err)
	if cl.create && sent {
		return outcome{err: &UnknownOutcomeError{Op: cl.op, Err: err}}
	}
	if ctx.Err() != nil {
		return outcome{err: err}
	}
	return outcome{err: err, reason: reasonNetwork}
}

// statusOutcome classifies a non-2xx response.
func (c *Client) statusOutcome(cl call, e *APIError, gen uint64) outcome {
	o := outcome{err: e, status: e.Status, gen: gen}
	switch {
	case e.Status == http.StatusUnauthorized:
		// Not authenticated, so not executed: safe even for a create.
		o.reason = reason401
	case e.Status == http.StatusTooManyRequests:
		// Refused by the rate limiter, so not executed.
		o.reason = reason429
	case e.Status == http.StatusRequestTimeout:
		o.reason = reasonNetwork
	case e.Status >= 500 && e.Status != http.StatusNotImplemented:
		o.reason = reason5xx
	default:
		return o
	}
	if cl.create && o.reason != reason401 && o.reason != reason429 {
		// A 5xx or 408 may come after Genesys committed the create.
		return outcome{err: &UnknownOutcomeError{Op: cl.op, Err: e}, status: e.Status}
	}
	if e.retryAfterSet {
		o.wait, o.hasWait = e.RetryAfter, true
	}
	if o.hasWait && o.wait > c.maxRetryAfter {
		o.reason = ""
	}
	return o
}

// tokenOutcome classifies a failure to get a token; no API request was
// sent, so even a create may be retried.
func (c *Client) tokenOutcome(ctx context.Context, op string, err error) outcome {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		err = fmt.Errorf("genesys %s: fetch token: %w", op, err)
		if ctx.Err() != nil {
			return outcome{err: err}
		}
		return outcome{err: err, reason: reasonNetwork}
	}
	e := &APIError{
		Op:            "token",
		Status:        re.Response.StatusCode,
		Code:          re.ErrorCode,
		Message:       truncate(re.ErrorDescription, maxMessage),
		CorrelationID: re.Response.Header.Get("ININ-Correlation-Id"),
	}
	if e.Message == "" {
		e.Message = http.StatusText(e.Status)
	}
	if d, ok := parseRetryAfter(re.Response.Header.Get("Retry-After")); ok {
		e.RetryAfter, e.retryAfterSet = d, true
	}
	o := outcome{err: e, status: e.Status}
	switch {
	case e.Status == http.StatusTooManyRequests:
		o.reason = reason429
		o.wait, o.hasWait = e.RetryAfter, e.retryAfterSet
		if o.wait > c.maxRetryAfter {
			o.reason = ""
		}
	case e.Status == http.StatusRequestTimeout, e.Status >= 500 && e.Status != http.StatusNotImplemented:
		o.reason = reason5xx
	}
	return o
}
