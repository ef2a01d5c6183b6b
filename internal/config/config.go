// Package config loads Slotline's YAML configuration file.
//
// A complete file:
//
//	listen: 127.0.0.1:8080
//	database: sqlite:./slotline.db          # or postgres://user@host/db
//	tls: {cert: server.crt, key: server.key}
//	public_url: https://callbacks.example.com
//	log: {level: info, format: json}        # level debug|info|warn|error; format json|text
//	clients:
//	  - id: website
//	    secret_env: SLOTLINE_WEBSITE_SECRET # or secret_file, or secret (plain, for tests)
//	    scopes: [callback:read, callback:write, webhook:read, webhook:write]
//	    rate_limit: 50/s                     # optional; N/s, N/m (or N/min) or N/h; absent = unlimited
//	token_ttl: 1h
//	retention: {erase_numbers_after: 90d}   # optional; 0 or absent = keep
//	genesys:                                # optional; absent = sandbox (the built-in simulator)
//	  mode: live                             # live|sandbox; default live when credentials are given
//	  region: mypurecloud.com                # a region domain or AWS region name (us-east-1)
//	  # or: api_url: https://api.mypurecloud.com and login_url: https://login.mypurecloud.com
//	  client_id_env: GENESYS_CLIENT_ID       # or client_id (plain)
//	  client_secret_env: GENESYS_CLIENT_SECRET # or client_secret_file, or client_secret (plain)
//	  rate_limit: 250/min
//	  max_retry_after: 180s                  # a longer Retry-After is an error, not waited out
//	  call_timeout: 15s
//	  reconcile_every: 5m
//	  workers: 16                            # 1 to 256
//	  sandbox:                               # only used in sandbox mode
//	    speed: 1                             # simulator clock speed
//	    answer_rate: 0.8                     # 0 to 1
//	    ring_time: 10s
//	    talk_time: 30s
//	    addr: 127.0.0.1:0
//	sms:
//	  text: "We tried to call you back about {reason}."   # optional; at most 765 characters
//	queues:
//	  - id: queue_12345
//	    genesys_queue_id: 7f1c9a2e-0000-4000-8000-000000000001
//	    name: Support
//	    timezone: America/New_York
//	    sms_from: "+18005550100"             # optional E.164 number for the missed-callback SMS
//	    caller_id: "+18005550100"            # optional E.164
//	    caller_id_name: Acme Support         # optional, at most 100 characters
//	    script_id: 3b0c7c4e-0000-4000-8000-000000000002   # optional
//	    # schedule_group_id: …               # optional; replaces hours and closed
//	    slot_minutes: 15                     # 5, 10, 15, 20, 30, 60 or 120
//	    capacity: 10                         # per slot
//	    capacity_overrides:
//	      - {days: [sat, sun], hours: "09:00-12:00", capacity: 4}
//	      - {date: 2026-12-24, capacity: 2}
//	    hours: {mon-fri: ["08:00-12:00", "13:00-18:00"], sat: ["09:00-12:00"]}   # or: hours: 24/7
//	    closed: [2026-12-25, 2027-01-01]
//	    lead_time: 15m
//	    horizon: 30d
//
// Durations use Go's syntax plus a leading d unit for days (30d, 1d12h).
// An empty value means the same as an absent key: the default. Unknown keys
// are errors, and every error is a *Error naming the file, line and field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/schedule"
)

// Scopes lists every scope a client may be granted, in a fixed order.
var Scopes = []string{"callback:read", "callback:write", "webhook:read", "webhook:write"}

const (
	day = 24 * time.Hour
	// genesysHorizon is how far ahead Genesys Cloud schedules callbacks.
	genesysHorizon = 30 * day
	minSecretLen   = 16
	maxRate        = 1e6 // requests per second
	// maxSMSText is five concatenated GSM-7 SMS segments of 153 characters.
	maxSMSText      = 765
	maxCallerIDName = 100
	maxWorkers      = 256
	maxSpeed        = 1e6 // simulator clock speed
)

// e164 matches the shape of an E.164 phone number: + and 7 to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Config is the whole configuration.
type Config struct {
	// Listen is the address the HTTP server listens on (default 127.0.0.1:8080).
	Listen string
	// Database is sqlite:PATH or a postgres:// URL (default sqlite:./slotline.db).
	Database string
	// TLS is nil when the server speaks plain HTTP.
	TLS *TLS
	// PublicURL is the absolute http(s) URL the service is reached at, or "".
	PublicURL string
	Log       Log
	Clients   []Client
	// TokenTTL is the lifetime of an access token (default 1h).
	TokenTTL  time.Duration
	Retention Retention
	Stream    Stream
	Webhooks  Webhooks
	// Genesys says how to reach Genesys Cloud, or the built-in simulator.
	Genesys Genesys
	SMS     SMS
	Queues  []Queue
	// Warnings holds one line per setting that is allowed but questionable,
	// in the same file:line: field: message form as errors.
	Warnings []string
}

// TLS holds the server's certificate and key files.
type TLS struct {
	// Cert and Key are paths, resolved relative to the config file's directory.
	Cert, Key string
}

// Log configures the service's logger.
type Log struct {
	// Level is debug, info (the default), warn or error.
	Level string
	// Format is json (the default) or text.
	Format string
}

// Stream configures the WebSocket event stream.
type Stream struct {
	// AllowedOrigins are extra browser origins that may open the stream,
	// as path.Match patterns on the origin's host ("*.example.com") or on
	// the whole origin when they have a scheme ("https://app.example.com");
	// the server's own host and public_url's host are always allowed.
	AllowedOrigins []string
	// Window is the most frames in flight without an ack (default 100).
	Window int
	// SlowConsumerTimeout closes a connection whose window stays full this
	// long (default 30s).
	SlowConsumerTimeout time.Duration
	// MaxFrameBytes bounds a client's frame (default 65536).
	MaxFrameBytes int
	// Ring is how many recent events the server keeps encoded in memory
	// while anyone subscribes (0: stream.DefaultRing); subscribers further
	// behind read from the database.
	Ring int
}

// Webhooks configures outbound webhook deliveries.
type Webhooks struct {
	// AllowHTTP accepts http:// endpoint URLs (default: https only).
	AllowHTTP bool
	// AllowPrivate lets deliveries reach loopback, private, link-local and
	// other internal addresses (default: refused, checked at connect time).
	AllowPrivate bool
	// Timeout bounds each delivery attempt (default 15s).
	Timeout time.Duration
	// DisableAfter disables an endpoint whose deliveries all failed this
	// long (default 5 days).
	DisableAfter time.Duration
	// RotationGrace is how long a rotated-out secret keeps signing
	// (default 24h).
	RotationGrace time.Duration
}

// Retention says how long personal data is kept.
type Retention struct {
	// EraseNumbersAfter is how long after a callback its phone number is
	// erased; zero means numbers are kept.
	EraseNumbersAfter time.Duration
}

// Client is an API client allowed to request tokens.
type Client struct {
	ID string
	// Secret is the resolved client secret. String and GoString never print it.
	Secret string `json:"-"`
	Scopes []string
	// RateLimit is in requests per second; 0 means unlimited.
	RateLimit float64
	// RateBurst is max(1, ceil(RateLimit)); 0 when RateLimit is 0.
	RateBurst int
}

// String describes c without its secret.
func (c Client) String() string {
	return fmt.Sprintf("client %s (scopes %s, rate %g/s, burst %d)", c.ID, strings.Join(c.Scopes, " "), c.RateLimit, c.RateBurst)
}

// GoString describes c for %#v without its secret.
func (c Client) GoString() string {
	return fmt.Sprintf("config.Client{ID:%q, Secret:\"<redacted>\", Scopes:%#v, RateLimit:%g, RateBurst:%d}", c.ID, c.Scopes, c.RateLimit, c.RateBurst)
}

// Genesys configures the connection to Genesys Cloud. In sandbox mode the
// service runs the Genesys Cloud simulator in-process instead.
type Genesys struct {
	// Mode is "live" or "sandbox". Without a genesys block, or without
	// credentials in it, the mode is sandbox.
	Mode string
	// Region is the region as written in the file ("" when api_url and
	// login_url are given instead).
	Region string
	// APIURL and LoginURL are the API and OAuth base URLs, without a
	// trailing slash: from Region when it is set, else as given.
	APIURL, LoginURL string
	// ClientID and ClientSecret are the resolved OAuth client credentials;
	// both are "" in sandbox mode. String and GoString never print the
	// secret.
	ClientID     string
	ClientSecret string `json:"-"`
	// RateLimit is the client-side limit in requests per second (default
	// 250 per minute).
	RateLimit float64
	// MaxRetryAfter is the longest Retry-After waited out (default 180s).
	MaxRetryAfter time.Duration
	// CallTimeout bounds each call to Genesys (default 15s).
	CallTimeout time.Duration
	// ReconcileEvery is the period of the reconciliation job (default 5m).
	ReconcileEvery time.Duration
	// Workers is the number of sync workers, 1 to 256 (default 16).
	Workers int
	// Sandbox configures the simulator; it is used in sandbox mode only.
	Sandbox Sandbox
}

// String describes g without its client secret.
func (g Genesys) String() string {
	where := g.APIURL
	if g.Region != "" {
		where = "region " + g.Region
	}
	if g.Mode == "sandbox" {
		where = "simulator on " + g.Sandbox.Addr
	}
	return fmt.Sprintf("genesys %s (%s, client %q, rate %g/s, %d workers)", g.Mode, where, g.ClientID, g.RateLimit, g.Workers)
}

// GoString describes g for %#v without its client secret.
func (g Genesys) GoString() string {
	secret := `""`
	if g.ClientSecret != "" {
		secret = `"<redacted>"`
	}
	return fmt.Sprintf("config.Genesys{Mode:%q, Region:%q, APIURL:%q, LoginURL:%q, ClientID:%q, ClientSecret:%s, "+
		"RateLimit:%g, MaxRetryAfter:%d, CallTimeout:%d, ReconcileEvery:%d, Workers:%d, Sandbox:%#v}",
		g.Mode, g.Region, g.APIURL, g.LoginURL, g.ClientID, secret,
		g.RateLimit, g.MaxRetryAfter, g.CallTimeout, g.ReconcileEvery, g.Workers, g.Sandbox)
}

// Sandbox configures the in-process Genesys Cloud simulator.
type Sandbox struct {
	// Speed is how fast the simulator's clock runs against real time
	// (default 1).
	Speed float64
	// AnswerRate is the probability, 0 to 1, that an agent answers a due
	// callback (default 0.8).
	AnswerRate float64
	// RingTime is how long a due callback dials before it is answered or
	// not, in simulator time (default 10s).
	RingTime time.Duration
	// TalkTime is how long an answered callback stays connected, in
	// simulator time (default 30s).
	TalkTime time.Duration
	// Addr is the host:port the simulator listens on (default 127.0.0.1:0,
	// a free port).
	Addr string
}

// SMS configures the SMS sent when a callback is missed.
type SMS struct {
	// Text is the message template, at most 765 characters; "" means the
	// sync's own default.
	Text string
}

// Queue is one callback queue.
type Queue struct {
	ID             string
	GenesysQueueID string
	// Name defaults to ID.
	Name     string
	TimeZone string
	// SMSFrom is the E.164 number the missed-callback SMS is sent from, or "".
	SMSFrom string
	// CallerID is the E.164 number shown to the customer, or "".
	CallerID string
	// CallerIDName is the name shown with CallerID, or "".
	CallerIDName string
	// ScriptID is the Genesys script shown to the agent, or "".
	ScriptID string
	// ScheduleGroupID, when set, names the Genesys schedule group the
	// opening hours come from. Schedule then has no hours or closed days
	// of its own (it is open 24/7) until the group is imported.
	ScheduleGroupID string
	// Schedule is the queue's calendar, built and validated.
	Schedule *schedule.Queue
}

// Error is a configuration error. Its Error method gives one line:
// "slotline.yaml:12: queues[0].slot_minutes: 7 is not one of ...".
type Error struct {
	File string
	// Line is 1-based; 0 means the error has no line.
	Line int
	// Field is the path to the setting, like queues[0].hours.mon-fri[1];
	// "" for errors about the file as a whole.
	Field string
	Msg   string
	// Err is the underlying error, if any, such as a *fs.PathError when the
	// file cannot be read.
	Err error
}

// Error formats e as file:line: field: message, leaving out the parts that
// are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Default returns the configuration used for every absent setting, with no
// clients and no queues, and Genesys in sandbox mode.
func Default() *Config {
	return &Config{
		Listen:   "127.0.0.1:8080",
		Database: "sqlite:./slotline.db",
		Log:      Log{Level: "info", Format: "json"},
		TokenTTL: time.Hour,
		Genesys: Genesys{
			Mode:           "sandbox",
			RateLimit:      250.0 / 60,
			MaxRetryAfter:  180 * time.Second,
			CallTimeout:    15 * time.Second,
			ReconcileEvery: 5 * time.Minute,
			Workers:        16,
			Sandbox: Sandbox{
				Speed:      1,
				AnswerRate: 0.8,
				RingTime:   10 * time.Second,
				TalkTime:   30 * time.Second,
				Addr:       "127.0.0.1:0",
			},
		},
	}
}

// defaultSchedule returns the queue settings used for every absent queue key.
func defaultSchedule(loc *time.Location) *schedule.Queue {
	return &schedule.Queue{
		Location:    loc,
		SlotMinutes: 15,
		Capacity:    10,
		AlwaysOpen:  true,
		Closed:      map[schedule.Date]bool{},
		Horizon:     genesysHorizon,
	}
}

// DefaultQueue returns the built-in queue used when there is no config file:
// queue_12345 in America/New_York, open 24/7, 15-minute slots of capacity
// 10, no lead time and a 30-day horizon.
func DefaultQueue() Queue {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		// Cannot happen: package schedule embeds the time zone database.
		loc = time.UTC
	}
	return Queue{
		ID:       "queue_12345",
		Name:     "Default",
		TimeZone: "America/New_York",
		Schedule: defaultSchedule(loc),
	}
}

// Load reads and parses the configuration file at path. Relative paths in
// the file are resolved against path's directory, and the variables named by
// secret_env, client_id_env and client_secret_env are looked up with getenv
// (nil means an empty environment). Every error is a *Error; one for an
// unreadable file wraps the *fs.PathError.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			msg = pe.Err.Error()
		}
		return nil, &Error{File: path, Msg: msg, Err: err}
	}
	return Parse(path, data, filepath.Dir(path), getenv)
}

// Parse parses the configuration in data. Name is the file name used in
// messages, dir the directory relative paths are resolved against, and getenv
// looks up the variables named by secret_env, client_id_env and
// client_secret_env (nil means an empty environment). Every error is a
// *Error.
func Parse(name string, data []byte, dir string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	p := &parser{file: name, dir: dir, getenv: getenv}
	root, err := p.document(data)
	if err != nil {
		return nil, err
	}
	c := Default()
	if err := p.config(root, c); err != nil {
		return nil, err
	}
	c.Warnings = p.warnings
	return c, nil
}

// parser turns a YAML node tree into a Config, keeping the file name for
// messages.
type parser struct {
	file     string
	dir      string
	getenv   func(string) string
	warnings []string
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) warnf(n *yaml.Node, field, format string, args ...any) {
	p.warnings = append(p.warnings, p.errorf(n, field, format, args...).Error())
}

// document parses data into the root mapping node; an empty file gives an
// empty mapping.
func (p *parser) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	} else if err != nil {
		return nil, p.syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, p.errorf(&extra, "", "only one YAML document is allowed")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	return root, nil
}

// syntaxError turns the yaml package's "yaml: line N: problem" into an
// *Error. The yaml package has no structured syntax error, so the line is
// read from the text.
func (p *parser) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, text
			}
		}
	}
	return &Error{File: p.file, Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

func (p *parser) config(root *yaml.Node, c *Config) error {
	f, err := p.fields(root, "", "listen", "database", "tls", "public_url", "log",
		"clients", "token_ttl", "retention", "genesys", "sms", "stream", "webhooks", "queues")
	if err != nil {
		return err
	}
	if v := f["listen"]; v != nil {
		if c.Listen, err = p.hostPort(v, "listen"); err != nil {
			return err
		}
	}
	if v := f["database"]; v != nil {
		s, err := p.str(v, "database")
		if err != nil {
			return err
		}
		// The value may hold a password: never quote it.
		switch {
		case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		case strings.HasPrefix(s, "sqlite:"):
			if s == "sqlite:" {
				return p.errorf(v, "database", "sqlite: needs a file name, like sqlite:./slotline.db")
			}
		default:
			return p.errorf(v, "database", "must start with sqlite:, postgres:// or postgresql://")
		}
		c.Database = s
	}
	if v := f["tls"]; v != nil {
		tls, err := p.tls(v)
		if err != nil {
			return err
		}
		c.TLS = tls
	}
	if v := f["public_url"]; v != nil {
		s, err := p.str(v, "public_url")
		if err != nil {
			return err
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return p.errorf(v, "public_url", "%q is not an absolute http or https URL", s)
		}
		c.PublicURL = s
	}
	if v := f["log"]; v != nil {
		if err := p.log(v, &c.Log); err != nil {
			return err
		}
	}
	if v := f["clients"]; v != nil {
		if err := p.clients(v, c); err != nil {
			return err
		}
	}
	if v := f["token_ttl"]; v != nil {
		d, err := p.duration(v, "token_ttl")
		if err != nil {
			return err
		}
		if d == 0 {
			return p.errorf(v, "token_ttl", "must be positive")
		}
		c.TokenTTL = d
	}
	if v := f["retention"]; v != nil {
		rf, err := p.fields(v, "retention", "erase_numbers_after")
		if err != nil {
			return err
		}
		if v := rf["erase_numbers_after"]; v != nil {
			d, err := p.duration(v, "retention.erase_numbers_after")
			if err != nil {
				return err
			}
			c.Retention.EraseNumbersAfter = d
		}
	}
	if v := f["genesys"]; v != nil {
		if err := p.genesys(v, &c.Genesys); err != nil {
			return err
		}
	}
	if v := f["stream"]; v != nil {
		if err := p.stream(v, &c.Stream); err != nil {
			return err
		}
	}
	if v := f["webhooks"]; v != nil {
		if err := p.webhooks(v, &c.Webhooks); err != nil {
			return err
		}
	}
	if v := f["sms"]; v != nil {
		sf, err := p.fields(v, "sms", "text")
		if err != nil {
			return err
		}
		if v := sf["text"]; v != nil {
			if c.SMS.Text, err = p.str(v, "sms.text"); err != nil {
				return err
			}
			if n := utf8.RuneCountInString(c.SMS.Text); n > maxSMSText {
				return p.errorf(v, "sms.text", "is %d characters long; at most %d are allowed", n, maxSMSText)
			}
		}
	}
	return p.queues(f["queues"], c)
}

// genesysCredentials lists the genesys keys that hold credentials.
var genesysCredentials = []string{"client_id_env", "client_id", "client_secret_env", "client_secret_file", "client_secret"}

// genesys reads the genesys block into g, which holds the defaults.
func (p *parser) genesys(n *yaml.Node, g *Genesys) error {
	const path = "genesys"
	f, err := p.fields(n, path, append([]string{"mode", "region", "api_url", "login_url",
		"rate_limit", "max_retry_after", "call_timeout", "reconcile_every", "workers", "sandbox"},
		genesysCredentials...)...)
	if err != nil {
		return err
	}
	hasCredentials := slices.ContainsFunc(genesysCredentials, func(k string) bool { return f[k] != nil })
	if v := f["mode"]; v != nil {
		if g.Mode, err = p.str(v, path+".mode"); err != nil {
			return err
		}
		if g.Mode != "live" && g.Mode != "sandbox" {
			return p.errorf(v, path+".mode", "%q is not one of live, sandbox", g.Mode)
		}
	} else if hasCredentials {
		g.Mode = "live"
	}
	if err := p.genesysURLs(f, g); err != nil {
		return err
	}
	if v := f["rate_limit"]; v != nil {
		if g.RateLimit, err = p.rate(v, path+".rate_limit"); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{
		{"max_retry_after", &g.MaxRetryAfter},
		{"call_timeout", &g.CallTimeout},
		{"reconcile_every", &g.ReconcileEvery},
	} {
		if v := f[d.key]; v != nil {
			if *d.dst, err = p.positiveDuration(v, path+"."+d.key); err != nil {
				return err
			}
		}
	}
	if v := f["workers"]; v != nil {
		if g.Workers, err = p.integer(v, path+".workers"); err != nil {
			return err
		}
		if g.Workers < 1 || g.Workers > maxWorkers {
			return p.errorf(v, path+".workers", "%d is not between 1 and %d", g.Workers, maxWorkers)
		}
	}
	if v := f["sandbox"]; v != nil {
		if err := p.sandbox(v, &g.Sandbox); err != nil {
			return err
		}
	}

	if g.Mode == "sandbox" {
		for _, k := range append([]string{"region", "api_url", "login_url"}, genesysCredentials...) {
			if v := f[k]; v != nil {
				p.warnf(v, path+"."+k, "is ignored in sandbox mode, which runs the built-in simulator")
			}
		}
		return nil
	}
	if v := f["sandbox"]; v != nil {
		p.warnf(v, path+".sandbox", "is ignored in live mode")
	}
	if g.APIURL == "" {
		return p.errorf(n, path+".region", "mode live needs region, or api_url and login_url")
	}
	id, key, err := p.source(f, path, "client_id_env", "client_id")
	if err != nil {
		return err
	}
	if key == "" {
		return p.errorf(n, path+".client_id", "mode live needs client_id_env or client_id")
	}
	secret, key, err := p.source(f, path, "client_secret_env", "client_secret_file", "client_secret")
	if err != nil {
		return err
	}
	if key == "" {
		return p.errorf(n, path+".client_secret", "mode live needs client_secret_env, client_secret_file or client_secret")
	}
	if key == "client_secret" {
		p.warnf(f[key], path+"."+key, "a plain secret in the config file is meant for tests; use client_secret_env or client_secret_file")
	}
	g.ClientID, g.ClientSecret = id, secret
	return nil
}

// genesysURLs resolves region, or api_url and login_url, into g.
func (p *parser) genesysURLs(f map[string]*yaml.Node, g *Genesys) error {
	if v := f["region"]; v != nil {
		for _, k := range []string{"api_url", "login_url"} {
			if w := f[k]; w != nil {
				later, key := w, k
				if v.Line > w.Line {
					later, key = v, "region"
				}
				return p.errorf(later, "genesys."+key, "give region, or api_url and login_url, not both")
			}
		}
		region, err := p.str(v, "genesys.region")
		if err != nil {
			return err
		}
		api, login, err := genesys.RegionURLs(region)
		if err != nil {
			return p.errorf(v, "genesys.region", "%q is not a Genesys Cloud region domain (like mypurecloud.com) or AWS region name (like us-east-1); for other hosts give api_url and login_url", region)
		}
		g.Region, g.APIURL, g.LoginURL = region, api, login
		return nil
	}
	api, login := f["api_url"], f["login_url"]
	switch {
	case api == nil && login == nil:
		return nil
	case login == nil:
		return p.errorf(api, "genesys.login_url", "is required when api_url is given")
	case api == nil:
		return p.errorf(login, "genesys.api_url", "is required when login_url is given")
	}
	var err error
	if g.APIURL, err = p.baseURL(api, "genesys.api_url"); err != nil {
		return err
	}
	if g.LoginURL, err = p.baseURL(login, "genesys.login_url"); err != nil {
		return err
	}
	return nil
}

// sandbox reads the genesys.sandbox block into s, which holds the defaults.
func (p *parser) sandbox(n *yaml.Node, s *Sandbox) error {
	const path = "genesys.sandbox"
	f, err := p.fields(n, path, "speed", "answer_rate", "ring_time", "talk_time", "addr")
	if err != nil {
		return err
	}
	if v := f["speed"]; v != nil {
		if s.Speed, err = p.number(v, path+".speed"); err != nil {
			return err
		}
		if s.Speed <= 0 || s.Speed > maxSpeed {
			return p.errorf(v, path+".speed", "%s is not more than 0 and at most %g", v.Value, float64(maxSpeed))
		}
	}
	if v := f["answer_rate"]; v != nil {
		if s.AnswerRate, err = p.number(v, path+".answer_rate"); err != nil {
			return err
		}
		if s.AnswerRate < 0 || s.AnswerRate > 1 {
			return p.errorf(v, path+".answer_rate", "%s is not between 0 and 1", v.Value)
		}
	}
	if v := f["ring_time"]; v != nil {
		if s.RingTime, err = p.positiveDuration(v, path+".ring_time"); err != nil {
			return err
		}
	}
	if v := f["talk_time"]; v != nil {
		if s.TalkTime, err = p.positiveDuration(v, path+".talk_time"); err != nil {
			return err
		}
	}
	if v := f["addr"]; v != nil {
		if s.Addr, err = p.hostPort(v, path+".addr"); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) tls(n *yaml.Node) (*TLS, error) {
	f, err := p.fields(n, "tls", "cert", "key")
	if err != nil {
		return nil, err
	}
	var paths [2]string
	for i, key := range []string{"cert", "key"} {
		v := f[key]
		if v == nil {
			return nil, p.errorf(n, "tls."+key, "is required when tls is given")
		}
		s, err := p.str(v, "tls."+key)
		if err != nil {
			return nil, err
		}
		paths[i] = p.path(s)
	}
	return &TLS{Cert: paths[0], Key: paths[1]}, nil
}

func (p *parser) log(n *yaml.Node, l *Log) error {
	f, err := p.fields(n, "log", "level", "format")
	if err != nil {
		return err
	}
	for _, s := range []struct {
		key     string
		allowed []string
		dst     *string
	}{
		{"level", []string{"debug", "info", "warn", "error"}, &l.Level},
		{"format", []string{"json", "text"}, &l.Format},
	} {
		v := f[s.key]
		if v == nil {
			continue
		}
		val, err := p.str(v, "log."+s.key)
		if err != nil {
			return err
		}
		if !slices.Contains(s.allowed, val) {
			return p.errorf(v, "log."+s.key, "%q is not one of %s", val, strings.Join(s.allowed, ", "))
		}
		*s.dst = val
	}
	return nil
}

func (p *parser) clients(n *yaml.Node, c *Config) error {
	items, err := p.list(n, "clients")
	if err != nil {
		return err
	}
	for i, item := range items {
		path := fmt.Sprintf("clients[%d]", i)
		cl, err := p.client(item, path)
		if err != nil {
			return err
		}
		for j, other := range c.Clients {
			if other.ID == cl.ID {
				return p.errorf(valueOf(item, "id"), path+".id", "%q is already used by clients[%d]", cl.ID, j)
			}
		}
		c.Clients = append(c.Clients, cl)
	}
	return nil
}

func (p *parser) client(n *yaml.Node, path string) (Client, error) {
	var c Client
	f, err := p.fields(n, path, "id", "secret_env", "secret_file", "secret", "scopes", "rate_limit")
	if err != nil {
		return c, err
	}
	if c.ID, err = p.id(f["id"], n, path+".id"); err != nil {
		return c, err
	}
	if c.Secret, err = p.secret(f, n, path); err != nil {
		return c, err
	}
	v := f["scopes"]
	if v == nil {
		return c, p.errorf(n, path+".scopes", "at least one scope is required")
	}
	items, err := p.list(v, path+".scopes")
	if err != nil {
		return c, err
	}
	if len(items) == 0 {
		return c, p.errorf(v, path+".scopes", "at least one scope is required")
	}
	for i, item := range items {
		field := fmt.Sprintf("%s.scopes[%d]", path, i)
		s, err := p.str(item, field)
		if err != nil {
			return c, err
		}
		if !slices.Contains(Scopes, s) {
			return c, p.errorf(item, field, "%q is not one of %s", s, strings.Join(Scopes, ", "))
		}
		if slices.Contains(c.Scopes, s) {
			return c, p.errorf(item, field, "%q is listed twice", s)
		}
		c.Scopes = append(c.Scopes, s)
	}
	if v := f["rate_limit"]; v != nil {
		if c.RateLimit, err = p.rate(v, path+".rate_limit"); err != nil {
			return c, err
		}
		c.RateBurst = max(1, int(math.Ceil(c.RateLimit)))
	}
	return c, nil
}

// secret resolves a client's secret from exactly one of secret_env,
// secret_file and secret. Messages never include the secret itself.
func (p *parser) secret(f map[string]*yaml.Node, n *yaml.Node, path string) (string, error) {
	secret, key, err := p.source(f, path, "secret_env", "secret_file", "secret")
	if err != nil {
		return "", err
	}
	if key == "" {
		return "", p.errorf(n, path, "one of secret_env, secret_file or secret is required")
	}
	v, field := f[key], path+"."+key
	if key == "secret" {
		p.warnf(v, field, "a plain secret in the config file is meant for tests; use secret_env or secret_file")
	}
	if utf8.RuneCountInString(secret) < minSecretLen {
		return "", p.errorf(v, field, "the secret must be at least %d characters", minSecretLen)
	}
	return secret, nil
}

// source resolves a value that may be given under one of several keys of
// mapping f: a key ending in _env names an environment variable, one ending
// in _file names a file (relative to the config file, trailing newlines
// dropped), and any other key holds the value itself. At most one of keys
// may be given; key is the one used, or "" when none is. The value must not
// be empty, and messages never include it.
func (p *parser) source(f map[string]*yaml.Node, path string, keys ...string) (val, key string, err error) {
	for _, k := range keys {
		if f[k] == nil {
			continue
		}
		if key != "" {
			later := k
			if f[key].Line > f[k].Line {
				later = key
			}
			return "", "", p.errorf(f[later], join(path, later), "give only one of %s", andList(keys))
		}
		key = k
	}
	if key == "" {
		return "", "", nil
	}
	v, field := f[key], join(path, key)
	s, err := p.str(v, field)
	if err != nil {
		return "", "", err
	}
	switch {
	case strings.HasSuffix(key, "_env"):
		if s == "" {
			return "", "", p.errorf(v, field, "must name an environment variable")
		}
		if val = p.getenv(s); val == "" {
			return "", "", p.errorf(v, field, "environment variable %s is unset or empty", s)
		}
	case strings.HasSuffix(key, "_file"):
		if s == "" {
			return "", "", p.errorf(v, field, "must name a file")
		}
		data, err := os.ReadFile(p.path(s))
		if err != nil {
			return "", "", &Error{File: p.file, Line: v.Line, Field: field, Msg: err.Error(), Err: err}
		}
		if val = strings.TrimRight(string(data), "\r\n"); val == "" {
			return "", "", p.errorf(v, field, "file %s is empty", s)
		}
	default:
		if val = s; val == "" {
			return "", "", p.errorf(v, field, "must not be empty")
		}
	}
	return val, key, nil
}

func (p *parser) queues(n *yaml.Node, c *Config) error {
	if n == nil {
		return p.errorf(nil, "queues", "at least one queue is required")
	}
	items, err := p.list(n, "queues")
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return p.errorf(n, "queues", "at least one queue is required")
	}
	for i, item := range items {
		path := fmt.Sprintf("queues[%d]", i)
		q, err := p.queue(item, path)
		if err != nil {
			return err
		}
		for j, other := range c.Queues {
			if other.ID == q.ID {
				return p.errorf(valueOf(item, "id"), path+".id", "%q is already used by queues[%d]", q.ID, j)
			}
		}
		c.Queues = append(c.Queues, q)
	}
	return nil
}

func (p *parser) queue(n *yaml.Node, path string) (Queue, error) {
	var q Queue
	f, err := p.fields(n, path, "id", "genesys_queue_id", "name", "timezone", "slot_minutes",
		"capacity", "capacity_overrides", "hours", "closed", "lead_time", "horizon",
		"sms_from", "caller_id", "caller_id_name", "script_id", "schedule_group_id")
	if err != nil {
		return q, err
	}
	if q.ID, err = p.id(f["id"], n, path+".id"); err != nil {
		return q, err
	}
	if v := f["genesys_queue_id"]; v != nil {
		if q.GenesysQueueID, err = p.str(v, path+".genesys_queue_id"); err != nil {
			return q, err
		}
	}
	q.Name = q.ID
	if v := f["name"]; v != nil {
		if q.Name, err = p.str(v, path+".name"); err != nil {
			return q, err
		}
	}
	for _, k := range []struct {
		key string
		dst *string
	}{
		{"sms_from", &q.SMSFrom},
		{"caller_id", &q.CallerID},
	} {
		if v := f[k.key]; v != nil {
			if *k.dst, err = p.phone(v, path+"."+k.key); err != nil {
				return q, err
			}
		}
	}
	if v := f["caller_id_name"]; v != nil {
		if q.CallerIDName, err = p.str(v, path+".caller_id_name"); err != nil {
			return q, err
		}
		if n := utf8.RuneCountInString(q.CallerIDName); n > maxCallerIDName {
			return q, p.errorf(v, path+".caller_id_name", "is %d characters long; at most %d are allowed", n, maxCallerIDName)
		}
	}
	if v := f["script_id"]; v != nil {
		if q.ScriptID, err = p.str(v, path+".script_id"); err != nil {
			return q, err
		}
	}
	if v := f["schedule_group_id"]; v != nil {
		if q.ScheduleGroupID, err = p.str(v, path+".schedule_group_id"); err != nil {
			return q, err
		}
		var also []string
		for _, k := range []string{"hours", "closed"} {
			if w := f[k]; w != nil {
				also = append(also, fmt.Sprintf("%s (line %d)", k, w.Line))
			}
		}
		if len(also) > 0 {
			return q, p.errorf(v, path+".schedule_group_id", "cannot be given with %s: the opening hours come from the schedule group", strings.Join(also, " or "))
		}
	}

	v := f["timezone"]
	if v == nil {
		return q, p.errorf(n, path+".timezone", "is required (an IANA zone like America/New_York)")
	}
	if q.TimeZone, err = p.str(v, path+".timezone"); err != nil {
		return q, err
	}
	loc, err := time.LoadLocation(q.TimeZone)
	if err != nil || q.TimeZone == "" || q.TimeZone == "Local" {
		return q, p.errorf(v, path+".timezone", "%q is not a known IANA time zone", q.TimeZone)
	}
	s := defaultSchedule(loc)

	if v := f["slot_minutes"]; v != nil {
		if s.SlotMinutes, err = p.integer(v, path+".slot_minutes"); err != nil {
			return q, err
		}
		if !slices.Contains(schedule.SlotMinutes, s.SlotMinutes) {
			allowed := make([]string, len(schedule.SlotMinutes))
			for i, m := range schedule.SlotMinutes {
				allowed[i] = strconv.Itoa(m)
			}
			return q, p.errorf(v, path+".slot_minutes", "%d is not one of %s", s.SlotMinutes, strings.Join(allowed, ", "))
		}
	}
	if v := f["capacity"]; v != nil {
		if s.Capacity, err = p.capacity(v, path+".capacity"); err != nil {
			return q, err
		}
	}
	if v := f["capacity_overrides"]; v != nil {
		if s.Overrides, err = p.overrides(v, path+".capacity_overrides"); err != nil {
			return q, err
		}
	}
	if v := f["hours"]; v != nil {
		if err := p.hours(v, path+".hours", s); err != nil {
			return q, err
		}
	}
	if v := f["closed"]; v != nil {
		items, err := p.list(v, path+".closed")
		if err != nil {
			return q, err
		}
		for i, item := range items {
			d, err := p.date(item, fmt.Sprintf("%s.closed[%d]", path, i))
			if err != nil {
				return q, err
			}
			s.Closed[d] = true
		}
	}
	if v := f["lead_time"]; v != nil {
		if s.LeadTime, err = p.duration(v, path+".lead_time"); err != nil {
			return q, err
		}
	}
	if v := f["horizon"]; v != nil {
		if s.Horizon, err = p.duration(v, path+".horizon"); err != nil {
			return q, err
		}
		if s.Horizon == 0 {
			return q, p.errorf(v, path+".horizon", "must be positive")
		}
		if s.Horizon > genesysHorizon {
			p.warnf(v, path+".horizon", "%s is more than 30 days; Genesys schedules callbacks at most 30 days ahead", v.Value)
		}
	}
	if s.LeadTime >= s.Horizon {
		return q, p.errorf(f["lead_time"], path+".lead_time", "must be shorter than the horizon (%s)", formatDuration(s.Horizon))
	}
	if err := s.Validate(); err != nil {
		return q, p.errorf(n, path, "%v", err)
	}
	q.Schedule = s
	return q, nil
}

// hours reads either the string 24/7 or a mapping from day specs (mon,
// mon-fri, sat,sun) to lists of HH:MM-HH:MM intervals into s.
func (p *parser) hours(n *yaml.Node, path string, s *schedule.Queue) error {
	if n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == "24/7" {
		return nil // the default
	}
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, path, "must be 24/7 or a mapping from days to intervals, not %s", describe(n))
	}
	pairs, err := p.pairs(n, path)
	if err != nil {
		return err
	}
	s.AlwaysOpen = false
	var namedBy [7]*yaml.Node
	for _, kv := range pairs {
		field := path + "." + kv.key.Value
		days, err := parseDays(kv.key.Value)
		if err != nil {
			return p.errorf(kv.key, field, "%v", err)
		}
		for _, wd := range days {
			if prev := namedBy[wd]; prev != nil {
				return p.errorf(kv.key, field, "%s is already named by %q on line %d", dayName(wd), prev.Value, prev.Line)
			}
			namedBy[wd] = kv.key
		}
		var ivs []schedule.Interval
		if !isNull(kv.value) {
			items, err := p.list(kv.value, field)
			if err != nil {
				return err
			}
			for i, item := range items {
				iv, err := p.interval(item, fmt.Sprintf("%s[%d]", field, i))
				if err != nil {
					return err
				}
				ivs = append(ivs, iv)
			}
		}
		for _, wd := range days {
			s.Hours[wd] = slices.Clone(ivs)
		}
	}
	if namedBy == [7]*yaml.Node{} {
		p.warnf(n, path, "names no days, so the queue is never open")
	}
	return nil
}

func (p *parser) overrides(n *yaml.Node, path string) ([]schedule.CapacityOverride, error) {
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	var out []schedule.CapacityOverride
	for i, item := range items {
		field := fmt.Sprintf("%s[%d]", path, i)
		f, err := p.fields(item, field, "days", "date", "hours", "capacity")
		if err != nil {
			return nil, err
		}
		var o schedule.CapacityOverride
		if v := f["capacity"]; v == nil {
			return nil, p.errorf(item, field+".capacity", "is required")
		} else if o.Capacity, err = p.capacity(v, field+".capacity"); err != nil {
			return nil, err
		}
		if f["days"] == nil && f["date"] == nil && f["hours"] == nil {
			return nil, p.errorf(item, field, "needs at least one of days, date and hours")
		}
		if v := f["days"]; v != nil {
			days, err := p.list(v, field+".days")
			if err != nil {
				return nil, err
			}
			for j, d := range days {
				df := fmt.Sprintf("%s.days[%d]", field, j)
				s, err := p.str(d, df)
				if err != nil {
					return nil, err
				}
				wds, err := parseDays(s)
				if err != nil {
					return nil, p.errorf(d, df, "%v", err)
				}
				for _, wd := range wds {
					if slices.Contains(o.Days, wd) {
						return nil, p.errorf(d, df, "%s is named twice", dayName(wd))
					}
					o.Days = append(o.Days, wd)
				}
			}
			if len(o.Days) == 0 {
				return nil, p.errorf(v, field+".days", "must name at least one day")
			}
		}
		if v := f["date"]; v != nil {
			d, err := p.date(v, field+".date")
			if err != nil {
				return nil, err
			}
			o.Date = &d
		}
		if v := f["hours"]; v != nil {
			iv, err := p.interval(v, field+".hours")
			if err != nil {
				return nil, err
			}
			o.Hours = &iv
		}
		out = append(out, o)
	}
	return out, nil
}

// Node helpers. Each takes the field path for its messages.

type pair struct{ key, value *yaml.Node }

// pairs returns the entries of mapping n in order, after checking that n is
// a mapping whose keys are strings that do not repeat.
func (p *parser) pairs(n *yaml.Node, path string) ([]pair, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, path, "must be a mapping, not %s", describe(n))
	}
	first := map[string]int{}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, p.errorf(k, path, "keys must be strings, not %s", describe(k))
		}
		field := join(path, k.Value)
		if k.ShortTag() == "!!merge" {
			return nil, p.errorf(k, field, "merge keys are not supported")
		}
		if line, ok := first[k.Value]; ok {
			return nil, p.errorf(k, field, "is given twice (first on line %d)", line)
		}
		first[k.Value] = k.Line
		out = append(out, pair{k, v})
	}
	return out, nil
}

// fields returns the values of mapping n by key. A key not in known is an
// error. A null value counts as absent, so an empty value means the default.
func (p *parser) fields(n *yaml.Node, path string, known ...string) (map[string]*yaml.Node, error) {
	pairs, err := p.pairs(n, path)
	if err != nil {
		return nil, err
	}
	f := make(map[string]*yaml.Node, len(pairs))
	for _, kv := range pairs {
		if !slices.Contains(known, kv.key.Value) {
			return nil, p.errorf(kv.key, join(path, kv.key.Value), "unknown field")
		}
		if !isNull(kv.value) {
			f[kv.key.Value] = kv.value
		}
	}
	return f, nil
}

func (p *parser) list(n *yaml.Node, path string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, path, "must be a list, not %s", describe(n))
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		out[i] = resolve(item)
	}
	return out, nil
}

// str returns the text of scalar n, whatever YAML type it resolves to.
func (p *parser) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errorf(n, path, "must be a string, not %s", describe(n))
	}
	return n.Value, nil
}

func (p *parser) integer(n *yaml.Node, path string) (int, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, p.errorf(n, path, "must be an integer, not %s", describe(n))
	}
	i, err := strconv.Atoi(strings.TrimSpace(n.Value))
	if err != nil {
		return 0, p.errorf(n, path, "%q is not an integer", n.Value)
	}
	return i, nil
}

func (p *parser) capacity(n *yaml.Node, path string) (int, error) {
	c, err := p.integer(n, path)
	if err == nil && c < 0 {
		err = p.errorf(n, path, "%d must not be negative", c)
	}
	return c, err
}

// number reads a finite decimal number.
func (p *parser) number(n *yaml.Node, path string) (float64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, p.errorf(n, path, "must be a number, not %s", describe(n))
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, p.errorf(n, path, "%q is not a number", n.Value)
	}
	return x, nil
}

// rate reads a positive request rate (50/s, 100/m, 100/min, 1000/h) in
// requests per second.
func (p *parser) rate(n *yaml.Node, path string) (float64, error) {
	s, err := p.str(n, path)
	if err != nil {
		return 0, err
	}
	rate, ok := parseRate(s)
	switch {
	case !ok:
		return 0, p.errorf(n, path, "%q is not a rate like 50/s, 100/min or 1000/h", s)
	case rate <= 0:
		return 0, p.errorf(n, path, "%q must be positive", s)
	case rate > maxRate:
		return 0, p.errorf(n, path, "%q is more than %g/s", s, float64(maxRate))
	}
	return rate, nil
}

// hostPort reads a host:port address; the host may be empty.
func (p *parser) hostPort(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return "", p.errorf(n, path, "%q is not a host:port address", s)
	}
	return s, nil
}

// baseURL reads an absolute http(s) URL without query, fragment or user
// information, and returns it without a trailing slash.
func (p *parser) baseURL(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err == nil && u.User != nil {
		// It may hold a password: never quote it.
		return "", p.errorf(n, path, "must not hold a user name or password")
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", p.errorf(n, path, "%q is not an absolute http or https URL without query or fragment", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// phone reads an E.164 phone number.
func (p *parser) phone(n *yaml.Node, path string) (string, error) {
	// An unquoted +1800… decodes as an !!int; its text is all we need.
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	if !e164.MatchString(s) {
		return "", p.errorf(n, path, "%q is not an E.164 phone number like +14155550199", s)
	}
	return s, nil
}

// positiveDuration is duration for settings that must not be zero.
func (p *parser) positiveDuration(n *yaml.Node, path string) (time.Duration, error) {
	d, err := p.duration(n, path)
	if err == nil && d == 0 {
		err = p.errorf(n, path, "must be positive")
	}
	return d, err
}

// duration parses Go duration syntax plus days (30d, 1d12h); negative
// durations are errors.
func (p *parser) duration(n *yaml.Node, path string) (time.Duration, error) {
	s, err := p.str(n, path)
	if err != nil {
		return 0, err
	}
	d, ok := parseDuration(s)
	if !ok {
		return 0, p.errorf(n, path, "%q is not a duration like 90s, 15m, 1h or 30d", s)
	}
	if d < 0 {
		return 0, p.errorf(n, path, "%s must not be negative", s)
	}
	return d, nil
}

func (p *parser) date(n *yaml.Node, path string) (schedule.Date, error) {
	// An unquoted date decodes as a !!timestamp; its text is all we need.
	s, err := p.str(n, path)
	if err != nil {
		return schedule.Date{}, err
	}
	d, err := schedule.ParseDate(strings.TrimSpace(s))
	if err != nil {
		return d, p.errorf(n, path, "%v", err)
	}
	return d, nil
}

func (p *parser) interval(n *yaml.Node, path string) (schedule.Interval, error) {
	s, err := p.str(n, path)
	if err != nil {
		return schedule.Interval{}, err
	}
	iv, err := schedule.ParseInterval(strings.TrimSpace(s))
	if err != nil {
		return iv, p.errorf(n, path, "%v", err)
	}
	return iv, nil
}

// id reads a required identifier: 1 to 64 of A-Z a-z 0-9 _ . -.
func (p *parser) id(n, parent *yaml.Node, path string) (string, error) {
	if n == nil {
		return "", p.errorf(parent, path, "is required")
	}
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	ok := len(s) >= 1 && len(s) <= 64
	for _, r := range s {
		ok = ok && (r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	}
	if !ok {
		return "", p.errorf(n, path, "%q must be 1 to 64 letters, digits, '_', '.' or '-'", s)
	}
	return s, nil
}

// path resolves a path from the file against the file's directory.
func (p *parser) path(s string) string {
	if filepath.IsAbs(s) || p.dir == "" {
		return s
	}
	return filepath.Join(p.dir, s)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// valueOf returns the value of key in mapping n, which has been checked.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// andList joins words as "a", "a and b" or "a, b and c".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// formatDuration formats d as parseDuration would read it, using days when
// d is a whole number of them.
func formatDuration(d time.Duration) string {
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// parseDuration parses Go duration syntax with an optional leading count of
// days: 30d, 1d12h, -2d.
func parseDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	body, neg := strings.CutPrefix(s, "-")
	digits := 0
	for digits < len(body) && body[digits] >= '0' && body[digits] <= '9' {
		digits++
	}
	if digits == 0 || digits == len(body) || body[digits] != 'd' {
		d, err := time.ParseDuration(s)
		return d, err == nil
	}
	days, err := strconv.ParseInt(body[:digits], 10, 64)
	if err != nil || days > int64(math.MaxInt64/day) {
		return 0, false
	}
	d := time.Duration(days) * day
	if rest := body[digits+1:]; rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 || d+r < d {
			return 0, false
		}
		d += r
	}
	if neg {
		d = -d
	}
	return d, true
}

// parseRate parses N/s, N/m, N/min or N/h into requests per second.
func parseRate(s string) (float64, bool) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	switch strings.TrimSpace(unit) {
	case "s":
		return n, true
	case "m", "min":
		return n / 60, true
	case "h":
		return n / 3600, true
	}
	return 0, false
}

// parseDays parses a day spec: a day (mon or monday, any case), a range of
// days that may wrap (fri-mon), or a comma list of those. Days come back in
// the order named; a day named twice is an error.
func parseDays(spec string) ([]time.Weekday, error) {
	var out []time.Weekday
	for part := range strings.SplitSeq(spec, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := parseDay(from)
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon..sun)", strings.TrimSpace(from))
		}
		b := a
		if isRange {
			if b, ok = parseDay(to); !ok {
				return nil, fmt.Errorf("%q is not a day (mon..sun)", strings.TrimSpace(to))
			}
		}
		for wd := a; ; wd = (wd + 1) % 7 {
			if slices.Contains(out, wd) {
				return nil, fmt.Errorf("%s is named twice", dayName(wd))
			}
			out = append(out, wd)
			if wd == b {
				break
			}
		}
	}
	return out, nil
}

// parseDay parses mon..sun or monday..sunday, in any case.
func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		if full := strings.ToLower(wd.String()); s == full || s == full[:3] {
			return wd, true
		}
	}
	return 0, false
}

func dayName(wd time.Weekday) string { return strings.ToLower(wd.String()[:3]) }

func (p *parser) stream(n *yaml.Node, st *Stream) error {
	f, err := p.fields(n, "stream", "allowed_origins", "window", "slow_consumer_timeout", "max_frame_bytes", "ring")
	if err != nil {
		return err
	}
	if v := f["allowed_origins"]; v != nil {
		items, err := p.list(v, "stream.allowed_origins")
		if err != nil {
			return err
		}
		for i, it := range items {
			field := fmt.Sprintf("stream.allowed_origins[%d]", i)
			o, err := p.str(it, field)
			if err != nil {
				return err
			}
			if _, err := path.Match(o, ""); err != nil || o == "" {
				return p.errorf(it, field, "%q is not a host pattern like *.example.com or https://app.example.com", o)
			}
			st.AllowedOrigins = append(st.AllowedOrigins, o)
		}
	}
	if v := f["window"]; v != nil {
		if st.Window, err = p.integer(v, "stream.window"); err != nil {
			return err
		}
		if st.Window < 1 || st.Window > 10000 {
			return p.errorf(v, "stream.window", "must be from 1 to 10000")
		}
	}
	if v := f["slow_consumer_timeout"]; v != nil {
		if st.SlowConsumerTimeout, err = p.duration(v, "stream.slow_consumer_timeout"); err != nil {
			return err
		}
		if st.SlowConsumerTimeout <= 0 {
			return p.errorf(v, "stream.slow_consumer_timeout", "must be positive")
		}
	}
	if v := f["max_frame_bytes"]; v != nil {
		if st.MaxFrameBytes, err = p.integer(v, "stream.max_frame_bytes"); err != nil {
			return err
		}
		if st.MaxFrameBytes < 256 || st.MaxFrameBytes > 16<<20 {
			return p.errorf(v, "stream.max_frame_bytes", "must be from 256 to 16777216")
		}
	}
	if v := f["ring"]; v != nil {
		if st.Ring, err = p.integer(v, "stream.ring"); err != nil {
			return err
		}
		if st.Ring < 64 || st.Ring > 1_000_000 {
			return p.errorf(v, "stream.ring", "must be from 64 to 1000000 events")
		}
	}
	return nil
}

func (p *parser) webhooks(n *yaml.Node, wh *Webhooks) error {
	f, err := p.fields(n, "webhooks", "allow_http", "allow_private", "timeout", "disable_after", "rotation_grace")
	if err != nil {
		return err
	}
	for key, dst := range map[string]*bool{"allow_http": &wh.AllowHTTP, "allow_private": &wh.AllowPrivate} {
		if v := f[key]; v != nil {
			if err := v.Decode(dst); err != nil || v.ShortTag() != "!!bool" {
				return p.errorf(v, "webhooks."+key, "must be true or false")
			}
		}
	}
	for key, dst := range map[string]*time.Duration{"timeout": &wh.Timeout, "disable_after": &wh.DisableAfter, "rotation_grace": &wh.RotationGrace} {
		if v := f[key]; v != nil {
			d, err := p.duration(v, "webhooks."+key)
			if err != nil {
				return err
			}
			if d <= 0 {
				return p.errorf(v, "webhooks."+key, "must be positive")
			}
			*dst = d
		}
	}
	if wh.AllowPrivate {
		p.warnf(f["allow_private"], "webhooks.allow_private", "deliveries may reach internal addresses (loopback, private networks, cloud metadata); meant for tests")
	}
	return nil
}
