package netguard_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slotline/slotline/internal/netguard"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr string
		// want is a substring of the reason the zero Policy gives ("" =
		// allowed); private is whether AllowPrivate lets it through.
		want    string
		private bool
	}{
		// Public addresses.
		{"8.8.8.8", "", false},
		{"1.1.1.1", "", false},
		{"100.63.255.255", "", false},
		{"100.128.0.0", "", false},
		{"172.32.0.1", "", false},
		{"2606:4700:4700::1111", "", false},
		{"2a00:1450:4001:80b::200e", "", false},
		{"::ffff:8.8.8.8", "", false},
		{"64:ff9b::808:808", "", false}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", "", false},  // 6to4 of 8.8.8.8

		// IPv4.
		{"0.0.0.0", "unspecified", false},
		{"0.1.2.3", "this network", false},
		{"127.0.0.1", "loopback", true},
		{"127.255.255.254", "loopback", true},
		{"10.0.0.1", "private", true},
		{"172.16.0.1", "private", true},
		{"172.31.255.255", "private", true},
		{"192.168.1.1", "private", true},
		{"100.64.0.1", "CGNAT", true},
		{"100.127.255.255", "CGNAT", true},
		{"169.254.1.1", "link-local", false},
		{"224.0.0.1", "multicast", false},
		{"239.255.255.250", "multicast", false},
		{"255.255.255.255", "broadcast", false},
		{"240.0.0.1", "reserved", false},
		{"192.0.0.8", "IETF", false},
		{"192.0.2.1", "documentation", false},
		{"198.51.100.7", "documentation", false},
		{"203.0.113.9", "documentation", false},
		{"198.18.0.1", "benchmarking", false},
		{"198.19.255.255", "benchmarking", false},

		// Cloud metadata, refused even with AllowPrivate.
		{"169.254.169.254", "metadata", false},
		{"169.254.170.2", "metadata", false},
		{"100.100.100.200", "metadata", false},
		{"fd00:ec2::254", "metadata", false},
		{"168.63.129.16", "metadata", false},
		{"::ffff:169.254.169.254", "metadata", false},
		{"64:ff9b::a9fe:a9fe", "metadata", false},

		// IPv6.
		{"::", "unspecified", false},
		{"::1", "loopback", true},
		{"fc00::1", "private", true},
		{"fd12:3456:789a::1", "private", true},
		{"fe80::1", "link-local", false},
		{"fe80::1%eth0", "link-local", false},
		{"febf::1", "link-local", false},
		{"fec0::1", "site-local", false},
		{"ff02::1", "multicast", false},
		{"ff05::2", "multicast", false},
		{"2001:db8::1", "documentation", false},
		{"3fff::1", "documentation", false},
		{"2001:2::1", "benchmarking", false},
		{"2001::1", "Teredo", false},
		{"100::1", "discard", false},
		{"64:ff9b:1::a", "NAT64", false},
		{"4000::1", "reserved", false},
		{"1::1", "reserved", false},

		// IPv4 embedded in IPv6.
		{"::ffff:127.0.0.1", "loopback address (IPv4-mapped)", true},
		{"::ffff:10.1.2.3", "private address (IPv4-mapped)", true},
		{"::ffff:0.0.0.0", "unspecified address (IPv4-mapped)", false},
		{"::ffff:169.254.0.1", "link-local address (IPv4-mapped)", false},
		{"::127.0.0.1", "IPv4-compatible", false},
		{"::8.8.8.8", "IPv4-compatible", false},
		{"64:ff9b::7f00:1", "loopback address (NAT64)", true},
		{"64:ff9b::a00:1", "private address (NAT64)", true},
		{"2002:7f00:1::", "loopback address (6to4)", true},
		{"2002:c0a8:101::1", "private address (6to4)", true},
	} {
		ip := netip.MustParseAddr(c.addr)
		got := netguard.Policy{}.Check(ip)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("Check(%s) = %q, want %q", c.addr, got, c.want)
		}
		got = netguard.Policy{AllowPrivate: true}.Check(ip)
		if allowed := got == ""; allowed != (c.want == "" || c.private) {
			t.Errorf("AllowPrivate: Check(%s) = %q, want allowed = %v", c.addr, got, !allowed)
		}
	}
	if got := (netguard.Policy{}).Check(netip.Addr{}); got == "" {
		t.Errorf("the zero Addr is allowed")
	}
}

// setup starts a real HTTP server on 127.0.0.1 that counts its requests.
func setup(t testing.TB) (srv *httptest.Server, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// lookup resolves names from a fixed table and nothing else.
func lookup(table map[string][]string) func(context.Context, string, string) ([]netip.Addr, error) {
	return func(_ context.Context, _, host string) ([]netip.Addr, error) {
		addrs, ok := table[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

func get(t testing.TB, p netguard.Policy, rawURL string) (*http.Response, error) {
	t.Helper()
	tr := p.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

// wantBlocked checks that err is a *BlockedError for host with a loopback
// address.
func wantBlocked(t testing.TB, err error, host string) *netguard.BlockedError {
	t.Helper()
	var be *netguard.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BlockedError", err)
	}
	if be.Host != host {
		t.Errorf("Host = %q, want %q", be.Host, host)
	}
	if !be.IP.Unmap().IsLoopback() || !strings.Contains(be.Reason, "loopback") {
		t.Errorf("IP, Reason = %s, %q, want a loopback address", be.IP, be.Reason)
	}
	if !strings.Contains(be.Error(), be.IP.String()) {
		t.Errorf("Error() = %q does not name the address", be.Error())
	}
	return be
}

func TestTransport(t *testing.T) {
	t.Parallel()

	t.Run("RefusesLoopback", func(t *testing.T) {
		t.Parallel()
		srv, hits := setup(t)
		_, err := get(t, netguard.Policy{}, srv.URL)
		wantBlocked(t, err, "127.0.0.1")
		if n := hits.Load(); n != 0 {
			t.Errorf("the server saw %d requests", n)
		}
	})

	t.Run("RefusesLocalhost", func(t *testing.T) {
		t.Parallel()
		srv, hits := setup(t)
		u, _ := url.Parse(srv.URL)
		_, err := get(t, netguard.Policy{}, "http://localhost:"+u.Port()+"/")
		wantBlocked(t, err, "localhost")
		if n := hits.Load(); n != 0 {
			t.Errorf("the server saw %d requests", n)
		}
	})

	t.Run("RefusesRebinding", func(t *testing.T) {
		t.Parallel()
		srv, hits := setup(t)
		u, _ := url.Parse(srv.URL)
		p := netguard.Policy{LookupFunc: lookup(map[string][]string{"rebind.test": {"127.0.0.1"}})}
		_, err := get(t, p, "http://rebind.test:"+u.Port()+"/")
		wantBlocked(t, err, "rebind.test")
		if n := hits.Load(); n != 0 {
			t.Errorf("the server saw %d requests", n)
		}
	})

	t.Run("RefusesMappedLiteral", func(t *testing.T) {
		t.Parallel()
		srv, hits := setup(t)
		u, _ := url.Parse(srv.URL)
		_, err := get(t, netguard.Policy{}, "http://[::ffff:127.0.0.1]:"+u.Port()+"/")
		be := wantBlocked(t, err, "::ffff:127.0.0.1")
		if !strings.Contains(be.Reason, "IPv4-mapped") {
			t.Errorf("Reason = %q", be.Reason)
		}
		if n := hits.Load(); n != 0 {
			t.Errorf("the server saw %d requests", n)
		}
	})

	t.Run("AllowPrivate", func(t *testing.T) {
		t.Parallel()
		srv, hits := setup(t)
		u, _ := url.Parse(srv.URL)
		p := netguard.Policy{
			AllowPrivate: true,
			LookupFunc: lookup(map[string][]string{
				"rebind.test": {"127.0.0.1"},
				// The metadata address is dropped; the loopback one is
				// dialled.
				"mixed.test":    {"169.254.169.254", "127.0.0.1"},
				"metadata.test": {"169.254.169.254"},
			}),
		}
		for _, target := range []string{
			srv.URL,
			"http://rebind.test:" + u.Port() + "/",
			"http://mixed.test:" + u.Port() + "/",
			"http://[::ffff:127.0.0.1]:" + u.Port() + "/",
		} {
			resp, err := get(t, p, target)
			if err != nil {
				t.Errorf("%s: %v", target, err)
				continue
			}
			if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Errorf("%s: %d %q", target, resp.StatusCode, body)
			}
		}
		if n := hits.Load(); n != 4 {
			t.Errorf("the server saw %d requests, want 4", n)
		}

		_, err := get(t, p, "http://metadata.test:"+u.Port()+"/")
		var be *netguard.BlockedError
		if !errors.As(err, &be) || be.Reason != "cloud metadata address" || be.Host != "metadata.test" {
			t.Errorf("err = %v, want a metadata *BlockedError", err)
		}
	})

	t.Run("NoProxy", func(t *testing.T) {
		t.Parallel()
		if tr := (netguard.Policy{}).Transport(); tr.Proxy != nil {
			t.Errorf("Transport has a Proxy")
		}
	})
}

// TestControl checks the second line of defence on its own: a dialer that
// resolved the address itself is stopped by the Control hook.
func TestControl(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	addr := srv.Listener.Addr().String()

	d := net.Dialer{Control: netguard.Policy{}.Control}
	_, err := d.DialContext(t.Context(), "tcp", addr)
	wantBlocked(t, err, "")
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("err = %T, want it wrapped in a *net.OpError", err)
	}

	d = net.Dialer{Control: netguard.Policy{AllowPrivate: true}.Control}
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("AllowPrivate: %v", err)
	}
	conn.Close()
}

func TestDialContext(t *testing.T) {
	t.Parallel()
	errLookup := errors.New("resolver down")
	p := netguard.Policy{
		AllowPrivate: true,
		LookupFunc: func(_ context.Context, _, host string) ([]netip.Addr, error) {
			switch host {
			case "down.test":
				return nil, errLookup
			case "empty.test":
				return nil, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
	}
	for _, c := range []struct {
		network, addr string
		check         func(error) bool
	}{
		{"udp", "127.0.0.1:53", func(err error) bool { return strings.Contains(err.Error(), "unsupported network") }},
		{"unix", "/tmp/x.sock", func(err error) bool { return strings.Contains(err.Error(), "unsupported network") }},
		{"tcp", "127.0.0.1", func(err error) bool { return strings.Contains(err.Error(), "missing port") }},
		{"tcp", "127.0.0.1:0", func(err error) bool { return strings.Contains(err.Error(), "invalid port") }},
		{"tcp", "127.0.0.1:http", func(err error) bool { return strings.Contains(err.Error(), "invalid port") }},
		{"tcp", ":80", func(err error) bool { var be *netguard.BlockedError; return errors.As(err, &be) }},
		{"tcp", "down.test:80", func(err error) bool { return errors.Is(err, errLookup) }},
		{"tcp", "empty.test:80", func(err error) bool { var de *net.DNSError; return errors.As(err, &de) }},
		{"tcp", "[::]:80", func(err error) bool { var be *netguard.BlockedError; return errors.As(err, &be) }},
	} {
		conn, err := p.DialContext(t.Context(), c.network, c.addr)
		if err == nil {
			conn.Close()
			t.Errorf("DialContext(%s, %s) succeeded", c.network, c.addr)
			continue
		}
		if !c.check(err) {
			t.Errorf("DialContext(%s, %s) = %v", c.network, c.addr, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url          string
		allowHTTP    bool
		allowPrivate bool
		want         string // substring of the message; "" = fine
	}{
		{"https://hooks.example.com/slotline", false, false, ""},
		{"https://hooks.example.com:8443/a?b=c", false, false, ""},
		{"https://8.8.8.8/hook", false, false, ""},
		{"https://[2606:4700:4700::1111]/hook", false, false, ""},
		{"HTTPS://Hooks.Example.COM/", false, false, ""},
		{"http://hooks.example.com/", true, false, ""},

		{"", false, false, "must not be empty"},
		{"https://example.com/" + strings.Repeat("a", 2048), false, false, "at most 2048"},
		{"http://hooks.example.com/", false, false, "must use https"},
		{"ftp://hooks.example.com/", false, false, "must use https"},
		{"ftp://hooks.example.com/", true, false, "must use http or https"},
		{"/relative/path", false, false, "absolute"},
		{"hooks.example.com/x", false, false, "absolute"},
		{"https:opaque", false, false, "must name a host"},
		{"https:///path", false, false, "must name a host"},
		{"https://user:pass@hooks.example.com/", false, false, "user name or password"},
		{"https://user@hooks.example.com/", false, false, "user name or password"},
		{"https://hooks.example.com:0/", false, false, "port"},
		{"https://hooks.example.com:65536/", false, false, "port"},
		{"https://hooks.example.com:99999999999/", false, false, "port"},
		{"https://hooks.example.com:x/", false, false, "valid URL"},
		{"https://exa mple.com/", false, false, "valid URL"},
		{"https://10.0.0.1/hook", false, false, "host 10.0.0.1 is a private address"},
		{"https://[::1]/hook", false, false, "host ::1 is a loopback address"},
		{"https://[::ffff:127.0.0.1]/hook", false, false, "loopback address (IPv4-mapped)"},
		{"https://[fe80::1%25eth0]/hook", false, false, "link-local"},
		{"https://169.254.169.254/latest/meta-data/", false, true, "metadata"},
		{"https://%31%32%37.0.0.1/", false, false, "valid URL"},
		{"https://localhost/", false, false, "loopback name"},
		{"https://api.localhost./", false, false, "loopback name"},
		{"https://2130706433/", false, false, "neither"},
		{"https://127.1/", false, false, "neither"},
		{"https://0x7f.0.0.1/", false, false, "neither"},
		{"https://010.0.0.1/", false, false, "neither"},

		{"https://10.0.0.1/hook", false, true, ""},
		{"https://[::1]:8443/hook", false, true, ""},
		{"http://localhost:8080/", true, true, ""},
		{"https://1password.example/", false, false, ""},
		{"https://x.0xfe/", false, false, "neither"},
		{"https://x.0xfg/", false, false, ""},
	} {
		p := netguard.Policy{AllowPrivate: c.allowPrivate}
		got := p.CheckURL(c.url, c.allowHTTP)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			name := c.url
			if len(name) > 60 {
				name = name[:60] + "…"
			}
			t.Errorf("CheckURL(%q, http=%v, private=%v) = %q, want %q", name, c.allowHTTP, c.allowPrivate, got, c.want)
		}
	}
}
