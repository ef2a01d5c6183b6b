package reservation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The phonenumbers calls a create made before numbers were parsed once:
// ValidNumber, NumberRules.Check and MaskNumber each parsed the string.
func oldValidNumber(s string) bool {
	if !e164.MatchString(s) {
		return false
	}
	num, err := phonenumbers.Parse(s, "")
	return err == nil && phonenumbers.IsValidNumber(num)
}

func oldCheck(nr *NumberRules, number string) error {
	for _, b := range nr.Block {
		if strings.HasPrefix(number, b) {
			return numberRefused("blocked prefix " + b)
		}
	}
	num, err := phonenumbers.Parse(number, "")
	if err != nil {
		return numberRefused("cannot be parsed")
	}
	if len(nr.Countries) > 0 {
		region := phonenumbers.GetRegionCodeForNumber(num)
		if !slices.Contains(nr.Countries, region) {
			if region == "" || region == "ZZ" {
				region = "unknown"
			}
			return numberRefused("country " + region + " is not allowed")
		}
	}
	if len(nr.RefuseTypes) > 0 {
		t := phonenumbers.GetNumberType(num)
		for _, name := range nr.RefuseTypes {
			if NumberTypes[name] == t {
				return numberRefused(strings.ReplaceAll(name, "_", " ") + " numbers are refused")
			}
		}
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestNumberParsedOnceAgrees: the one parse answers validity, every number
// rule and the mask exactly as the three parses did, for numbers of every
// country calling code (valid or not, each number type) and malformed
// input.
func TestNumberParsedOnceAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2026))
	var inputs []string
	for cc := range 1000 {
		if len(phonenumbers.GetRegionCodesForCountryCode(cc)) == 0 && cc%97 != 0 {
			continue
		}
		for range 15 {
			n := 4 + rng.IntN(12)
			var b strings.Builder
			fmt.Fprintf(&b, "+%d", cc)
			for range n {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
			inputs = append(inputs, b.String())
		}
		for _, region := range phonenumbers.GetRegionCodesForCountryCode(cc) {
			for typ := range NumberTypes {
				if ex := phonenumbers.GetExampleNumberForType(region, NumberTypes[typ]); ex != nil {
					inputs = append(inputs, phonenumbers.Format(ex, phonenumbers.E164))
				}
			}
			if ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE); ex != nil {
				inputs = append(inputs, phonenumbers.Format(ex, phonenumbers.E164))
			}
		}
	}
	inputs = append(inputs, "", "+", "+1", "14155550199", "+1 415 555 0199", "+0123456789", "+999999999999", "abc", "+1900555\x00")
	var allTypes []string
	for name := range NumberTypes {
		allTypes = append(allTypes, name)
	}
	slices.Sort(allTypes)
	rules := []*NumberRules{
		{Countries: []string{"US", "CA"}, Block: []string{"+1900"}, RefuseTypes: DefaultRefuseTypes},
		{Countries: []string{"DE", "GB", "GG", "IM"}},
		{RefuseTypes: allTypes},
		{Block: []string{"+44"}},
	}
	valid := 0
	for _, s := range inputs {
		n := ParseNumber(s)
		if got, want := n.Valid(), oldValidNumber(s); got != want {
			t.Errorf("ParseNumber(%q).Valid() = %v, ValidNumber before = %v", s, got, want)
		}
		if n.Valid() {
			valid++
		}
		if got, want := ValidNumber(s), oldValidNumber(s); got != want {
			t.Errorf("ValidNumber(%q) = %v, want %v", s, got, want)
		}
		if got, want := n.Masked(), MaskNumber(s); got != want {
			t.Errorf("ParseNumber(%q).Masked() = %q, MaskNumber = %q", s, got, want)
		}
		for _, nr := range rules {
			if got, want := errText(nr.CheckNumber(n)), errText(oldCheck(nr, s)); got != want {
				t.Errorf("rules %+v, %q: CheckNumber %q, Check before %q", nr, s, got, want)
			}
		}
	}
	if valid < 500 {
		t.Errorf("only %d valid numbers among %d inputs: the comparison proves little", valid, len(inputs))
	}
}

// TestCreateCarriesItsParse: the number DecodeCreate parsed is the one the
// rules and the log use, without a parse of their own.
func TestCreateCarriesItsParse(t *testing.T) {
	r, err := DecodeCreate([]byte(seedBody))
	if err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = r.Number() }); allocs != 0 {
		t.Errorf("Number() of a decoded create allocates %.0f times: it parses again", allocs)
	}
	if got := r.Number().String(); got != r.CallbackNumber {
		t.Errorf("Number() = %q, want %q", got, r.CallbackNumber)
	}
	if got, want := fmt.Sprint(r.Number().LogValue()), MaskNumber(r.CallbackNumber); got != want {
		t.Errorf("Number logs %q, want it masked: %q", got, want)
	}
	// A request built in code, or changed since, is parsed on demand.
	built := &CreateRequest{CallbackNumber: "+442079460000"}
	if n := built.Number(); n.String() != built.CallbackNumber || !n.Valid() {
		t.Errorf("Number() of a built request = %q, valid %v", n.String(), n.Valid())
	}
	r.CallbackNumber = "+19005550100"
	if n := r.Number(); n.String() != "+19005550100" {
		t.Errorf("Number() after a change = %q, want the new number", n.String())
	}
}

func BenchmarkCreateNumber(b *testing.B) {
	rules := &NumberRules{Countries: []string{"US", "CA"}, Block: []string{"+1900"}, RefuseTypes: DefaultRefuseTypes}
	const s = "+14155550199"
	b.Run("three-parses", func(b *testing.B) {
		for b.Loop() {
			_ = oldValidNumber(s)
			_ = oldCheck(rules, s)
			_ = MaskNumber(s)
		}
	})
	b.Run("parsed-once", func(b *testing.B) {
		for b.Loop() {
			n := ParseNumber(s)
			_ = n.Valid()
			_ = rules.CheckNumber(n)
			_ = n.Masked()
		}
	})
}
