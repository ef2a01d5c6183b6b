package config

import (
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/genesys"
)

const (
	maxWorkers = 256
	maxSpeed   = 1e6 // simulator clock speed
)

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
	// ConsoleClientID and ConsoleClientSecret are the OAuth client of the
	// console's "Sign in with Genesys Cloud" (grant type Code
	// Authorization; another client than ClientID), from
	// console_client_id and console_client_secret_env; both "" when the
	// console does not offer it, and always in sandbox mode. String and
	// GoString never print the secret.
	ConsoleClientID     string
	ConsoleClientSecret string `json:"-"`
	// RateLimit is the client-side limit in requests per second (default
	// 300 per minute, Genesys' documented limit per client-credentials
	// token): the deployment's, shared by every process on one
	// PostgreSQL database when Budget is "shared".
	RateLimit float64
	// Budget is "shared" (the default: on PostgreSQL in live mode every
	// process draws from one budget in the database; otherwise, SQLite or
	// sandbox, the process's own) or "process" (each process its own
	// bucket at RateLimit, so N processes send N × RateLimit).
	Budget string
	// MaxRetryAfter is the longest Retry-After waited out (default 180s).
	MaxRetryAfter time.Duration
	// CallTimeout bounds each call to Genesys (default 15s).
	CallTimeout time.Duration
	// ReconcileEvery is the period of the reconciliation job (default 5m).
	ReconcileEvery time.Duration
	// OutcomeWait is how long after a callback's last call or callback
	// communication ends its outcome waits for the agent's wrap-up code
	// (default 2m, at most 1h).
	OutcomeWait time.Duration
	// Workers is the number of sync workers, 1 to 256 (default 16).
	Workers int
	// LostCreateWindow is how long after a create whose answer was lost
	// the sync keeps searching Genesys for its callback before creating it
	// again (default 2m): it must outlast Genesys' analytics indexing
	// delay, or a callback may be created twice.
	LostCreateWindow time.Duration
	// CancelVerifyWindow is how long a cancel reads the callback back
	// after each disconnect (the bulk one, then the conversation's) before
	// recording the cancel as failed (default 30s).
	CancelVerifyWindow time.Duration
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
	redact := func(v string) string {
		if v == "" {
			return `""`
		}
		return `"<redacted>"`
	}
	return fmt.Sprintf("config.Genesys{Mode:%q, Region:%q, APIURL:%q, LoginURL:%q, ClientID:%q, ClientSecret:%s, ConsoleClientID:%q, ConsoleClientSecret:%s, "+
		"RateLimit:%g, Budget:%q, MaxRetryAfter:%d, CallTimeout:%d, ReconcileEvery:%d, OutcomeWait:%d, Workers:%d, LostCreateWindow:%d, CancelVerifyWindow:%d, Sandbox:%#v}",
		g.Mode, g.Region, g.APIURL, g.LoginURL, g.ClientID, redact(g.ClientSecret), g.ConsoleClientID, redact(g.ConsoleClientSecret),
		g.RateLimit, g.Budget, g.MaxRetryAfter, g.CallTimeout, g.ReconcileEvery, g.OutcomeWait, g.Workers, g.LostCreateWindow, g.CancelVerifyWindow, g.Sandbox)
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

// genesysCredentials lists the genesys keys that hold credentials.
var genesysCredentials = []string{"client_id_env", "client_id", "client_secret_env", "client_secret_file", "client_secret"}

// genesys reads the genesys block into g, which holds the defaults.
func (p *parser) genesys(n *yaml.Node, path string, g *Genesys) error {
	f, err := p.fields(n, path, append([]string{"mode", "region", "api_url", "login_url",
		"rate_limit", "budget", "max_retry_after", "call_timeout", "reconcile_every", "outcome_wait", "workers", "lost_create_window",
		"cancel_verify_window", "sandbox"},
		slices.Concat(genesysCredentials, consoleCredentials)...)...)
	if err != nil {
		return err
	}
	if err := p.decode(f, path, []decoder{{"mode", into(&g.Mode, p.oneOf("live", "sandbox"))}}); err != nil {
		return err
	}
	if f["mode"] == nil && slices.ContainsFunc(genesysCredentials, func(k string) bool { return f[k] != nil }) {
		g.Mode = "live"
	}
	if err := p.genesysURLs(f, path, g); err != nil {
		return err
	}
	err = p.decode(f, path, []decoder{
		{"rate_limit", into(&g.RateLimit, p.rate)},
		{"budget", into(&g.Budget, p.oneOf("shared", "process"))},
		{"max_retry_after", into(&g.MaxRetryAfter, p.positiveDuration)},
		{"call_timeout", into(&g.CallTimeout, p.positiveDuration)},
		{"reconcile_every", into(&g.ReconcileEvery, p.positiveDuration)},
		{"outcome_wait", into(&g.OutcomeWait, p.outcomeWait)},
		{"workers", into(&g.Workers, p.workers)},
		{"lost_create_window", into(&g.LostCreateWindow, p.positiveDuration)},
		{"cancel_verify_window", into(&g.CancelVerifyWindow, p.positiveDuration)},
		{"sandbox", onto(&g.Sandbox, p.sandbox)},
	})
	if err != nil {
		return err
	}
	if g.Mode == "sandbox" {
		for _, k := range slices.Concat([]string{"region", "api_url", "login_url"}, genesysCredentials, consoleCredentials) {
			if v := f[k]; v != nil {
				p.warnf(v, path+"."+k, "is ignored in sandbox mode, which runs the built-in simulator")
			}
		}
		return nil
	}
	return p.genesysLive(n, f, path, g)
}

// genesysLive checks that live mode has where to connect, and resolves the
// client credentials into g.
func (p *parser) genesysLive(n *yaml.Node, f map[string]*yaml.Node, path string, g *Genesys) error {
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
	return p.genesysConsole(f, path, g)
}

// genesysURLs resolves region, or api_url and login_url, into g.
func (p *parser) genesysURLs(f map[string]*yaml.Node, path string, g *Genesys) error {
	if v := f["region"]; v != nil {
		return p.region(f, path, g)
	}
	api, login := f["api_url"], f["login_url"]
	switch {
	case api == nil && login == nil:
		return nil
	case login == nil:
		return p.errorf(api, path+".login_url", "is required when api_url is given")
	case api == nil:
		return p.errorf(login, path+".api_url", "is required when login_url is given")
	}
	var err error
	if g.APIURL, err = p.baseURL(api, path+".api_url"); err != nil {
		return err
	}
	if g.LoginURL, err = p.baseURL(login, path+".login_url"); err != nil {
		return err
	}
	return nil
}

// region resolves f's region, which must come without api_url and
// login_url, into g.
func (p *parser) region(f map[string]*yaml.Node, path string, g *Genesys) error {
	v := f["region"]
	for _, k := range []string{"api_url", "login_url"} {
		if w := f[k]; w != nil {
			later, key := w, k
			if v.Line > w.Line {
				later, key = v, "region"
			}
			return p.errorf(later, path+"."+key, "give region, or api_url and login_url, not both")
		}
	}
	region, err := p.str(v, path+".region")
	if err != nil {
		return err
	}
	api, login, err := genesys.RegionURLs(region)
	if err != nil {
		return p.errorf(v, path+".region", "%q is not a Genesys Cloud region domain (like mypurecloud.com) or AWS region name (like us-east-1); for other hosts give api_url and login_url", region)
	}
	g.Region, g.APIURL, g.LoginURL = region, api, login
	return nil
}

// outcomeWait reads how long an outcome waits for a wrap-up: positive, at
// most an hour (the reservation stays in progress meanwhile).
func (p *parser) outcomeWait(n *yaml.Node, path string) (time.Duration, error) {
	d, err := p.positiveDuration(n, path)
	if err == nil && d > time.Hour {
		err = p.errorf(n, path, "%s is more than 1h", n.Value)
	}
	return d, err
}

// workers reads the number of sync workers, 1 to maxWorkers.
func (p *parser) workers(n *yaml.Node, path string) (int, error) {
	w, err := p.integer(n, path)
	if err != nil {
		return 0, err
	}
	if w < 1 || w > maxWorkers {
		return 0, p.errorf(n, path, "%d is not between 1 and %d", w, maxWorkers)
	}
	return w, nil
}

// sandbox reads the genesys.sandbox block into s, which holds the defaults.
func (p *parser) sandbox(n *yaml.Node, path string, s *Sandbox) error {
	_, err := p.block(n, path,
		decoder{"speed", into(&s.Speed, p.speed)},
		decoder{"answer_rate", into(&s.AnswerRate, p.answerRate)},
		decoder{"ring_time", into(&s.RingTime, p.positiveDuration)},
		decoder{"talk_time", into(&s.TalkTime, p.positiveDuration)},
		decoder{"addr", into(&s.Addr, p.hostPort)},
	)
	return err
}

// speed reads the simulator's clock speed: more than 0, at most maxSpeed.
func (p *parser) speed(n *yaml.Node, path string) (float64, error) {
	x, err := p.number(n, path)
	if err != nil {
		return 0, err
	}
	if x <= 0 || x > maxSpeed {
		return 0, p.errorf(n, path, "%s is not more than 0 and at most %g", n.Value, float64(maxSpeed))
	}
	return x, nil
}

// answerRate reads a probability, 0 to 1.
func (p *parser) answerRate(n *yaml.Node, path string) (float64, error) {
	x, err := p.number(n, path)
	if err != nil {
		return 0, err
	}
	if x < 0 || x > 1 {
		return 0, p.errorf(n, path, "%s is not between 0 and 1", n.Value)
	}
	return x, nil
}
