package main

import "testing"

// TestBenchWebhooks runs "slotline-bench webhooks" tiny on SQLite and
// checks that every event reached the receiver exactly once, in the
// deliver phase and in the loss phase (where the receiver fails 30% of the
// requests), and that the figures are there. It proves the command works;
// it says nothing about speed.
func TestBenchWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs River, the dispatcher and a receiver over loopback")
	}
	t.Parallel()
	var rep benchWebhooksReport
	out := runBenchJSON(t, &rep, "webhooks", "--events", "50", "--loss-events", "50", "--floor-duration", "200ms", "--json")
	if rep.Floor == nil || rep.Deliver == nil || rep.Loss == nil {
		t.Fatalf("a section is missing from the report:\n%s", out)
	}
	if f := rep.Floor; f.Full.Count <= 0 || f.Full.PerSec <= 0 || f.BodyBytes <= 0 {
		t.Errorf("floor: %+v, want positive figures", *f)
	}
	d := rep.Deliver
	if d.Events != 50 || d.Deliveries != 50 || d.Delivered != 50 || d.Lost != 0 || d.Duplicates != 0 || !d.Complete {
		t.Errorf("deliver: %d events, %d wanted, %d delivered, %d lost, %d duplicates, complete %v; want 50, 50, 50, 0, 0, true",
			d.Events, d.Deliveries, d.Delivered, d.Lost, d.Duplicates, d.Complete)
	}
	if d.PerSec <= 0 || d.CommitPerSec <= 0 || d.ElapsedSec <= 0 || d.FloorRatio == nil || *d.FloorRatio <= 0 {
		t.Errorf("deliver: figures %+v, want positive ones", *d)
	}
	l := rep.Loss
	if l.Events != 50 || l.Delivered != 50 || l.Lost != 0 || l.Duplicates != 0 || !l.Complete || !l.Pass {
		t.Errorf("loss: %d events, %d delivered, %d lost, %d duplicates, complete %v, pass %v; want 50, 50, 0, 0, true, true",
			l.Events, l.Delivered, l.Lost, l.Duplicates, l.Complete, l.Pass)
	}
	if l.Failed <= 0 || l.Requests != l.Delivered+l.Failed || l.Retries != l.Failed {
		t.Errorf("loss: %d requests, %d answered 500, %d retries; want failures, each retried, and nothing else sent",
			l.Requests, l.Failed, l.Retries)
	}
	if d.Unreadable+l.Unreadable+d.IDConflicts+l.IDConflicts > 0 {
		t.Errorf("the receiver got %d unreadable bodies and %d reused webhook-ids",
			d.Unreadable+l.Unreadable, d.IDConflicts+l.IDConflicts)
	}
}
