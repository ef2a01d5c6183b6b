package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// queueFlags collects repeated --queue ID[:NAME[:MODE]] flags.
type queueFlags []gcsim.Queue

func (q *queueFlags) String() string {
	var parts []string
	for _, x := range *q {
		if x.Name != "" {
			parts = append(parts, x.ID+" ("+x.Name+")")
		} else {
			parts = append(parts, x.ID)
		}
	}
	return strings.Join(parts, ",")
}

func (q *queueFlags) Set(v string) error {
	id, rest, _ := strings.Cut(v, ":")
	name, mode, _ := strings.Cut(rest, ":")
	if id == "" || (mode != "" && mode != gcsim.AgentFirst && mode != gcsim.CustomerFirst) {
		return fmt.Errorf("want ID[:NAME[:AgentFirst|CustomerFirst]], got %q", v)
	}
	*q = append(*q, gcsim.Queue{ID: id, Name: name, CallbackMode: mode})
	return nil
}

// stringFlags collects a repeated string flag.
type stringFlags []string

func (f *stringFlags) String() string { return strings.Join(*f, ",") }

func (f *stringFlags) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// simCmd runs the Genesys Cloud simulator until ctx is cancelled.
func simCmd(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	setUsage(fs, "sim [flags]", "Runs the Genesys Cloud simulator on its own (real paths and shapes, an adjustable clock, an\nadmin API under /sim/), for integration tests against Slotline or other clients.")
	addr := fs.String("addr", "127.0.0.1:8090", "listen address HOST:PORT")
	clientID := fs.String("client-id", gcsim.DefaultClientID, "accepted OAuth client id")
	clientSecret := fs.String("client-secret", gcsim.DefaultClientSecret, "accepted OAuth client secret")
	speed := fs.Float64("speed", 1, "clock speed relative to real time (60: a minute per second; 0: stopped, advance with POST /sim/clock)")
	answerRate := fs.Float64("answer-rate", 0.8, "probability that the customer answers a callback's call (0 to 1)")
	var queues queueFlags
	fs.Var(&queues, "queue", "known queue `ID[:NAME[:MODE]]`, MODE AgentFirst (default) or CustomerFirst (repeatable; default "+gcsim.DefaultQueueID+")")
	rateLimit := fs.Float64("rate-limit", 0, "API requests per second per OAuth client before 429 (its allowance a minute is 60 times that; default 0: no limit)")
	failureRate := fs.Float64("failure-rate", 0, "fraction of API calls that fail at random (0 to 1; default 0: none)")
	failureStatus := fs.Int("failure-status", 429, "status of the random failures")
	seed := fs.Int64("seed", 0, "random seed for answers and random failures (default 0: pick one)")
	tokenTTL := fs.Duration("token-ttl", 24*time.Hour, "access token lifetime")
	heartbeat := fs.Duration("heartbeat", 30*time.Second, "notification heartbeat interval")
	logLevel := fs.String("log-level", "info", "log level: debug (every request and callback change), info, warn, error")
	var consoleRedirects stringFlags
	fs.Var(&consoleRedirects, "console-redirect-uri", "redirect `URL` registered on the console sign-in client "+gcsim.DefaultConsoleClientID+
		", e.g. http://127.0.0.1:8080/console/oauth/callback (repeatable; default none)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	switch {
	case *speed < 0:
		return &usageError{"--speed must not be negative"}
	case *answerRate < 0 || *answerRate > 1:
		return &usageError{"--answer-rate must be between 0 and 1"}
	case *failureRate < 0 || *failureRate > 1:
		return &usageError{"--failure-rate must be between 0 and 1"}
	case *failureStatus < 400 || *failureStatus > 599:
		return &usageError{"--failure-status must be a 4xx or 5xx status"}
	case *rateLimit < 0:
		return &usageError{"--rate-limit must not be negative"}
	case *clientID == "" || *clientSecret == "":
		return &usageError{"--client-id and --client-secret must not be empty"}
	case *tokenTTL <= 0 || *heartbeat <= 0:
		return &usageError{"--token-ttl and --heartbeat must be positive"}
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	rate := *answerRate
	if rate == 0 {
		rate = -1 // gcsim reads 0 as "default"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return &usageError{"--log-level must be debug, info, warn or error"}
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "gcsim")
	sim := gcsim.New(gcsim.Options{
		ClientID: *clientID, ClientSecret: *clientSecret, TokenTTL: *tokenTTL,
		Clock: gcsim.NewClock(time.Now(), *speed), AnswerRate: rate, Seed: *seed,
		HeartbeatEvery: *heartbeat, Queues: queues, Logger: logger,
	})
	defer sim.Close()
	if len(consoleRedirects) > 0 {
		sim.SetCodeClient(gcsim.CodeClient{ID: gcsim.DefaultConsoleClientID, Secret: gcsim.DefaultConsoleClientSecret, RedirectURIs: consoleRedirects})
	}
	sim.SetRateLimit(*rateLimit)
	sim.SetFailureRate(*failureStatus, *failureRate, time.Second)
	base, err := sim.Start(*addr)
	if err != nil {
		return err
	}
	if len(queues) == 0 {
		queues = queueFlags{{ID: gcsim.DefaultQueueID, Name: "Sim Queue"}}
	}
	fmt.Fprintf(stdout, `
Genesys Cloud simulator listening on %s (API and login base URL).
Credentials: client_id %s, client_secret %s
Console sign-in: client_id %s, client_secret %s, redirect URIs %s; users %s (password %s)
Queues: %s
Clock speed %gx, answer rate %g, rate limit %s, random failures %g (status %d).

Get a token:
  curl -s -u %s:%s -d grant_type=client_credentials %s/oauth/token

Admin API (no auth):
  POST %[1]s/sim/clock                      {"advance":"10m"} and/or {"speed":60}; GET shows the clock
  POST %[1]s/sim/faults                     {"method":"POST","pathPrefix":"/api/v2/conversations/callbacks","status":429,"retryAfter":"2s","count":1,"latency":"0s","loseResponse":false}
  POST %[1]s/sim/failure-rate               {"status":503,"rate":0.1,"retryAfter":"1s"}
  POST %[1]s/sim/rate-limit                 {"perSecond":50} or {"perMinute":180} (per OAuth client)
  POST %[1]s/sim/answer-rate                {"rate":0.5}
  POST %[1]s/sim/topic-rejections           {"topic":"v2.routing.queues.ID.conversations.callbacks","reason":"…"}
  GET  %[1]s/sim/callbacks | /sim/sms | /sim/stats
  POST %[1]s/sim/tokens/revoke
  POST %[1]s/sim/channels/{id}/expire | /sim/channels/{id}/socket-closing
  POST %[1]s/sim/sockets/drop
  POST %[1]s/sim/conversations/{id}/reschedule   {"at":"2026-06-01T15:00:00Z"}
  POST %[1]s/sim/conversations/{id}/disconnect
  GET  %[1]s/sim/users; POST {"name","email","password","roles","groups"}; DELETE /sim/users/{id}
  PUT  %[1]s/sim/oauth/clients/{id}         {"secret","grantType":"CODE","redirectUris":["…/console/oauth/callback"]}

`, base, *clientID, *clientSecret,
		gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, redirectsText(consoleRedirects), simUsersText(sim.Users()), gcsim.DefaultUserPassword,
		queues.String(), *speed, *answerRate, rateText(*rateLimit), *failureRate, *failureStatus,
		*clientID, *clientSecret, base)
	logger.Info("simulator started", "url", base, "speed", *speed, "answer_rate", *answerRate, "queues", len(queues))
	<-ctx.Done()
	logger.Info("simulator stopping")
	return nil
}

func redirectsText(uris []string) string {
	if len(uris) == 0 {
		return "none (--console-redirect-uri)"
	}
	return strings.Join(uris, ", ")
}

func simUsersText(users []gcsim.User) string {
	emails := make([]string, len(users))
	for i, u := range users {
		emails[i] = u.Email
	}
	return strings.Join(emails, ", ")
}

func rateText(perSecond float64) string {
	if perSecond <= 0 {
		return "none"
	}
	return fmt.Sprintf("%g/s", perSecond)
}
