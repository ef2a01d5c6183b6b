package syncer

import (
	"slices"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/genesys"
)

func TestNumberForms(t *testing.T) {
	for in, want := range map[string][]string{
		"+14155550100":     {"+14155550100"},
		"tel:+14155550100": {"+14155550100"},
		"sip:+14155550100@edge.example;user=phone": {"+14155550100"},
		"+1 (415) 555-0100":                        {"+14155550100"},
		"14155550100":                              {"+14155550100", "14155550100"},
		"sip:agent@example.com":                    nil,
		"":                                         nil,
		"+123":                                     nil,
	} {
		if got := numberForms(in); !slices.Equal(got, want) {
			t.Errorf("numberForms(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReachOf reads inbound calls in shapes the simulator does not make
// too: an ani on the call's participant only as address, an agent of
// another queue, an agent alerted without connectedTime, an outbound call.
func TestReachOf(t *testing.T) {
	const q = "q1"
	in := func(dir string, connected *time.Time) genesys.Call {
		return genesys.Call{State: "connected", Direction: dir, ConnectedTime: connected}
	}
	customer := func(ani, address, dir string) genesys.Participant {
		return genesys.Participant{Purpose: "customer", Ani: ani, Address: address, Calls: []genesys.Call{in(dir, at(0))}}
	}
	agent := func(queue string, connected *time.Time) genesys.Participant {
		return genesys.Participant{Purpose: "agent", QueueID: queue, Calls: []genesys.Call{in("inbound", connected)}}
	}
	for _, c := range []struct {
		name string
		cv   *genesys.Conversation
		ok   bool
		at   *time.Time
	}{
		{"answered", conv(customer("tel:+14155550100", "", "inbound"), agent(q, at(time.Minute))), true, at(time.Minute)},
		{"address only", conv(customer("", "tel:+14155550100", "inbound"), agent(q, at(time.Minute))), true, at(time.Minute)},
		{"first agent counts", conv(customer("+14155550100", "", "inbound"), agent(q, at(3*time.Minute)), agent(q, at(time.Minute))), true, at(time.Minute)},
		{"agent of another queue", conv(customer("+14155550100", "", "inbound"), agent("q2", at(time.Minute))), false, nil},
		{"agent only alerted", conv(customer("+14155550100", "", "inbound"), agent(q, nil)), false, nil},
		{"outbound call", conv(customer("+14155550100", "", "outbound"), agent(q, at(time.Minute))), false, nil},
		{"no number", conv(customer("", "", "inbound"), agent(q, at(time.Minute))), false, nil},
		{"a callback's conversation", conv(genesys.Participant{Purpose: "customer", Ani: "+14155550100",
			Calls: []genesys.Call{in("inbound", at(0))}, Callbacks: []genesys.Callback{cb("connected", "", at(0), nil)}},
			agent(q, at(time.Minute))), false, nil},
	} {
		got, ok := reachOf(c.cv, q)
		if ok != c.ok || (ok && (!got.at.Equal(*c.at) || !slices.Equal(got.numbers, []string{"+14155550100"}))) {
			t.Errorf("%s: reachOf = %+v, %v; want ok %v at %v", c.name, got, ok, c.ok, c.at)
		}
	}
}
