package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeChecksFirst: a TLS file that cannot be read or a listen address
// that cannot be taken stops serve before anything starts: no banner, no
// demo secret, no database file, and the message names where the setting
// came from (flag, environment, or file and line).
func TestServeChecksFirst(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().String()
	dir := t.TempDir()
	cfgWith := func(name, extra string) string {
		path := filepath.Join(dir, name)
		body := "database: sqlite:" + filepath.Join(dir, name+".db") + "\n" + extra +
			"queues:\n  - id: q1\n    timezone: America/New_York\n    hours: 24/7\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tlsFile := cfgWith("tls.yaml", "tls:\n  cert: missing.crt\n  key: missing.key\n")
	listenFile := cfgWith("listen.yaml", "listen: "+taken+"\n")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		db   string // the database file that must not appear
		want []string
	}{
		{"tls flags", []string{"--tls-cert", filepath.Join(dir, "no.crt"), "--tls-key", filepath.Join(dir, "no.key"),
			"--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "a.db")}, nil, "a.db",
			[]string{"no.crt", "set by --tls-cert and --tls-key"}},
		{"tls in the file", []string{"--config", tlsFile, "--addr", "127.0.0.1:0"}, nil, "tls.yaml.db",
			[]string{"missing.crt", tlsFile + ":3: tls"}},
		{"addr flag", []string{"--addr", taken, "--db", "sqlite:" + filepath.Join(dir, "b.db")}, nil, "b.db",
			[]string{"listen on " + taken, "set by --addr"}},
		{"addr from the environment", []string{"--db", "sqlite:" + filepath.Join(dir, "c.db")},
			map[string]string{"SLOTLINE_ADDR": taken}, "c.db", []string{"listen on " + taken, "set by SLOTLINE_ADDR"}},
		{"listen in the file", []string{"--config", listenFile}, nil, "listen.yaml.db",
			[]string{"listen on " + taken, listenFile + ":2: listen"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), append([]string{"slotline", "serve"}, tt.args...),
				func(k string) string { return tt.env[k] }, nil, &stdout, &stderr)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if stdout.Len() > 0 {
				t.Errorf("serve printed before it failed:\n%s", stdout.String())
			}
			if strings.Contains(stderr.String(), "slotline started") {
				t.Errorf("serve logged its start: %s", stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, tt.db)); !os.IsNotExist(err) {
				t.Errorf("the database %s was created (%v)", tt.db, err)
			}
		})
	}
}

// TestServeCapsConnections: serve puts http.max_connections on its
// listener: past it a connection is closed without an answer, and the
// refusal is counted in the metrics.
func TestServeCapsConnections(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + filepath.Join(dir, "s.db") + "\nlisten: 127.0.0.1:0\nhttp: {max_connections: 2, write_timeout: 5s}\n" +
		"queues:\n  - id: q1\n    timezone: America/New_York\n    hours: 24/7\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"slotline", "serve", "--config", cfg}, func(string) string { return "" }, nil, io.Discard, pw)
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := regexp.MustCompile(`"addr":"([^"]+)"`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		t.Fatal("serve did not log its address")
	}
	get := func(c net.Conn, path string) (string, error) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: slotline\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		_, err = get(c, "/healthz")
		if served := err == nil; served != (i < 2) {
			t.Fatalf("connection %d: served %v (%v), want %v", i+1, served, err, i < 2)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection %d was neither served nor closed", i+1)
		}
	}
	metrics, err := get(conns[0], "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if want := `slotline_http_connections_refused_total{reason="max_connections"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
	if want := "slotline_http_connections 2"; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}
