package reservation

import "testing"

func TestCustomerZone(t *testing.T) {
	for _, c := range []struct{ number, zone string }{
		{"+4930123456", "Europe/Berlin"},
		{"+33142685300", "Europe/Paris"},
		{"+12125550100", "America/New_York"},
		{"+13105550100", "America/Los_Angeles"},
		{"not a number", ""},
	} {
		got := ""
		if loc := CustomerZone(c.number); loc != nil {
			got = loc.String()
		}
		if got != c.zone {
			t.Errorf("CustomerZone(%q) = %q, want %q", c.number, got, c.zone)
		}
	}
	if r := CustomerRegion("+442079460000"); r != "GB" {
		t.Errorf("CustomerRegion = %q, want GB", r)
	}
}
