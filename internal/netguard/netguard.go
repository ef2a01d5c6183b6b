// SPDX-License-Identifier: Apache-2.0

// Package netguard keeps Slotline's outbound HTTP (webhook deliveries) from
// being turned against the network it runs in (server-side request
// forgery): a Policy refuses loopback, private, link-local, shared (CGNAT),
// multicast, reserved and documentation addresses, cloud metadata services,
// and the IPv6 forms that embed any of those.
//
// The check happens where it cannot be dodged. Policy.DialContext resolves
// the host itself and dials only addresses it has checked, so a name that
// resolves to a public address when the URL is saved and to 127.0.0.1 when
// it is used (DNS rebinding) is still refused; a net.Dialer Control hook
// checks the socket address once more just before connect. Policy.CheckURL
// gives early, user-facing feedback when a URL is saved, but is not the
// guard.
//
// Callers should also refuse redirects (http.Client.CheckRedirect): every
// dial a redirect makes is guarded too, but following one is rarely what a
// webhook sender wants.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Timeouts and limits of the dialer and of Transport.
const (
	DialTimeout           = 10 * time.Second
	TLSHandshakeTimeout   = 10 * time.Second
	ResponseHeaderTimeout = 30 * time.Second
	IdleConnTimeout       = 90 * time.Second
	MaxResponseHeaderSize = 64 << 10
	// MaxURLLength is the longest URL CheckURL accepts.
	MaxURLLength = 2048
)

// Policy decides which addresses may be dialled. The zero Policy refuses
// everything that is not a public unicast address.
type Policy struct {
	// AllowPrivate lets through the addresses an on-premises or in-cluster
	// receiver lives at: loopback (127/8, ::1), private (RFC 1918 and
	// fc00::/7 unique local) and shared address space (100.64/10), and the
	// IPv4-mapped forms of those. Cloud metadata addresses, link-local,
	// multicast, broadcast, unspecified, reserved and documentation
	// addresses stay refused.
	AllowPrivate bool

	// LookupFunc resolves a host name to addresses; network is "ip", "ip4"
	// or "ip6". Nil means net.DefaultResolver.LookupNetIP. Tests set it to
	// make a name resolve wherever they like.
	LookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// BlockedError reports a connection the policy refused.
type BlockedError struct {
	// Host is the host that was asked for: a name, or the address itself.
	Host string
	// IP is the refused address (the first refused one when a name
	// resolved to several).
	IP netip.Addr
	// Reason says what kind of address IP is, e.g. "loopback address".
	Reason string
}

// Error implements error.
func (e *BlockedError) Error() string {
	if !e.IP.IsValid() {
		return fmt.Sprintf("netguard: refused to connect to %q: %s", e.Host, e.Reason)
	}
	if e.Host == "" || e.Host == e.IP.String() {
		return fmt.Sprintf("netguard: refused to connect to %s: %s", e.IP, e.Reason)
	}
	return fmt.Sprintf("netguard: refused to connect to %s (%s): %s", e.Host, e.IP, e.Reason)
}

// rule refuses the addresses in prefix, for reason; private rules are the
// ones AllowPrivate lifts.
type rule struct {
	prefix  netip.Prefix
	reason  string
	private bool
}

const (
	reasonUnspecified = "unspecified address"
	reasonLoopback    = "loopback address"
	reasonPrivate     = "private address"
	reasonShared      = "shared (CGNAT) address"
	reasonLinkLocal   = "link-local address"
	reasonMulticast   = "multicast address"
	reasonBroadcast   = "broadcast address"
	reasonDoc         = "documentation address"
	reasonBenchmark   = "benchmarking address"
	reasonReserved    = "reserved address"
	reasonMetadata    = "cloud metadata address"
)

func block(prefix, reason string, private bool) rule {
	return rule{netip.MustParsePrefix(prefix), reason, private}
}

// ipv4Rules are tried in order; the first match decides. The list follows
// the IANA IPv4 special-purpose address registry: every entry that is not
// globally reachable is refused.
var ipv4Rules = []rule{
	block("0.0.0.0/32", reasonUnspecified, false),
	block("0.0.0.0/8", "\"this network\" address", false),
	block("10.0.0.0/8", reasonPrivate, true),
	block("100.64.0.0/10", reasonShared, true),
	block("127.0.0.0/8", reasonLoopback, true),
	block("169.254.0.0/16", reasonLinkLocal, false),
	block("172.16.0.0/12", reasonPrivate, true),
	block("192.0.0.0/24", "IETF protocol assignment address", false),
	block("192.0.2.0/24", reasonDoc, false),
	block("192.88.99.0/24", "6to4 relay anycast address", false),
	block("192.168.0.0/16", reasonPrivate, true),
	block("198.18.0.0/15", reasonBenchmark, false),
	block("198.51.100.0/24", reasonDoc, false),
	block("203.0.113.0/24", reasonDoc, false),
	block("224.0.0.0/4", reasonMulticast, false),
	block("255.255.255.255/32", reasonBroadcast, false),
	block("240.0.0.0/4", reasonReserved, false),
}

// ipv6Rules are tried in order after the special cases in Check (::, ::1,
// IPv4-mapped, IPv4-compatible, NAT64, 6to4). Anything outside 2000::/3
// that no rule names is refused as reserved.
var ipv6Rules = []rule{
	block("64:ff9b:1::/48", "local-use NAT64 address", false),
	block("100::/64", "discard-only address", false),
	block("2001::/32", "Teredo address", false),
	block("2001:2::/48", reasonBenchmark, false),
	block("2001:10::/28", "ORCHID address", false),
	block("2001:20::/28", "ORCHIDv2 address", false),
	block("2001:db8::/32", reasonDoc, false),
	block("3fff::/20", reasonDoc, false),
	block("fc00::/7", reasonPrivate, true),
	block("fe80::/10", reasonLinkLocal, false),
	block("fec0::/10", "site-local address", false),
	block("ff00::/8", reasonMulticast, false),
}

var (
	ipv4Compatible = netip.MustParsePrefix("::/96")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	globalUnicast  = netip.MustParsePrefix("2000::/3")
)

// metadataAddrs are the instance metadata and similar host services of the
// big clouds. They are refused whatever the policy, because a credential
// leak through them is the usual point of an SSRF.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack…
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata and credentials
	netip.MustParseAddr("169.254.170.23"),  // AWS EKS Pod Identity
	netip.MustParseAddr("fd00:ec2::254"),   // AWS EC2 IMDS over IPv6
	netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS Pod Identity over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("192.0.0.192"),     // Oracle Cloud (classic)
	netip.MustParseAddr("168.63.129.16"),   // Azure WireServer (a public address)
}

// Check reports why ip may not be dialled, or "" if it may. The reason
// names the kind of address: "loopback address", "private address",
// "cloud metadata address", "loopback address (IPv4-mapped)"…
//
// Refused: unspecified and "this network" (0/8, ::), loopback (127/8, ::1),
// private (10/8, 172.16/12, 192.168/16, fc00::/7), shared address space
// (100.64/10), link-local (169.254/16, fe80::/10), multicast (224/4,
// ff00::/8), broadcast, reserved (240/4, and IPv6 outside 2000::/3 such as
// fec0::/10 and 100::/64), IETF protocol assignments (192.0.0/24),
// documentation (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32,
// 3fff::/20), benchmarking (198.18/15, 2001:2::/48), Teredo (2001::/32),
// ORCHID, local-use NAT64 (64:ff9b:1::/48), the deprecated
// IPv4-compatible form (::/96), and the cloud metadata addresses. An
// IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16)
// address is judged by the IPv4 address it embeds. AllowPrivate lifts the
// refusal of loopback, private and shared addresses, never the others.
func (p Policy) Check(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid address"
	}
	ip = ip.WithZone("")
	for _, m := range metadataAddrs {
		if ip == m {
			return reasonMetadata
		}
	}
	if ip.Is4In6() {
		return p.embedded(ip.Unmap(), "IPv4-mapped")
	}
	if ip.Is4() {
		reason, _ := p.match(ipv4Rules, ip)
		return reason
	}
	switch {
	case ip == netip.IPv6Unspecified():
		return reasonUnspecified
	case ip == netip.IPv6Loopback():
		if p.AllowPrivate {
			return ""
		}
		return reasonLoopback
	case ipv4Compatible.Contains(ip):
		return "IPv4-compatible IPv6 address (deprecated)"
	case nat64.Contains(ip):
		b := ip.As16()
		return p.embedded(netip.AddrFrom4([4]byte(b[12:16])), "NAT64")
	case sixToFour.Contains(ip):
		b := ip.As16()
		return p.embedded(netip.AddrFrom4([4]byte(b[2:6])), "6to4")
	}
	if reason, ok := p.match(ipv6Rules, ip); ok {
		return reason
	}
	if !globalUnicast.Contains(ip) {
		return reasonReserved
	}
	return ""
}

// embedded judges the IPv4 address v4 that an IPv6 address carries.
func (p Policy) embedded(v4 netip.Addr, form string) string {
	if reason := p.Check(v4); reason != "" {
		return reason + " (" + form + ")"
	}
	return ""
}

// match applies the first rule whose prefix holds ip; ok is false when none
// does.
func (p Policy) match(rules []rule, ip netip.Addr) (reason string, ok bool) {
	for _, ru := range rules {
		if ru.prefix.Contains(ip) {
			if ru.private && p.AllowPrivate {
				return "", true
			}
			return ru.reason, true
		}
	}
	return "", false
}

func (p Policy) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if p.LookupFunc != nil {
		return p.LookupFunc(ctx, network, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// DialContext connects to addr on a TCP network ("tcp", "tcp4" or "tcp6")
// like net.Dialer.DialContext, but only to addresses the policy allows.
//
// It resolves the host itself (with LookupFunc), drops every address Check
// refuses and dials the rest in order until one connects, so the address
// checked is the address dialled and a rebinding DNS answer changes
// nothing. When every address is refused it returns a *BlockedError for the
// first, without dialling. The dialer's Control hook checks the socket's
// address once more just before connect and fails the dial with a
// *BlockedError (wrapped in a *net.OpError) if that address is refused.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var lookupNet string
	switch network {
	case "tcp":
		lookupNet = "ip"
	case "tcp4":
		lookupNet = "ip4"
	case "tcp6":
		lookupNet = "ip6"
	default:
		return nil, fmt.Errorf("netguard: unsupported network %q", network)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("netguard: invalid port %q", portStr)
	}
	if host == "" {
		// Go dials the local system for an empty host.
		return nil, &BlockedError{Host: host, Reason: "empty host (the local system)"}
	}

	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = p.lookup(ctx, lookupNet, host)
		if err != nil {
			return nil, err
		}
	}

	var allowed []netip.Addr
	var blocked *BlockedError
	for _, ip := range ips {
		if reason := p.Check(ip); reason != "" {
			if blocked == nil {
				blocked = &BlockedError{Host: host, IP: ip, Reason: reason}
			}
			continue
		}
		allowed = append(allowed, ip.Unmap().WithZone(""))
	}
	if len(allowed) == 0 {
		if blocked != nil {
			return nil, blocked
		}
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}

	d := net.Dialer{
		Timeout:   DialTimeout,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			return p.control(host, address)
		},
	}
	var first error
	for _, ip := range allowed {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// Control is a net.Dialer Control hook that refuses to connect a socket to
// an address the policy refuses, with a *BlockedError. DialContext installs
// it already; use it on a dialer of your own.
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	return p.control("", address)
}

func (p Policy) control(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: unexpected socket address %q: %w", address, err)
	}
	if reason := p.Check(ap.Addr()); reason != "" {
		return &BlockedError{Host: host, IP: ap.Addr(), Reason: reason}
	}
	return nil
}

// Transport returns an *http.Transport that dials only through
// p.DialContext. It uses no proxy, from the environment or otherwise (a
// proxy would resolve and connect on our behalf, out of the guard's
// sight), tries HTTP/2 over TLS, and bounds the handshake (TLSHandshakeTimeout),
// the wait for response headers (ResponseHeaderTimeout), their size
// (MaxResponseHeaderSize) and idle connections (IdleConnTimeout, 64 per
// host). Bound each request with its context as well.
func (p Policy) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    TLSHandshakeTimeout,
		ResponseHeaderTimeout:  ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        IdleConnTimeout,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    64,
		MaxResponseHeaderBytes: MaxResponseHeaderSize,
	}
}

// CheckURL checks a webhook URL before it is saved and returns a
// user-facing message naming what is wrong with it ("must use https"), or
// "" if it is fine. The URL must be absolute, at most MaxURLLength long,
// use https (or http when allowHTTP), name a host, carry no user name or
// password, and have a port, if any, in 1–65535. A literal IP host must
// pass Check; "localhost" and names under .localhost are refused unless
// AllowPrivate; a host that ends in a number but is not a plain IP address
// ("2130706433", "127.1", "0x7f.1") is refused, since resolvers read such
// names as IPv4 addresses. Names are otherwise checked when dialled.
func (p Policy) CheckURL(raw string, allowHTTP bool) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > MaxURLLength {
		return fmt.Sprintf("must be at most %d characters long", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "must be a valid URL"
	}
	if !u.IsAbs() {
		return "must be an absolute URL (https://…)"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return "must use https"
		}
	default:
		if allowHTTP {
			return "must use http or https"
		}
		return "must use https"
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return "must name a host"
	}
	if u.User != nil {
		return "must not contain a user name or password"
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "port must be between 1 and 65535"
		}
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if reason := p.Check(ip); reason != "" {
			return fmt.Sprintf("host %s is a %s", host, reason)
		}
		return ""
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if (name == "localhost" || strings.HasSuffix(name, ".localhost")) && !p.AllowPrivate {
		return fmt.Sprintf("host %s is a loopback name", host)
	}
	if endsInNumber(name) {
		return fmt.Sprintf("host %s is neither a host name nor a plain IP address", host)
	}
	return ""
}

// endsInNumber reports whether the last label of name is a number (decimal,
// or hex with 0x), which the WHATWG URL standard and inet_aton read as an
// IPv4 address.
func endsInNumber(name string) bool {
	label := name[strings.LastIndexByte(name, '.')+1:]
	if label == "" {
		return false
	}
	digits := label
	hex := false
	if strings.HasPrefix(label, "0x") {
		digits, hex = label[2:], true
		if digits == "" {
			return true
		}
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		switch {
		case '0' <= c && c <= '9':
		case hex && ('a' <= c && c <= 'f'):
		default:
			return false
		}
	}
	return true
}
