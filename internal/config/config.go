// SPDX-License-Identifier: Apache-2.0

// Package config loads Slotline's YAML configuration file.
//
// A complete file:
//
//	listen: 127.0.0.1:8080
//	database: sqlite:./slotline.db          # or postgres://user@host/db
//	tls: {cert: server.crt, key: server.key}
//	public_url: https://callbacks.example.com
//	http:
//	  write_timeout: 30s                     # per response; a stream keeps its own once upgraded
//	  max_connections: 4096                  # open at once, streams included; 0 = no cap
//	  max_connections_per_address: 0         # per source IP; 0 = no cap (behind a proxy, all share its address)
//	log: {level: info, format: json}        # level debug|info|warn|error; format json|text
//	clients:
//	  - id: website
//	    secret_env: SLOTLINE_WEBSITE_SECRET # or secret_file, or secret (plain, for tests)
//	    scopes: [callback:read, callback:write, webhook:read, webhook:write]
//	    rate_limit: 50/s                     # optional; N/s, N/m (or N/min) or N/h; absent = unlimited
//	token_ttl: 1h
//	login_throttle:                         # failed token requests; 429 + Retry-After beyond
//	  per_client: 10/min                     # per client id and source address; off = no limit
//	  per_client_burst: 5
//	  per_address: 30/min                    # per source address, any client id; off = no limit
//	  per_address_burst: 20
//	retention: {erase_numbers_after: 90d, events: 90d, audit: 365d}   # optional; 0 = keep
//	memory_limit: 512MiB                    # optional: the Go runtime's soft limit; GOMEMLIMIT beats it; off = none
//	genesys:                                # optional; absent = sandbox (the built-in simulator)
//	  mode: live                             # live|sandbox; default live when credentials are given
//	  region: mypurecloud.com                # a region domain or AWS region name (us-east-1)
//	  # or: api_url: https://api.mypurecloud.com and login_url: https://login.mypurecloud.com
//	  client_id_env: GENESYS_CLIENT_ID       # or client_id (plain)
//	  client_secret_env: GENESYS_CLIENT_SECRET # or client_secret_file, or client_secret (plain)
//	  rate_limit: 300/min
//	  max_retry_after: 180s                  # a longer Retry-After is an error, not waited out
//	  call_timeout: 15s
//	  reconcile_every: 5m
//	  outcome_wait: 2m                       # how long a callback's outcome waits for the wrap-up; at most 1h
//	  workers: 16                            # 1 to 256
//	  sandbox:                               # only used in sandbox mode
//	    speed: 1                             # simulator clock speed
//	    answer_rate: 0.8                     # 0 to 1
//	    ring_time: 10s
//	    talk_time: 30s
//	    addr: 127.0.0.1:0
//	sms:
//	  text: "We tried to call you back about {reason}."   # optional: the missed message of every locale without its own; at most 765 characters
//	  templates:                           # optional: per locale and kind (confirm, remind, cancel, missed), over the built-in en, de, fr, es
//	    de: {confirm: "Rückruf am {time}.\nÄndern: {manage_url}"}   # placeholders {time} {queue} {reason} {manage_url}
//	queues:
//	  - id: queue_12345
//	    genesys_queue_id: 7f1c9a2e-0000-4000-8000-000000000001
//	    name: Support
//	    timezone: America/New_York
//	    sms_from: "+18005550100"             # optional E.164 number the SMS to customers are sent from
//	    notify: {confirm: true, remind_before: 15m, on_cancel: true, on_missed: true, quiet_hours: "21:00-08:00"}   # default: on_missed only
//	    caller_id: "+18005550100"            # optional E.164
//	    caller_id_name: Acme Support         # optional, at most 100 characters
//	    script_id: 3b0c7c4e-0000-4000-8000-000000000002   # optional
//	    not_reached_wrapups: [6a1e0000-0000-4000-8000-00000000000a]   # optional; wrap-up code ids (or names) meaning "not reached"
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
//	publishable_keys:                       # optional: keys a browser may hold (the widget's)
//	  - id: website-widget                   # the client_id of its reservations
//	    key_env: SLOTLINE_WIDGET_KEY         # or key_file; the key starts with pk_, at least 24 characters
//	    queues: [queue_12345]                # it reads availability and creates reservations on these only
//	    origins: [https://www.example.com]   # from these browser origins only (scheme://host[:port])
//	    rate: 50/s                           # requests with the key (default 50/s, burst 100); off = no limit
//	    burst: 100
//	    per_address: 5/s                     # requests with the key per source address (default 5/s, burst 20)
//	    per_address_burst: 20
//	proof_of_work:                          # asked of creates through a publishable key and of /book
//	  max_number: 50000                      # the cost: about half as many SHA-256 hashes in the browser; 0 = off
//	  ttl: 5m                                # how long a challenge can be solved and used
//	  per_address: 5/s                       # challenges per source address (default 5/s, burst 20)
//	  per_address_burst: 20
//	operators:                              # optional: local operators of the console
//	  - username: ada
//	    password_hash: $argon2id$v=19$m=65536,t=3,p=4$…   # or bcrypt $2b$…; make one with: slotline operator hash
//	    role: supervisor                     # viewer|supervisor|admin
//	    queues: [queue_12345]                # optional; absent = all queues
//	console:
//	  session_idle: 30m                      # a session ends after this long without a request
//	  session_max: 12h                       # and this long after sign-in at the latest
//	  roles: {admin: ["Slotline Admin"], supervisor: [], viewer: []}   # Genesys roles or groups per role (Genesys sign-in, later)
//
// Durations use Go's syntax plus a leading d unit for days (30d, 1d12h).
// An empty value means the same as an absent key: the default. Unknown keys
// are errors, and every error is a *Error naming the file, line and field.
package config

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxSMSText is five concatenated GSM-7 SMS segments of 153 characters.
const maxSMSText = 765

// Config is the whole configuration.
type Config struct {
	// Listen is the address the HTTP server listens on (default 127.0.0.1:8080).
	Listen string
	// ListenAt is where the file set Listen ("FILE:LINE: listen"), or ""
	// when it did not.
	ListenAt string
	// Database is sqlite:PATH or a postgres:// URL (default sqlite:./slotline.db).
	Database string
	// TLS is nil when the server speaks plain HTTP.
	TLS *TLS
	// PublicURL is the absolute http(s) URL the service is reached at, or "".
	PublicURL string
	// HTTP bounds response writing time and connections.
	HTTP    HTTP
	Log     Log
	Clients []Client
	// TokenTTL is the lifetime of an access token (default 1h).
	TokenTTL time.Duration
	// LoginThrottle limits failed token requests.
	LoginThrottle LoginThrottle
	Retention     Retention
	Stream        Stream
	Webhooks      Webhooks
	// Genesys says how to reach Genesys Cloud, or the built-in simulator.
	Genesys Genesys
	SMS     SMS
	Queues  []Queue
	// SelfService configures the customers' self-service links.
	SelfService SelfService
	// PublishableKeys are the keys browsers may hold (the widget's).
	PublishableKeys []PublishableKey
	// ProofOfWork is the cost asked of creates through a publishable key
	// and of the booking page.
	ProofOfWork ProofOfWork
	// Operators are the console's local operators.
	Operators []Operator
	// Console configures the operators' console.
	Console Console
	// Warnings holds one line per setting that is allowed but questionable,
	// in the same file:line: field: message form as errors.
	Warnings []string
	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (memory_limit; 0: none, or GOMEMLIMIT's): serve sets it with
	// debug.SetMemoryLimit unless GOMEMLIMIT is set.
	MemoryLimit int64
}

// TLS holds the server's certificate and key files.
type TLS struct {
	// Cert and Key are paths, resolved relative to the config file's directory.
	Cert, Key string
	// At is where the file set them ("FILE:LINE: tls"), or "".
	At string
}

// Log configures the service's logger.
type Log struct {
	// Level is debug, info (the default), warn or error.
	Level string
	// Format is json (the default) or text.
	Format string
}

// Retention says how long personal data and the logs are kept.
type Retention struct {
	// EraseNumbersAfter is how long after a callback its phone number is
	// erased; zero means numbers are kept.
	EraseNumbersAfter time.Duration
	// Events is how long events are kept in the event log (default
	// DefaultEventRetention; zero keeps them): never one that a durable
	// stream cursor still in use has not acknowledged, nor one a pending
	// webhook delivery still has to send.
	Events time.Duration
	// Audit is how long audit entries are kept (default
	// DefaultAuditRetention; zero keeps them); a pruned prefix leaves a
	// signed checkpoint that `slotline audit verify` starts from.
	Audit time.Duration
}

// Defaults of retention.
const (
	DefaultEventRetention = 90 * 24 * time.Hour
	DefaultAuditRetention = 365 * 24 * time.Hour
)

// SMS configures the SMS sent to customers.
type SMS struct {
	// Text is the missed-callback message of every locale without a
	// templates.<locale>.missed of its own, at most 765 characters; ""
	// means the built-in ones (kept from before templates existed).
	Text string
	// Templates are the configured messages by locale (canonical BCP 47)
	// and kind (confirm, remind, cancel, missed), over the built-in ones
	// (notify.Builtin).
	Templates map[string]map[string]string
}

// Default returns the configuration used for every absent setting, with no
// clients and no queues, and Genesys in sandbox mode.
func Default() *Config {
	return &Config{
		Listen:   "127.0.0.1:8080",
		Database: "sqlite:./slotline.db",
		HTTP:     HTTP{WriteTimeout: DefaultWriteTimeout, MaxConnections: DefaultMaxConnections},
		Log:      Log{Level: "info", Format: "json"},
		TokenTTL: time.Hour,
		Stream:   Stream{MaxSubscriptionsPerClient: DefaultMaxSubscriptionsPerClient},
		SelfService: SelfService{LinkTTL: 24 * time.Hour, PerToken: 30.0 / 60, PerTokenBurst: 10,
			PerAddress: 120.0 / 60, PerAddressBurst: 60},
		ProofOfWork: DefaultProofOfWork,
		Console:     Console{SessionIdle: DefaultSessionIdle, SessionMax: DefaultSessionMax},
		Retention:   Retention{Events: DefaultEventRetention, Audit: DefaultAuditRetention},
		LoginThrottle: LoginThrottle{
			PerClient: 10.0 / 60, PerClientBurst: 5,
			PerAddress: 30.0 / 60, PerAddressBurst: 20,
		},
		Genesys: Genesys{
			Mode:           "sandbox",
			RateLimit:      300.0 / 60, // Genesys' documented limit: genesys.DefaultRateLimit
			Budget:         "shared",
			MaxRetryAfter:  180 * time.Second,
			CallTimeout:    15 * time.Second,
			ReconcileEvery: 5 * time.Minute,
			OutcomeWait:    2 * time.Minute,
			Workers:        16,
			// syncer.DefaultLostCreateWindow and DefaultCancelVerifyWindow.
			LostCreateWindow:   2 * time.Minute,
			CancelVerifyWindow: 30 * time.Second,
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

// config reads the root mapping into c, which holds the defaults. The
// blocks are read in a fixed order, so that of several errors the same one
// is reported every time; queues, which is required, comes last.
func (p *parser) config(root *yaml.Node, c *Config) error {
	blocks := []decoder{
		{"listen", into(&c.Listen, p.hostPort)},
		{"database", into(&c.Database, p.database)},
		{"tls", into(&c.TLS, p.tls)},
		{"public_url", into(&c.PublicURL, p.publicURL)},
		{"http", onto(&c.HTTP, p.http)},
		{"log", onto(&c.Log, p.log)},
		{"clients", into(&c.Clients, p.clients)},
		{"token_ttl", into(&c.TokenTTL, p.positiveDuration)},
		{"login_throttle", onto(&c.LoginThrottle, p.loginThrottle)},
		{"retention", onto(&c.Retention, p.retention)},
		{"genesys", onto(&c.Genesys, p.genesys)},
		{"stream", onto(&c.Stream, p.stream)},
		{"memory_limit", into(&c.MemoryLimit, p.memoryLimit)},
		{"webhooks", onto(&c.Webhooks, p.webhooks)},
		{"sms", onto(&c.SMS, p.sms)},
		{"self_service", onto(&c.SelfService, p.selfService)},
		{"proof_of_work", onto(&c.ProofOfWork, p.proofOfWork)},
		{"console", onto(&c.Console, p.console)},
	}
	f, err := p.fields(root, "", append(keys(blocks), "queues", "publishable_keys", "operators")...)
	if err != nil {
		return err
	}
	if err := p.decode(f, "", blocks); err != nil {
		return err
	}
	if v := f["listen"]; v != nil {
		c.ListenAt = p.at(v, "listen")
	}
	if c.Queues, err = p.queues(f["queues"], "queues"); err != nil {
		return err
	}
	// After the queues, which the keys name.
	if v := f["publishable_keys"]; v != nil {
		c.PublishableKeys, err = p.publishableKeys(v, "publishable_keys", c)
	}
	if v := f["operators"]; v != nil && err == nil {
		c.Operators, err = p.operators(v, "operators", c.Queues)
	}
	return err
}

// database reads sqlite:PATH or a postgres:// or postgresql:// URL.
func (p *parser) database(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	// The value may hold a password: never quote it.
	switch {
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
	case strings.HasPrefix(s, "sqlite:"):
		if s == "sqlite:" {
			return "", p.errorf(n, path, "sqlite: needs a file name, like sqlite:./slotline.db")
		}
	default:
		return "", p.errorf(n, path, "must start with sqlite:, postgres:// or postgresql://")
	}
	return s, nil
}

// tls reads the tls block, in which cert and key are both required.
func (p *parser) tls(n *yaml.Node, path string) (*TLS, error) {
	f, err := p.fields(n, path, "cert", "key")
	if err != nil {
		return nil, err
	}
	var paths [2]string
	for i, key := range []string{"cert", "key"} {
		v := f[key]
		if v == nil {
			return nil, p.errorf(n, join(path, key), "is required when tls is given")
		}
		s, err := p.str(v, join(path, key))
		if err != nil {
			return nil, err
		}
		paths[i] = p.path(s)
	}
	return &TLS{Cert: paths[0], Key: paths[1], At: p.at(n, path)}, nil
}

// publicURL reads an absolute http or https URL.
func (p *parser) publicURL(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", p.errorf(n, path, "%q is not an absolute http or https URL", s)
	}
	return s, nil
}

// log reads the log block into l, which holds the defaults.
func (p *parser) log(n *yaml.Node, path string, l *Log) error {
	_, err := p.block(n, path,
		decoder{"level", into(&l.Level, p.oneOf("debug", "info", "warn", "error"))},
		decoder{"format", into(&l.Format, p.oneOf("json", "text"))},
	)
	return err
}

// retention reads the retention block into r.
func (p *parser) retention(n *yaml.Node, path string, r *Retention) error {
	_, err := p.block(n, path, decoder{"erase_numbers_after", into(&r.EraseNumbersAfter, p.duration)},
		decoder{"events", into(&r.Events, p.duration)},
		decoder{"audit", into(&r.Audit, p.duration)})
	return err
}

// sms reads the sms block into s.
func (p *parser) sms(n *yaml.Node, path string, s *SMS) error {
	_, err := p.block(n, path, decoder{"text", into(&s.Text, p.template)},
		decoder{"templates", into(&s.Templates, p.templates)})
	return err
}
