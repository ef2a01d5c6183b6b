package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheckCmd runs "slotline healthcheck [--url URL]": GET /healthz of
// the local server (the address of SLOTLINE_ADDR, else the default), exit
// status 0 on a 200 and 1 otherwise. It is the container's HEALTHCHECK,
// whose distroless image has no curl.
func healthcheckCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	u := fs.String("url", "", "the health URL (default: http://ADDR/healthz with ADDR from SLOTLINE_ADDR or 127.0.0.1:8080; a wildcard host is asked on 127.0.0.1)")
	timeout := fs.Duration("timeout", 4*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: slotline healthcheck [--url URL] [--timeout D]\n\nAsks the running server's /healthz; exit status 0 when it answers 200.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	target := *u
	if target == "" {
		target = "http://" + localAddr(first(getenv("SLOTLINE_ADDR"), "127.0.0.1:8080")) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return &usageError{fmt.Sprintf("--url: %v", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "ok: %s\n", target)
	return nil
}

// localAddr is addr as a client on this host dials it: a wildcard or
// empty host becomes 127.0.0.1.
func localAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
