package main

import "testing"

// TestBenchStream runs "slotline-bench stream" tiny on SQLite and checks
// that every subscriber received every event, in order, and that the
// figures are there. It proves the command works; it says nothing about
// speed.
func TestBenchStream(t *testing.T) {
	if testing.Short() {
		t.Skip("serves the stream to several subscribers over loopback")
	}
	t.Parallel()
	bin := buildSlotline(t)
	var rep benchStreamReport
	out := runBenchJSON(t, &rep, "stream", "--subscribers", "5", "--events", "50", "--rate", "50", "--duration", "1s",
		"--memory-subscribers", "7", "--settle", "1s", "--server-bin", bin, "--json")
	if len(rep.FanOut) != 1 || rep.Latency == nil || rep.Memory == nil {
		t.Fatalf("a section is missing from the report:\n%s", out)
	}
	f := rep.FanOut[0]
	if f.Subscribers != 5 || f.Events != 50 || f.Delivered != 5*50 || !f.Complete {
		t.Errorf("fan-out: %d subscribers, %d events, %d delivered, complete %v; want 5, 50, 250, true",
			f.Subscribers, f.Events, f.Delivered, f.Complete)
	}
	if f.PerSec <= 0 || f.ElapsedSec <= 0 || f.FrameBytes <= 0 || f.ProducerPerSec <= 0 {
		t.Errorf("fan-out: figures %+v, want positive ones", *f)
	}
	if fl := f.Floor; fl == nil || fl.Clients != 5 || fl.Messages != 50 || fl.Delivered != 5*50 || fl.PerSec <= 0 || fl.MessageBytes != f.FrameBytes {
		t.Errorf("floor: %+v; want 5 clients, 50 messages of %d bytes, 250 delivered, a positive rate", fl, f.FrameBytes)
	}
	if f.FloorRatio == nil || *f.FloorRatio <= 0 {
		t.Errorf("fan-out: no ratio to the floor")
	}
	if l := rep.Latency; l.Subscribers != 5 || l.Events != 50 || l.Deliveries != 5*50 || !l.Complete ||
		l.AchievedPerSec <= 0 || l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.MaxMs < l.P99Ms {
		t.Errorf("latency: %+v; want 250 deliveries of 50 events to 5 subscribers and positive percentiles", *l)
	}
	m := rep.Memory
	if m.Subscribers != 7 || m.Events != 50 || m.Delivered != 7*50 {
		t.Errorf("memory: %d subscribers got %d of %d events; want 7 × 50", m.Subscribers, m.Delivered, m.Events)
	}
	if m.BeforeMiB <= 0 || m.BusyMiB <= 0 || m.PeakMiB < m.BusyMiB || m.PeakMiB < m.BeforeMiB || m.ElapsedSec <= 0 {
		t.Errorf("memory: RSS before %.1f, at the end %.1f, peak %.1f MiB; want positive figures, the peak the highest", m.BeforeMiB, m.BusyMiB, m.PeakMiB)
	}
	if m.Busy == nil || m.Busy.Subscribers != 7 || m.Busy.HeapInuseMiB <= 0 || m.Busy.Goroutines <= 0 {
		t.Errorf("memory: the server's Go figures at the end of the fan-out %+v; want 7 subscribers and a heap", m.Busy)
	}
	// --settle 1s: one reading, a second after the server counted no
	// subscriber, and no verdict (the target is for a minute).
	if len(m.After) != 1 || m.After[0].AfterSec != 1 || m.After[0].RSSMiB <= 0 || m.After[0].Go == nil || m.After[0].Go.Subscribers != 0 {
		t.Errorf("memory: readings after the subscribers left %+v; want one, 1 s after, with none subscribed", m.After)
	}
	if m.Pass != nil || m.TargetMiB != benchStreamTargetRSSMiB {
		t.Errorf("memory: verdict %v on a 1 s settle (target %g); want none", m.Pass, m.TargetMiB)
	}
}

func TestBenchEventKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		seq     int64
		id      string
	}{
		{`{"seq":42,"event_id":"evt_0a1b","type":"reservation.created"}`, 42, "evt_0a1b"},
		{`{"type":"x","event_id":"evt_2","seq":7}`, 7, "evt_2"}, // another order: decoded in full
		{`{"seq":3,"event_id":"a\"b","type":"x"}`, 3, `a\"b`},   // an escaped quote stays escaped
		{`{"seq":9,"event_id":"caf\u00e9"}`, 9, "café"},         // re-encoded as JSON
	}
	for _, tt := range tests {
		seq, id, err := benchEventKey([]byte(tt.payload))
		if err != nil || seq != tt.seq || string(id) != tt.id {
			t.Errorf("benchEventKey(%s) = %d, %q, %v; want %d, %q", tt.payload, seq, id, err, tt.seq, tt.id)
		}
	}
	if _, _, err := benchEventKey([]byte(`not json`)); err == nil {
		t.Errorf("benchEventKey(not json): no error")
	}
}
