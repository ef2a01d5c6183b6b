package report

import (
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

func TestBuild(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 on Dec 1 in New York is Dec 2 in UTC: it counts for Dec 1.
	late := time.Date(2026, 12, 1, 23, 30, 0, 0, ny)
	morning := time.Date(2026, 12, 2, 9, 0, 0, 0, ny)
	facts := []Facts{
		{SlotStart: late, Status: reservation.StatusCompleted, Outcome: reservation.OutcomeReached, StartedAt: late.Add(4 * time.Minute), Messages: 2, Reminders: 1},
		{SlotStart: morning, Status: reservation.StatusCompleted, Outcome: reservation.OutcomeReached, StartedAt: morning.Add(20 * time.Minute)},
		{SlotStart: morning, Status: reservation.StatusMissed, Outcome: reservation.OutcomeNotReached, StartedAt: morning.Add(time.Minute), Messages: 1},
		{SlotStart: morning, Status: reservation.StatusCanceled, Outcome: reservation.OutcomeCanceled, CanceledBy: reservation.OriginCustomer},
		{SlotStart: morning, Status: reservation.StatusCanceled, Outcome: reservation.OutcomeCanceled, CanceledBy: reservation.OriginSystem,
			CancelReason: reservation.CancelReasonCustomerReached},
		{SlotStart: morning, Status: reservation.StatusFailed, Outcome: reservation.OutcomeFailed},
		{SlotStart: morning, Status: reservation.StatusScheduled},
		{SlotStart: morning.AddDate(0, 0, 5), Status: reservation.StatusScheduled}, // outside the days
	}
	first, _ := schedule.ParseDate("2026-12-01")
	last, _ := schedule.ParseDate("2026-12-03")
	days := Build("q1", ny, first, last, facts, 5*time.Minute)
	if len(days) != 3 || days[0].Date != "2026-12-01" || days[2].Date != "2026-12-03" {
		t.Fatalf("days %+v, want Dec 1 to 3", days)
	}
	d1, d2, d3 := days[0], days[1], days[2]
	if d1.Booked != 1 || d1.Reached != 1 || d1.Punctual != 1 || *d1.ReachRate != 1 || *d1.Punctuality != 1 || d1.SMSSent != 2 || d1.RemindersSent != 1 {
		t.Errorf("Dec 1: %+v", d1)
	}
	want := Day{QueueID: "q1", Date: "2026-12-02", Booked: 6, Reached: 1, NotReached: 1, Canceled: 2, CanceledByCustomer: 1,
		CanceledReached: 1, Failed: 1, SMSSent: 1, Punctual: 1}
	got := d2
	got.ReachRate, got.Punctuality = nil, nil
	if got != want {
		t.Errorf("Dec 2:\n got %+v\nwant %+v", got, want)
	}
	if d2.ReachRate == nil || *d2.ReachRate != 0.5 || d2.Punctuality == nil || *d2.Punctuality != 0.5 {
		t.Errorf("Dec 2 rates: reach %v, punctuality %v; want 0.5 and 0.5 (the reached one started 20 min late)", d2.ReachRate, d2.Punctuality)
	}
	if d3.Booked != 0 || d3.ReachRate != nil || d3.Punctuality != nil {
		t.Errorf("Dec 3, nothing booked: %+v", d3)
	}
}
