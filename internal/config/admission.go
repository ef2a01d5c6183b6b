package config

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/reservation"
)

// A queue's admission settings: number_rules, duplicates,
// duplicates_scope and throttle.

const (
	maxThrottleCount  = 1_000_000
	maxThrottleWindow = 31 * day
)

// MaxThrottleWindow is the longest window a throttle may count over:
// counts older than it can be deleted.
const MaxThrottleWindow = maxThrottleWindow

// defaultAdmission is a queue's admission when its file says nothing:
// premium-rate and shared-cost numbers refused, lenient duplicates per
// queue, no throttle.
func defaultAdmission(q *Queue) {
	q.NumberRules = reservation.NumberRules{RefuseTypes: slices.Clone(reservation.DefaultRefuseTypes)}
	q.Admission = reservation.Admission{Duplicates: reservation.DuplicatesLenient, Scope: reservation.ScopeQueue}
}

// admissionDecoders are the decoders of a queue's admission keys.
func (p *parser) admissionDecoders(q *Queue) []decoder {
	return []decoder{
		{"number_rules", onto(&q.NumberRules, p.numberRules)},
		{"duplicates", into(&q.Admission.Duplicates, p.oneOf(reservation.DuplicatesOff, reservation.DuplicatesLenient, reservation.DuplicatesStrict))},
		{"duplicates_scope", into(&q.Admission.Scope, p.oneOf(reservation.ScopeQueue, reservation.ScopeAll))},
		{"throttle", onto(&q.Admission, p.throttle)},
	}
}

// numberRules reads number_rules: {countries, block, refuse_types}.
func (p *parser) numberRules(n *yaml.Node, path string, nr *reservation.NumberRules) error {
	_, err := p.block(n, path,
		decoder{"countries", into(&nr.Countries, func(v *yaml.Node, f string) ([]string, error) {
			return uniqueList(p, v, f, p.phoneRegion)
		})},
		decoder{"block", into(&nr.Block, func(v *yaml.Node, f string) ([]string, error) {
			return uniqueList(p, v, f, p.prefix)
		})},
		decoder{"refuse_types", into(&nr.RefuseTypes, func(v *yaml.Node, f string) ([]string, error) {
			types := make([]string, 0, len(reservation.NumberTypes))
			for t := range reservation.NumberTypes {
				types = append(types, t)
			}
			slices.Sort(types)
			return uniqueList(p, v, f, p.oneOf(types...))
		})},
	)
	return err
}

// uniqueList is listOf whose items must not repeat; an empty list is
// allowed (for refuse_types: refuse no type).
func uniqueList(p *parser, n *yaml.Node, path string, read func(*yaml.Node, string) (string, error)) ([]string, error) {
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for i, item := range items {
		field := path + "[" + strconv.Itoa(i) + "]"
		s, err := read(item, field)
		if err != nil {
			return nil, err
		}
		if j := slices.Index(out, s); j >= 0 {
			return nil, p.errorf(item, field, "%q is already given at %s[%d]", s, path, j)
		}
		out = append(out, s)
	}
	return out, nil
}

// phoneRegion reads an ISO 3166 region that phone numbers are known for (US,
// GB, …).
func (p *parser) phoneRegion(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	if phonenumbers.GetCountryCodeForRegion(s) == 0 {
		return "", p.errorf(n, path, "%q is not an ISO 3166 region with phone numbers, like US, CA or GB", s)
	}
	return s, nil
}

// prefix reads a blocked number prefix, "+" and digits; spaces, dots,
// dashes and parentheses are dropped ("+44 9" is "+449").
func (p *parser) prefix(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	digits := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '(', ')':
			return -1
		}
		return r
	}, s)
	rest, ok := strings.CutPrefix(digits, "+")
	if !ok || rest == "" || len(rest) > 15 || rest[0] == '0' || strings.Trim(rest, "0123456789") != "" {
		return "", p.errorf(n, path, "%q is not a number prefix like +1900 or \"+44 9\"", s)
	}
	return digits, nil
}

// throttle reads throttle: {per_number, per_queue}.
func (p *parser) throttle(n *yaml.Node, path string, a *reservation.Admission) error {
	_, err := p.block(n, path,
		decoder{"per_number", into(&a.PerNumber, p.limit)},
		decoder{"per_queue", into(&a.PerQueue, p.limit)},
	)
	return err
}

// limit reads N/duration: at most N over a rolling window ("6/24h",
// "500/1h", "3/1d").
func (p *parser) limit(n *yaml.Node, path string) (reservation.Limit, error) {
	s, err := p.str(n, path)
	if err != nil {
		return reservation.Limit{}, err
	}
	num, win, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, cerr := strconv.Atoi(strings.TrimSpace(num))
	d, dok := parseDuration(strings.TrimSpace(win))
	switch {
	case !ok || cerr != nil || !dok:
		return reservation.Limit{}, p.errorf(n, path, "%q is not a count over a window like 6/24h or 500/1h", s)
	case count < 1 || count > maxThrottleCount:
		return reservation.Limit{}, p.errorf(n, path, "%q: the count must be from 1 to %d", s, maxThrottleCount)
	case d < time.Second || d > maxThrottleWindow:
		return reservation.Limit{}, p.errorf(n, path, "%q: the window must be from 1s to 31d", s)
	}
	return reservation.Limit{N: count, Window: d}, nil
}
