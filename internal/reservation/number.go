package reservation

import (
	"log/slog"
	"strconv"

	"github.com/nyaruka/phonenumbers"
)

// Number is a callback number parsed once, with what a create asks of it:
// whether it is a valid E.164 number (the create decoder), its region and
// type (a queue's NumberRules) and its country calling code (masking).
// A create used to parse the same string three times, once for each.
// The zero value is the empty number, which does not parse.
type Number struct {
	s      string
	parsed *phonenumbers.PhoneNumber // nil: the string does not parse
	typ    phonenumbers.PhoneNumberType
}

// ParseNumber parses s as an international number ("+" and digits).
func ParseNumber(s string) Number {
	n := Number{s: s, typ: phonenumbers.UNKNOWN}
	if s == "" {
		return n
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		return n
	}
	n.parsed = num
	// GetNumberType is what IsValidNumber tests (a type other than
	// UNKNOWN of the number's region's metadata); computed once, it
	// answers both the validity and the number rules' type.
	n.typ = phonenumbers.GetNumberType(num)
	return n
}

// String returns the number as given.
func (n Number) String() string { return n.s }

// Valid reports whether the number is a valid E.164 phone number
// (ValidNumber).
func (n Number) Valid() bool {
	return n.parsed != nil && e164.MatchString(n.s) && n.typ != phonenumbers.UNKNOWN
}

// region is the number's ISO 3166 region ("" when no region has its
// country calling code, "001" for a non-geographic one).
func (n Number) region() string {
	if n.parsed == nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(n.parsed)
}

// Masked is the number as logs and audit entries show it (MaskNumber).
func (n Number) Masked() string {
	cc := ""
	if n.parsed != nil {
		cc = "+" + strconv.Itoa(int(n.parsed.GetCountryCode()))
	}
	return maskWith(n.s, cc)
}

// LogValue implements slog.LogValuer: a Number logs masked.
func (n Number) LogValue() slog.Value { return slog.StringValue(n.Masked()) }
