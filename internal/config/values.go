package config

import (
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/schedule"
)

// Readers of scalar values. Each takes the node and the field path for its
// messages, and returns the value or an *Error.

const (
	day     = 24 * time.Hour
	maxRate = 1e6 // requests per second
)

// e164 matches the shape of an E.164 phone number: + and 7 to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

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

// intFromTo returns a reader of integers from lo to hi; unit, if not "",
// ends the message about one out of range.
func (p *parser) intFromTo(lo, hi int, unit string) func(*yaml.Node, string) (int, error) {
	return func(n *yaml.Node, path string) (int, error) {
		i, err := p.integer(n, path)
		if err != nil {
			return 0, err
		}
		if i < lo || i > hi {
			return 0, p.errorf(n, path, "must be from %d to %d%s", lo, hi, unit)
		}
		return i, nil
	}
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

// boolean reads true or false (not yes, no, on or off).
func (p *parser) boolean(n *yaml.Node, path string) (bool, error) {
	var b bool
	if err := n.Decode(&b); err != nil || n.ShortTag() != "!!bool" {
		return false, p.errorf(n, path, "must be true or false")
	}
	return b, nil
}

// oneOf returns a reader of a string that must be one of allowed.
func (p *parser) oneOf(allowed ...string) func(*yaml.Node, string) (string, error) {
	return func(n *yaml.Node, path string) (string, error) {
		s, err := p.str(n, path)
		if err != nil {
			return "", err
		}
		if !slices.Contains(allowed, s) {
			return "", p.errorf(n, path, "%q is not one of %s", s, strings.Join(allowed, ", "))
		}
		return s, nil
	}
}

// textUpTo returns a reader of a string of at most limit characters.
func (p *parser) textUpTo(limit int) func(*yaml.Node, string) (string, error) {
	return func(n *yaml.Node, path string) (string, error) {
		s, err := p.str(n, path)
		if err != nil {
			return "", err
		}
		if count := utf8.RuneCountInString(s); count > limit {
			return "", p.errorf(n, path, "is %d characters long; at most %d are allowed", count, limit)
		}
		return s, nil
	}
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

// date reads a YYYY-MM-DD date.
func (p *parser) date(n *yaml.Node, path string) (schedule.Date, error) {
	// An unquoted date decodes as a !!timestamp; its text is all we need.
	return scheduleValue(p, n, path, schedule.ParseDate)
}

// interval reads an HH:MM-HH:MM interval.
func (p *parser) interval(n *yaml.Node, path string) (schedule.Interval, error) {
	return scheduleValue(p, n, path, schedule.ParseInterval)
}

// scheduleValue reads a string that parse, from package schedule, turns
// into a T; parse's error, which quotes the string, is the message.
func scheduleValue[T any](p *parser, n *yaml.Node, path string, parse func(string) (T, error)) (T, error) {
	var x T
	s, err := p.str(n, path)
	if err != nil {
		return x, err
	}
	if x, err = parse(strings.TrimSpace(s)); err != nil {
		return x, p.errorf(n, path, "%v", err)
	}
	return x, nil
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
		ok = ok && idChar(r)
	}
	if !ok {
		return "", p.errorf(n, path, "%q must be 1 to 64 letters, digits, '_', '.' or '-'", s)
	}
	return s, nil
}

// idChar reports whether r may appear in an identifier.
func idChar(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
}

// andList joins words as "a", "a and b" or "a, b and c".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
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
