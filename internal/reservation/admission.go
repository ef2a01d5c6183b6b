package reservation

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Duplicate modes of a queue.
const (
	DuplicatesOff     = "off"
	DuplicatesLenient = "lenient"
	DuplicatesStrict  = "strict"
)

// Duplicate scopes of a queue.
const (
	ScopeQueue = "queue"
	ScopeAll   = "all"
)

// NumberTypes are the phonenumbers number types refuse_types may name.
var NumberTypes = map[string]phonenumbers.PhoneNumberType{
	"premium_rate": phonenumbers.PREMIUM_RATE,
	"shared_cost":  phonenumbers.SHARED_COST,
	"toll_free":    phonenumbers.TOLL_FREE,
	"voip":         phonenumbers.VOIP,
	"personal":     phonenumbers.PERSONAL_NUMBER,
	"pager":        phonenumbers.PAGER,
	"uan":          phonenumbers.UAN,
	"unknown":      phonenumbers.UNKNOWN,
}

// DefaultRefuseTypes are the number types refused when a queue names none.
var DefaultRefuseTypes = []string{"premium_rate", "shared_cost"}

// NumberRules are a queue's rules on callback numbers.
type NumberRules struct {
	// Countries are the ISO 3166 regions allowed (empty: any).
	Countries []string
	// Block are refused prefixes: "+" and E.164 digits.
	Block []string
	// RefuseTypes name refused number types (keys of NumberTypes).
	RefuseTypes []string
}

// Check returns nil if the rules allow number (a valid E.164 number),
// else an ENOTALLOWED error whose callback_number field says why.
func (nr *NumberRules) Check(number string) error {
	if nr == nil {
		return nil
	}
	return nr.CheckNumber(ParseNumber(number))
}

// CheckNumber is Check of a number already parsed (a create's
// CreateRequest.Number), which it does not parse again.
func (nr *NumberRules) CheckNumber(n Number) error {
	if nr == nil {
		return nil
	}
	number := n.String()
	for _, b := range nr.Block {
		if strings.HasPrefix(number, b) {
			return numberRefused("blocked prefix " + b)
		}
	}
	if n.parsed == nil {
		return numberRefused("cannot be parsed")
	}
	if len(nr.Countries) > 0 {
		region := n.region()
		if !slices.Contains(nr.Countries, region) {
			if region == "" || region == "ZZ" {
				region = "unknown"
			}
			return numberRefused("country " + region + " is not allowed")
		}
	}
	if len(nr.RefuseTypes) > 0 {
		t := n.typ
		for _, name := range nr.RefuseTypes {
			if NumberTypes[name] == t {
				return numberRefused(strings.ReplaceAll(name, "_", " ") + " numbers are refused")
			}
		}
	}
	return nil
}

func numberRefused(why string) error {
	return &Error{Code: ENOTALLOWED, Message: "callback_number " + why,
		Fields: map[string]string{"callback_number": why}}
}

// Limit is a throttle: at most N creates over a rolling Window.
type Limit struct {
	N      int
	Window time.Duration
}

// String formats l as N/window.
func (l Limit) String() string {
	w := l.Window.String()
	for _, unit := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if l.Window%unit.d == 0 {
			w = fmt.Sprintf("%d%s", l.Window/unit.d, unit.name)
			break
		}
	}
	return fmt.Sprintf("%d/%s", l.N, w)
}

// Admission is what a create is checked against in its write
// transaction, atomically with the booking: the queue's duplicate rule and
// throttles. The zero value checks nothing.
type Admission struct {
	Duplicates string // DuplicatesOff ("" too), DuplicatesLenient or DuplicatesStrict
	Scope      string // ScopeQueue ("" too) or ScopeAll
	PerNumber  Limit  // N == 0: none
	PerQueue   Limit  // N == 0: none
}

// Active reports whether a checks anything.
func (a *Admission) Active() bool {
	return a != nil && (a.Duplicates == DuplicatesLenient || a.Duplicates == DuplicatesStrict || a.PerNumber.N > 0 || a.PerQueue.N > 0)
}

// DuplicateError is a create refused because its number already has an
// active reservation in scope (Existing, as stored). Lenient tells the
// service to answer with Existing rather than refuse.
type DuplicateError struct {
	Existing *Reservation
	Lenient  bool
}

// Error implements error.
func (e *DuplicateError) Error() string {
	return "duplicate of reservation " + e.Existing.ID
}

// ThrottledError is a create refused by a throttle; RetryAfter is how long
// until the window lets one in.
type ThrottledError struct {
	Which      string // "per_number" or "per_queue"
	Limit      Limit
	RetryAfter time.Duration
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("throttled: %s %s", e.Which, e.Limit)
}
