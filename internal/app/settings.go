package app

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
)

// settings are the flags shared by the commands that open the database.
type settings struct {
	config, addr, db, tlsCert, tlsKey string
}

func (s *settings) register(fs *flag.FlagSet, server bool) {
	fs.StringVar(&s.config, "config", "", "YAML configuration `file` (env SLOTLINE_CONFIG; default none: the built-in defaults, one demo queue)")
	fs.StringVar(&s.db, "db", "", "database: sqlite:PATH or postgres://… (env SLOTLINE_DB; default the file's database, else sqlite:./slotline.db)")
	if server {
		fs.StringVar(&s.addr, "addr", "", "listen address HOST:PORT (env SLOTLINE_ADDR; default the file's listen, else 127.0.0.1:8080)")
		fs.StringVar(&s.tlsCert, "tls-cert", "", "TLS certificate `file` (with --tls-key: HTTPS, HTTP/1.1 and h2; default the file's tls, else plain HTTP)")
		fs.StringVar(&s.tlsKey, "tls-key", "", "TLS private key `file` (default the file's tls.key)")
	}
}

// load builds the configuration: flags beat the environment, which beats
// the file. Without a file the defaults apply: one demo queue, and (when
// demoClient) a demo client with a generated secret.
func (s *settings) load(getenv func(string) string, demoClient bool) (cfg *config.Config, demoSecret string, err error) {
	path := first(s.config, getenv("SLOTLINE_CONFIG"))
	if path != "" {
		if cfg, err = config.Load(path, getenv); err != nil {
			return nil, "", err
		}
	} else {
		cfg = config.Default()
		cfg.Queues = []config.Queue{config.DefaultQueue()}
		if demoClient {
			b := make([]byte, 24)
			_, _ = rand.Read(b)
			demoSecret = base64.RawURLEncoding.EncodeToString(b)
			cfg.Clients = []config.Client{{ID: "demo", Secret: demoSecret, Scopes: config.Scopes[:4]}} // not the admin scopes
		}
	}
	cfg.Listen = first(s.addr, getenv("SLOTLINE_ADDR"), cfg.Listen)
	cfg.Database = first(s.db, getenv("SLOTLINE_DB"), cfg.Database)
	if s.tlsCert != "" || s.tlsKey != "" {
		if s.tlsCert == "" || s.tlsKey == "" {
			return nil, "", &usageError{"--tls-cert and --tls-key go together"}
		}
		cfg.TLS = &config.TLS{Cert: s.tlsCert, Key: s.tlsKey}
	}
	if !strings.HasPrefix(cfg.Database, "sqlite:") && !strings.HasPrefix(cfg.Database, "postgres://") && !strings.HasPrefix(cfg.Database, "postgresql://") {
		return nil, "", &usageError{"database must be sqlite:PATH or postgres://…"}
	}
	return cfg, demoSecret, nil
}

// sources says where the settings that serve checks first came from, for
// its error messages.
type sources struct {
	listen, tls string
}

// sources names where the listen address and the TLS files of cfg were
// set: a flag, the environment, the file and line, or the default.
func (s *settings) sources(cfg *config.Config, getenv func(string) string) sources {
	var src sources
	switch {
	case s.addr != "":
		src.listen = "set by --addr"
	case getenv("SLOTLINE_ADDR") != "":
		src.listen = "set by SLOTLINE_ADDR"
	case cfg.ListenAt != "":
		src.listen = "set at " + cfg.ListenAt
	default:
		src.listen = "the default"
	}
	switch {
	case s.tlsCert != "":
		src.tls = "set by --tls-cert and --tls-key"
	case cfg.TLS != nil && cfg.TLS.At != "":
		src.tls = "set at " + cfg.TLS.At
	}
	return src
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func newLogger(w io.Writer, l config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func queuesOf(cfg *config.Config) []*booking.Queue {
	out := make([]*booking.Queue, len(cfg.Queues))
	for i, q := range cfg.Queues {
		out[i] = &booking.Queue{ID: q.ID, GenesysQueueID: q.GenesysQueueID, Name: q.Name, TimeZone: q.TimeZone, Calendar: q.Calendar,
			ScheduleGroupID: q.ScheduleGroupID, SMSFrom: q.SMSFrom, CallerID: q.CallerID, CallerIDName: q.CallerIDName, ScriptID: q.ScriptID,
			NotReachedWrapups: slices.Clone(q.NotReachedWrapups), Locale: q.Locale, SelfService: q.SelfService,
			CancelIfReachedWithin: q.CancelIfReachedWithin, NumberRules: &cfg.Queues[i].NumberRules, Admission: q.Admission,
			Notify: &cfg.Queues[i].Notify}
	}
	return out
}

func clientsOf(cfg *config.Config) []*auth.Client {
	out := make([]*auth.Client, len(cfg.Clients))
	for i, c := range cfg.Clients {
		out[i] = auth.NewClient(c.ID, c.Secret, c.Scopes, c.RateLimit, c.RateBurst)
	}
	return out
}

// parseFlags parses args, printing usage errors to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errHelp
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// setUsage sets fs's usage in the one style of every command: "Usage: slotline
// <synopsis>", a blank line, what the command does, then its flags with
// their defaults.
func setUsage(fs *flag.FlagSet, synopsis, about string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: slotline %s\n\n%s\n\n", synopsis, about)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintln(fs.Output(), "Flags: none")
			return
		}
		fmt.Fprintln(fs.Output(), "Flags:")
		fs.PrintDefaults()
	}
}
