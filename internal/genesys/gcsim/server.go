package gcsim

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultQueueID is the queue the simulator knows when Options.Queues is
// empty (and the default of `slotline sim`).
const DefaultQueueID = "7f1c9a2e-0000-4000-8000-000000000001"

// Default credentials accepted when Options leaves them empty.
const (
	DefaultClientID     = "sim-client"
	DefaultClientSecret = "sim-secret"
)

// correlationHeader is the header Genesys puts on every API response; error
// bodies repeat it as contextId.
const correlationHeader = "ININ-Correlation-Id"

// maxRequestBytes is Genesys' request.bytes.max limit.
const maxRequestBytes = 512000

// Options configures a simulator. The zero value is usable: every field has
// a documented default.
type Options struct {
	// ClientID and ClientSecret are the accepted OAuth client credentials
	// (default "sim-client" / "sim-secret"), with those of Clients; any
	// other pair gets 401 invalid_client.
	ClientID, ClientSecret string
	// Clients are further OAuth clients, id → secret. Each client has a
	// rate limit of its own (SetRateLimit), shared by all of its tokens.
	Clients map[string]string
	// CodeClients are the OAuth clients of a code grant type, for users'
	// sign-in (default: DefaultConsoleClientID / DefaultConsoleClientSecret,
	// GrantCode, no redirect URI yet; an empty non-nil slice: none).
	CodeClients []CodeClient
	// Users are the users who can sign in on the login page (default:
	// DefaultUsers; an empty non-nil slice: none).
	Users []User
	// RateClock reads the real time that rate limits, their headers and
	// RecordRequests run on (default time.Now); a test passes a fake
	// clock's.
	RateClock func() time.Time
	// RecordRequests keeps the arrival of every authenticated API request
	// for Requests (it grows without bound: for tests and benchmarks).
	RecordRequests bool
	// TokenTTL is the lifetime of an access token in real time (default 24h).
	TokenTTL time.Duration
	// Clock drives callback lifecycles (default NewClock(time.Now(), 1)).
	Clock *Clock
	// AnswerRate is the probability that the customer answers a callback's
	// call (default 0.8); a call not answered rings out, or one time in
	// three reaches a voicemail. Zero means the default; use a negative
	// value for "never answered". It applies to callbacks without a Play
	// (FirstPlays, SetPlay); their agents always accept the first alert.
	AnswerRate float64
	// FirstPlays script the first callbacks created, in order; the ones
	// after play at random by AnswerRate.
	FirstPlays []Play
	// Seed seeds the random source behind answers and random failures, so
	// that a test driving the clock with Advance sees the same outcomes.
	Seed int64
	// TalkTime is how long, in clock time, an answered call stays
	// connected (default 3m).
	TalkTime time.Duration
	// RingTime is how long, in clock time, the customer's phone rings
	// before it is answered or not (default 20s).
	RingTime time.Duration
	// AlertTimeout is how long an agent who does not accept is alerted
	// before the callback goes to the next agent; AcceptDelay is how long
	// an agent who accepts takes (defaults 15s and 2s, clock time).
	AlertTimeout, AcceptDelay time.Duration
	// AutoDialDelay is how long after accepting an AgentFirst callback the
	// agent's call to the customer is placed (default 2s).
	AutoDialDelay time.Duration
	// VoicemailTime is how long the agent stays on a call a voicemail
	// answered (default 20s); WrapupTime is the agent's after-call work
	// before the wrap-up code is recorded (default 15s).
	VoicemailTime, WrapupTime time.Duration
	// HeartbeatEvery is the real time between channel heartbeats on each
	// notification socket (default 30s).
	HeartbeatEvery time.Duration
	// ChannelTTL is a notification channel's lifetime in real time (default
	// 24h). A channel also ends when the token that created it expires or is
	// revoked, whichever comes first; its expires field says when.
	ChannelTTL time.Duration
	// SocketClosingDelay is the real time between a v2.system.socket_closing
	// message and the socket's close (default 2s).
	SocketClosingDelay time.Duration
	// Queues are the known routing queues (default one queue,
	// DefaultQueueID). Creating a callback on another queue is a 400.
	Queues []Queue
	// ScheduleGroups are the Architect schedule groups served, with their
	// schedules.
	ScheduleGroups []ScheduleGroup
	// Logger receives the simulator's logs (default: discarded).
	Logger *slog.Logger
	// AnalyticsDelay is how long, in clock time, a new callback takes to
	// show in analytics queries (default 5 s; a negative value: at once).
	// Until then a query that matches it counts it in totalHits without
	// returning it, so totalHits may overcount.
	AnalyticsDelay time.Duration
	// AnalyticsTelNumbers makes analytics hold callback numbers in the
	// "tel:+1…" form rather than "+1…" (which one Genesys stores is
	// UNCONFIRMED).
	AnalyticsTelNumbers bool
	// DisconnectDelay is how long, in real time, a bulk disconnect takes
	// to apply after its 202 (default 500 ms; a negative value: before the
	// 202 is sent).
	DisconnectDelay time.Duration
	// Permissions are the permissions of OAuth clients, by client id; a
	// client not in the map holds every permission (the default). See
	// SetPermissions.
	Permissions map[string][]string
	// SMSNumbers are SMS numbers (E.164) the org owns besides the queues'
	// SMSAddress ones: listed by GET /api/v2/routing/sms/phonenumbers and
	// usable as an agentless message's fromAddress.
	SMSNumbers []string
	// RequireAgentID makes PATCH /api/v2/conversations/callbacks refuse a
	// request without agentId (400 bad.request, detail fieldName agentId),
	// as the SDK's "required" mark says it may.
	RequireAgentID bool
}

// Queue is a routing queue known to the simulator.
type Queue struct {
	// ID is the queue's id (a UUID in Genesys; any string here).
	ID string
	// Name is the queue's name (default "Queue <ID>").
	Name string
	// CallingPartyNumber is the queue's default outbound caller id (E.164).
	CallingPartyNumber string
	// SMSAddress is the queue's SMS number (E.164). When any queue has one,
	// agentless messages must be sent from one of them.
	SMSAddress string
	// CallbackMode is AgentFirst (the default, "") or CustomerFirst.
	CallbackMode string
}

// ScheduleGroup is an Architect schedule group with its schedules.
type ScheduleGroup struct {
	// ID and Name identify the group.
	ID, Name string
	// TimeZone is an IANA zone name, e.g. "America/New_York".
	TimeZone string
	// Open, Closed and Holiday are the group's schedules.
	Open, Closed, Holiday []Schedule
}

// Schedule is an Architect schedule: a first occurrence from Start to End,
// local times without offset ("2006-01-02T15:04:05.000"), repeated by RRule.
type Schedule struct {
	ID, Name   string
	Start, End string
	RRule      string
}

// Sim is a running Genesys Cloud simulator. Create it with New and always
// Close it.
type Sim struct {
	opts    Options
	clock   *Clock
	logger  *slog.Logger
	handler http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the lifecycle loop, Start's server, socket handlers
	wake   chan struct{}  // nudges the lifecycle loop after a change

	srvMu sync.Mutex
	srv   *http.Server
	url   string

	mu              sync.Mutex
	closed          bool
	rng             *rand.Rand
	answerRate      float64
	firstPlays      int // how many of opts.FirstPlays were given out
	queues          map[string]Queue
	smsAddresses    map[string]bool
	groups          map[string]ScheduleGroup
	schedules       map[string]Schedule
	agents          []ref
	tokens          map[string]*token
	callbacks       map[string]*callback
	callbackOrder   []*callback
	inbound         map[string]*inbound // inbound voice calls (PlayInbound) by conversation id
	inboundOrder    []*inbound
	commIndex       map[string]*callback // callback communication id → callback
	due             dueHeap
	seq             uint64
	sms             []SMSInfo
	channels        map[string]*channel
	sockets         map[*socket]struct{}
	socketQueueLen  int
	topicRejections map[string]topicRejection
	faults          []Fault
	failStatus      int
	failRate        float64
	failRetryAfter  time.Duration
	limitPerSecond  float64 // SetRateLimit; 0: none
	limitPerMinute  int     // the allowance per window; 0: none
	meters          map[string]*meter
	chargeRefusals  bool // refusals use the rate limit's allowance
	tokenSerial     int
	codeClients     map[string]CodeClient
	users           []*User
	codes           map[string]*authCode
	requestLog      []APIRequest
	stats           statsCounter

	analyticsDelay  time.Duration       // 0: indexed at once
	analyticsTel    bool                // analytics holds "tel:+1…" numbers
	requireAgentID  bool                // PATCH callbacks needs agentId
	dropDisconnects int                 // disconnect requests to accept and never apply
	smsActive       map[smsPair]string  // active SMS conversations by address pair
	smsRefusals     map[string]string   // fromAddress → refusal reason (SMSRefusal10DLC)
	smsByKey        map[string]reply    // Idempotency-Key → the first send's answer
	smsReplays      int                 // sends answered from smsByKey
	smsHold         chan struct{}       // non-nil while HoldSMS holds answers back
	permissions     map[string][]string // OAuth client → its permissions; absent: all
	dateOffset      time.Duration       // added to the Date header (SetDateOffset)
	loseRate        float64             // share of matching requests whose answer is lost
	loseMethod      string
	losePathPrefix  string
}

// New returns a simulator configured by opts, with its lifecycle loop
// running. Serve it with Start or mount Handler; stop it with Close.
func New(opts Options) *Sim {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = NewClock(time.Now(), 1)
	}
	if opts.AnswerRate == 0 {
		opts.AnswerRate = 0.8
	}
	if opts.TalkTime <= 0 {
		opts.TalkTime = 3 * time.Minute
	}
	if opts.RingTime <= 0 {
		opts.RingTime = 20 * time.Second
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&opts.AlertTimeout, 15 * time.Second}, {&opts.AcceptDelay, 2 * time.Second}, {&opts.AutoDialDelay, 2 * time.Second},
		{&opts.VoicemailTime, 20 * time.Second}, {&opts.WrapupTime, 15 * time.Second},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.HeartbeatEvery <= 0 {
		opts.HeartbeatEvery = 30 * time.Second
	}
	if opts.ChannelTTL <= 0 {
		opts.ChannelTTL = 24 * time.Hour
	}
	if opts.SocketClosingDelay <= 0 {
		opts.SocketClosingDelay = 2 * time.Second
	}
	if len(opts.Queues) == 0 {
		opts.Queues = []Queue{{ID: DefaultQueueID, Name: "Sim Queue", CallingPartyNumber: "+18005550100"}}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RateClock == nil {
		opts.RateClock = time.Now
	}
	switch {
	case opts.AnalyticsDelay == 0:
		opts.AnalyticsDelay = DefaultAnalyticsDelay
	case opts.AnalyticsDelay < 0:
		opts.AnalyticsDelay = 0
	}
	switch {
	case opts.DisconnectDelay == 0:
		opts.DisconnectDelay = DefaultDisconnectDelay
	case opts.DisconnectDelay < 0:
		opts.DisconnectDelay = 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{
		opts:            opts,
		clock:           opts.Clock,
		logger:          opts.Logger,
		ctx:             ctx,
		cancel:          cancel,
		wake:            make(chan struct{}, 1),
		rng:             rand.New(rand.NewPCG(uint64(opts.Seed), 0x5107_11ae)),
		answerRate:      opts.AnswerRate,
		queues:          make(map[string]Queue),
		smsAddresses:    make(map[string]bool),
		groups:          make(map[string]ScheduleGroup),
		schedules:       make(map[string]Schedule),
		tokens:          make(map[string]*token),
		callbacks:       make(map[string]*callback),
		commIndex:       make(map[string]*callback),
		channels:        make(map[string]*channel),
		sockets:         make(map[*socket]struct{}),
		socketQueueLen:  defaultSocketQueueLen,
		topicRejections: make(map[string]topicRejection),
		meters:          make(map[string]*meter),
		stats:           newStatsCounter(),
		analyticsDelay:  opts.AnalyticsDelay,
		analyticsTel:    opts.AnalyticsTelNumbers,
		requireAgentID:  opts.RequireAgentID,
		smsActive:       make(map[smsPair]string),
		smsRefusals:     make(map[string]string),
		smsByKey:        make(map[string]reply),
		codeClients:     make(map[string]CodeClient),
		codes:           make(map[string]*authCode),
		permissions:     make(map[string][]string),
	}
	for id, perms := range opts.Permissions {
		s.permissions[id] = slices.Clone(perms)
	}
	for _, n := range opts.SMSNumbers {
		s.smsAddresses[n] = true
	}
	if opts.CodeClients == nil {
		opts.CodeClients = []CodeClient{{ID: DefaultConsoleClientID, Secret: DefaultConsoleClientSecret}}
	}
	for _, c := range opts.CodeClients {
		if c.GrantType == "" {
			c.GrantType = GrantCode
		}
		s.codeClients[c.ID] = c
	}
	if opts.Users == nil {
		opts.Users = DefaultUsers()
	}
	for _, u := range opts.Users {
		u = normalizeUser(u)
		s.users = append(s.users, &u)
	}
	for _, q := range opts.Queues {
		if q.Name == "" {
			q.Name = "Queue " + q.ID
		}
		if q.CallbackMode == "" {
			q.CallbackMode = AgentFirst
		}
		s.queues[q.ID] = q
		if q.SMSAddress != "" {
			s.smsAddresses[q.SMSAddress] = true
		}
	}
	for _, g := range opts.ScheduleGroups {
		for _, list := range [][]Schedule{g.Open, g.Closed, g.Holiday} {
			for i := range list {
				if list[i].ID == "" {
					list[i].ID = newUUID()
				}
				s.schedules[list[i].ID] = list[i]
			}
		}
		s.groups[g.ID] = g
	}
	for i := range 3 {
		s.agents = append(s.agents, ref{ID: fmt.Sprintf("5a9e0000-0000-4000-8000-00000000000%d", i+1), Name: fmt.Sprintf("Sim Agent %d", i+1)})
	}
	mux := http.NewServeMux()
	s.addRoutes(mux)
	s.handler = mux
	s.wg.Add(1)
	go s.loop()
	return s
}

// addRoutes registers every route of the simulator.
func (s *Sim) addRoutes(mux *http.ServeMux) {
	login := func(p string, h http.HandlerFunc) { mux.Handle(p, s.wrap(p, routeLogin, h)) }
	api := func(p string, h http.HandlerFunc) { mux.Handle(p, s.wrap(p, routeAPI, s.requirePermissions(p, h))) }
	admin := func(p string, h http.HandlerFunc) { mux.Handle(p, s.wrap(p, routeAdmin, h)) }

	login("POST /oauth/token", s.handleToken)
	login("GET /oauth/authorize", s.handleAuthorize)
	login("POST /oauth/authorize", s.handleAuthorizePost)

	api("GET /api/v2/users/me", s.handleUsersMe)
	api("POST /api/v2/conversations/callbacks", s.handleCreateCallback)
	api("PATCH /api/v2/conversations/callbacks", s.handlePatchCallback)
	api("POST /api/v2/conversations/callbacks/bulk/disconnect", s.handleBulkDisconnect)
	api("PATCH /api/v2/conversations/callbacks/{conversationId}", s.handleDisconnectConversation)
	api("GET /api/v2/conversations/callbacks/{conversationId}", s.handleGetCallbackConversation)
	api("GET /api/v2/conversations/{conversationId}", s.handleGetConversation)
	api("POST /api/v2/analytics/conversations/details/query", s.handleAnalyticsQuery)
	api("GET /api/v2/routing/queues/{queueId}", s.handleGetQueue)
	api("GET /api/v2/routing/sms/phonenumbers", s.handleListSMSPhoneNumbers)
	api("GET /api/v2/routing/sms/phonenumbers/{addressId}", s.handleGetSMSPhoneNumber)
	api("GET /api/v2/architect/schedulegroups/{scheduleGroupId}", s.handleGetScheduleGroup)
	api("GET /api/v2/architect/schedules/{scheduleId}", s.handleGetSchedule)
	api("POST /api/v2/conversations/messages/agentless", s.handleAgentless)
	api("POST /api/v2/notifications/channels", s.handleCreateChannel)
	api("GET /api/v2/notifications/channels", s.handleListChannels)
	api("HEAD /api/v2/notifications/channels/{channelId}", s.handleHeadChannel)
	api("GET /api/v2/notifications/channels/{channelId}/subscriptions", s.handleGetSubscriptions)
	api("POST /api/v2/notifications/channels/{channelId}/subscriptions", s.handleAddSubscriptions)
	api("PUT /api/v2/notifications/channels/{channelId}/subscriptions", s.handleReplaceSubscriptions)
	api("DELETE /api/v2/notifications/channels/{channelId}/subscriptions", s.handleDeleteSubscriptions)
	mux.Handle("GET /channels/{channelId}", s.wrap("GET /channels/{channelId}", routeStream, s.handleStream))

	admin("POST /sim/faults", s.handleAdminFault)
	admin("POST /sim/failure-rate", s.handleAdminFailureRate)
	admin("POST /sim/rate-limit", s.handleAdminRateLimit)
	admin("POST /sim/answer-rate", s.handleAdminAnswerRate)
	admin("POST /sim/topic-rejections", s.handleAdminTopicRejection)
	admin("POST /sim/permissions", s.handleAdminPermissions)
	admin("POST /sim/date-offset", s.handleAdminDateOffset)
	admin("GET /sim/clock", s.handleAdminClock)
	admin("POST /sim/clock", s.handleAdminClock)
	admin("GET /sim/callbacks", s.handleAdminCallbacks)
	admin("GET /sim/sms", s.handleAdminSMS)
	admin("GET /sim/stats", s.handleAdminStats)
	admin("POST /sim/tokens/revoke", s.handleAdminRevoke)
	admin("POST /sim/channels/{channelId}/expire", s.handleAdminExpireChannel)
	admin("POST /sim/channels/{channelId}/socket-closing", s.handleAdminSocketClosing)
	admin("POST /sim/sockets/drop", s.handleAdminDropSockets)
	admin("POST /sim/conversations/{conversationId}/reschedule", s.handleAdminReschedule)
	admin("POST /sim/conversations/{conversationId}/disconnect", s.handleAdminDisconnect)
	admin("POST /sim/conversations/{conversationId}/play", s.handleAdminPlay)
	admin("POST /sim/conversations/{conversationId}/owner", s.handleAdminOwner)
	admin("POST /sim/analytics", s.handleAdminAnalytics)
	admin("POST /sim/agent-id", s.handleAdminAgentID)
	admin("POST /sim/disconnects/drop", s.handleAdminDropDisconnects)
	admin("POST /sim/lost-responses", s.handleAdminLostResponses)
	admin("POST /sim/sms/conversations", s.handleAdminSMSConversation)
	admin("POST /sim/sms/refusals", s.handleAdminSMSRefusal)
	admin("POST /sim/inbound-calls", s.handleAdminInboundCall)
	admin("GET /sim/users", s.handleAdminUsers)
	admin("POST /sim/users", s.handleAdminUsers)
	admin("DELETE /sim/users/{userId}", s.handleAdminRemoveUser)
	admin("PUT /sim/oauth/clients/{clientId}", s.handleAdminCodeClient)

	mux.Handle("/", s.wrap("unmatched", routeUnmatched, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not.found", "The requested resource was not found.")
	}))
}

// Handler returns the whole server: login, API, notification sockets and
// the admin API.
func (s *Sim) Handler() http.Handler { return s.handler }

// Start listens on addr (e.g. "127.0.0.1:0") and serves the simulator in a
// goroutine owned by the Sim until Close. It returns the base URL, which
// serves as both the API and the login base URL.
func (s *Sim) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("gcsim: already started")
	}
	if s.ctx.Err() != nil {
		return "", errors.New("gcsim: closed")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("gcsim: listen on %s: %w", addr, err)
	}
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	s.url = "http://" + ln.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("gcsim server stopped", "err", err)
		}
	}()
	return s.url, nil
}

// URL returns the base URL given by Start, or "" before Start.
func (s *Sim) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.url
}

// Close stops the server (if started), the lifecycle loop and every
// notification socket, and waits for them. It is safe to call twice.
func (s *Sim) Close() error {
	s.cancel()
	s.srvMu.Lock()
	srv := s.srv
	s.srvMu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.mu.Lock()
	s.closed = true
	var socks []*socket
	for sk := range s.sockets {
		if sk.conn != nil {
			socks = append(socks, sk)
		}
	}
	s.mu.Unlock()
	for _, sk := range socks {
		sk.conn.CloseNow()
	}
	s.wg.Wait()
	return err
}

// Clock returns the simulator's clock.
func (s *Sim) Clock() *Clock { return s.clock }

// SetAnswerRate changes the probability that the customer answers a
// callback without a Play; it applies to attempts that start from now on.
func (s *Sim) SetAnswerRate(p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answerRate = p
}

// routeKind says which middleware a route gets.
type routeKind int

const (
	routeLogin     routeKind = iota // faults, no bearer token
	routeAPI                        // bearer token, rate limit, faults, random failures
	routeStream                     // faults, no token (the channel id is the secret)
	routeAdmin                      // nothing; not counted in Stats
	routeUnmatched                  // counted only
)

// wrap gives a route its correlation id, request counting, authentication,
// rate limit and fault injection, according to its kind.
func (s *Sim) wrap(pattern string, kind routeKind, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(correlationHeader, newUUID())
		s.setDate(w)
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if kind != routeAdmin {
				s.countRequest(pattern, sw.status)
			}
			s.logger.DebugContext(r.Context(), "gcsim request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration_ms", time.Since(start).Milliseconds())
		}()
		if kind == routeAdmin || kind == routeUnmatched {
			h(sw, r)
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, maxRequestBytes)
		if kind != routeAPI {
			f, faulted := s.takeFault(r, kind, true)
			if !faulted {
				f, faulted = s.takeFault(r, kind, false)
			}
			s.serveWithFault(sw, r, h, f, faulted)
			return
		}
		tok, ok := s.authorize(sw, r)
		if !ok {
			return
		}
		if s.opts.RecordRequests {
			at := s.rateNow()
			defer func() {
				s.record(APIRequest{At: at, ClientID: tok.clientID, Token: tok.serial, Pattern: pattern, Status: sw.status})
			}()
		}
		// A refusal (a fault with a status) is answered before the rate
		// limit and does not use it: a refused request was not served.
		// With SetRefusalsUseAllowance(true), the rate limit comes first.
		s.mu.Lock()
		charge := s.chargeRefusals
		s.mu.Unlock()
		if charge && s.meterRequest(sw, tok.clientID, true) {
			return
		}
		f, faulted := s.takeFault(r, kind, true)
		switch {
		case !faulted:
			if !charge && s.meterRequest(sw, tok.clientID, true) {
				return
			}
			f, faulted = s.takeFault(r, kind, false)
		case !charge:
			s.meterRequest(sw, tok.clientID, false) // the headers only
		}
		s.serveWithFault(sw, r, h, f, faulted)
	})
}

// statusWriter records the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController and the WebSocket upgrader reach the
// underlying writer (for Hijack).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errorBody is Genesys' ErrorBody.
type errorBody struct {
	Message   string      `json:"message"`
	Code      string      `json:"code"`
	Status    int         `json:"status"`
	ContextID string      `json:"contextId"`
	Details   []any       `json:"details"`
	Errors    []errorBody `json:"errors"`
}

// writeError writes an ErrorBody whose contextId is the response's
// correlation id.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{
		Message: message, Code: code, Status: status,
		ContextID: w.Header().Get(correlationHeader), Details: []any{}, Errors: []errorBody{},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body into v, answering 400 (or 413) itself when it
// cannot.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request.entity.too.large", "The request is larger than the maximum of 512000 bytes.")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad.request", "The request could not be understood by the server due to malformed syntax: "+err.Error())
		return false
	}
	return true
}

// timeLayout is how Genesys writes instants: UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// fmtTime formats t as Genesys does, and the zero time as "".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reads an ISO-8601 instant. Any RFC 3339 offset is accepted and
// converted to UTC.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return formatUUID(b)
}

// formatUUID formats b as a version 4 UUID.
func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ref is a Genesys entity reference.
type ref struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	SelfURI string `json:"selfUri,omitempty"`
}

// Stats counts what the simulator has served since New.
type Stats struct {
	// Requests counts responses by route pattern (e.g. "POST
	// /api/v2/conversations/callbacks", or "unmatched") and status code,
	// sorted by pattern then status. A response lost on purpose counts with
	// the status the handler produced.
	Requests []RequestCount `json:"requests"`
	// TooManyRequests is the number of 429 responses sent.
	TooManyRequests int `json:"tooManyRequests"`
	// TokensIssued is the number of access tokens issued.
	TokensIssued int `json:"tokensIssued"`
	// LostResponses is the number of responses dropped after the write
	// committed (Fault.LoseResponse).
	LostResponses int `json:"lostResponses"`
	// FaultsInjected is the number of scripted or random faults applied.
	FaultsInjected int `json:"faultsInjected"`
	// SlowSocketsDropped is the number of notification sockets dropped
	// because they fell too far behind.
	SlowSocketsDropped int `json:"slowSocketsDropped"`
}

// RequestCount is one line of Stats.Requests.
type RequestCount struct {
	Pattern string `json:"pattern"`
	Status  int    `json:"status"`
	Count   int    `json:"count"`
}

// Count returns the number of responses to pattern with the given status;
// status 0 counts every status.
func (st Stats) Count(pattern string, status int) int {
	n := 0
	for _, rc := range st.Requests {
		if rc.Pattern == pattern && (status == 0 || rc.Status == status) {
			n += rc.Count
		}
	}
	return n
}

type statsKey struct {
	pattern string
	status  int
}

type statsCounter struct {
	requests    map[statsKey]int
	tooMany     int
	tokens      int
	lost        int
	faults      int
	slowDropped int
}

func newStatsCounter() statsCounter { return statsCounter{requests: make(map[statsKey]int)} }

func (s *Sim) countRequest(pattern string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.requests[statsKey{pattern, status}]++
	if status == http.StatusTooManyRequests {
		s.stats.tooMany++
	}
}

// APIRequest is one authenticated API request, as Options.RecordRequests
// keeps it.
type APIRequest struct {
	// At is its arrival on Options.RateClock.
	At time.Time `json:"at"`
	// ClientID is the OAuth client of its token; Token numbers the token
	// (the n-th issued, from 1).
	ClientID string `json:"clientId"`
	Token    int    `json:"token"`
	// Pattern is the route, e.g. "POST /api/v2/conversations/callbacks";
	// Status the answer (of a lost response, the status the handler made).
	Pattern string `json:"pattern"`
	Status  int    `json:"status"`
}

func (s *Sim) record(r APIRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestLog = append(s.requestLog, r)
}

// Requests returns the authenticated API requests so far, in order of
// their answers, when Options.RecordRequests is set (else nil).
func (s *Sim) Requests() []APIRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]APIRequest(nil), s.requestLog...)
}

// rateNow reads Options.RateClock.
func (s *Sim) rateNow() time.Time { return s.opts.RateClock() }

// Stats returns the request counts so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{TooManyRequests: s.stats.tooMany, TokensIssued: s.stats.tokens, LostResponses: s.stats.lost, FaultsInjected: s.stats.faults, SlowSocketsDropped: s.stats.slowDropped}
	for k, n := range s.stats.requests {
		st.Requests = append(st.Requests, RequestCount{Pattern: k.pattern, Status: k.status, Count: n})
	}
	sort.Slice(st.Requests, func(i, j int) bool {
		a, b := st.Requests[i], st.Requests[j]
		if a.Pattern != b.Pattern {
			return a.Pattern < b.Pattern
		}
		return a.Status < b.Status
	})
	return st
}

// hostURL returns the scheme and host the request was made to, for
// building absolute URLs (connectUri).
func hostURL(r *http.Request, wsScheme bool) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if wsScheme {
		scheme = strings.Replace(scheme, "http", "ws", 1)
	}
	return scheme + "://" + r.Host
}

// reply is a response computed under the Sim's mutex and written after it
// is released, so that a slow client never holds up the simulator.
type reply struct {
	status  int
	body    any    // JSON body; nil for none
	code    string // ErrorBody code when the reply is an error
	message string
	details []detail // ErrorBody details of an error
}

// detail is one entry of an ErrorBody's details.
type detail struct {
	ErrorCode string `json:"errorCode,omitempty"`
	FieldName string `json:"fieldName,omitempty"`
}

// fieldErrorReply is an error reply whose ErrorBody details name the
// field at fault.
func fieldErrorReply(status int, code, message, field, errorCode string) reply {
	return reply{status: status, code: code, message: message, details: []detail{{ErrorCode: errorCode, FieldName: field}}}
}

func jsonReply(status int, body any) reply { return reply{status: status, body: body} }

func errorReply(status int, code, message string) reply {
	return reply{status: status, code: code, message: message}
}

// respond runs f under the Sim's mutex and writes its reply after.
func (s *Sim) respond(w http.ResponseWriter, f func() reply) {
	s.mu.Lock()
	rp := f()
	s.mu.Unlock()
	switch {
	case rp.code != "" && len(rp.details) > 0:
		details := make([]any, len(rp.details))
		for i, d := range rp.details {
			details[i] = d
		}
		writeJSON(w, rp.status, errorBody{
			Message: rp.message, Code: rp.code, Status: rp.status,
			ContextID: w.Header().Get(correlationHeader), Details: details, Errors: []errorBody{},
		})
	case rp.code != "":
		writeError(w, rp.status, rp.code, rp.message)
	case rp.body == nil:
		w.WriteHeader(rp.status)
	default:
		writeJSON(w, rp.status, rp.body)
	}
}

// BusiestWindow returns the most requests of reqs that arrived within any
// span of length window (start included, start + window not), and where
// the first such span starts.
func BusiestWindow(reqs []APIRequest, window time.Duration) (count int, start time.Time) {
	at := make([]time.Time, len(reqs))
	for i, r := range reqs {
		at[i] = r.At
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	j := 0
	for i := range at {
		for j < len(at) && at[j].Before(at[i].Add(window)) {
			j++
		}
		if j-i > count {
			count, start = j-i, at[i]
		}
	}
	return count, start
}
