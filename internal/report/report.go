// SPDX-License-Identifier: Apache-2.0

// Package report turns the facts of a queue's reservations into its
// outcome report: per day of the queue's calendar, how many callbacks were
// booked, how many reached the customer and how many did not, how many
// were canceled by the customer or because the customer got through on
// another call, the messages sent, the reach rate and the punctuality.
// It reads no database (storage.OutcomeFacts gives the facts).
package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// DefaultPunctualWithin is how soon after its slot's start a callback must
// start to count as punctual when the request says nothing.
const DefaultPunctualWithin = 5 * time.Minute

// Facts is what the outcome report needs of one reservation: its
// slot, where it ended, who canceled it, when Genesys started it, and the
// messages sent to its customer (from the event log, which is kept for
// good, not from the message records, which housekeeping deletes).
type Facts struct {
	ID           string
	SlotStart    time.Time
	Status       reservation.Status
	Outcome      reservation.Outcome
	CancelReason string
	// CanceledBy is the origin of its cancel event (customer, api, …; ""
	// when it was not canceled through Slotline).
	CanceledBy string
	// StartedAt is when Slotline first saw Genesys working on it (its
	// first reservation.in_progress event; zero when never).
	StartedAt time.Time
	// Reminders and Messages count its reservation.notified events: those
	// of kind remind, and all of them.
	Reminders, Messages int
}

// Day is one queue's figures for one day of its calendar (the day its
// reservations' slots start on, in the queue's zone).
type Day struct {
	QueueID string `json:"queue_id"`
	Date    string `json:"date"` // YYYY-MM-DD
	// Booked counts every reservation whose slot starts that day, whatever
	// became of it.
	Booked int `json:"booked"`
	// Reached and NotReached count the callbacks Genesys placed, by their
	// outcome.
	Reached    int `json:"reached"`
	NotReached int `json:"not_reached"`
	// CanceledByCustomer counts those the customer canceled through their
	// link; CanceledReached those canceled because the customer got
	// through on another call (cancel_reason customer_reached); Canceled
	// every canceled one.
	CanceledByCustomer int `json:"canceled_by_customer"`
	CanceledReached    int `json:"canceled_customer_reached"`
	Canceled           int `json:"canceled"`
	// Failed counts those Genesys refused or could not place.
	Failed int `json:"failed"`
	// RemindersSent and SMSSent count the messages sent to the customers
	// (reservation.notified events): reminders, and every kind.
	RemindersSent int `json:"reminders_sent"`
	SMSSent       int `json:"sms_sent"`
	// ReachRate is Reached ÷ (Reached + NotReached); nil when neither.
	ReachRate *float64 `json:"reach_rate"`
	// Punctual counts the placed callbacks (reached or not) that Genesys
	// started within the report's punctual_within of their slot's start;
	// Punctuality is Punctual ÷ (Reached + NotReached), nil when neither.
	Punctual    int      `json:"punctual"`
	Punctuality *float64 `json:"punctuality"`
}

// Build returns the days from first to last (inclusive, every day, those
// with nothing too) of one queue whose zone is loc, from facts (each
// reservation once, any order).
func Build(queueID string, loc *time.Location, first, last schedule.Date, facts []Facts, punctualWithin time.Duration) []Day {
	var days []Day
	index := map[schedule.Date]int{}
	for d := first; d.String() <= last.String(); d = d.AddDays(1) {
		index[d] = len(days)
		days = append(days, Day{QueueID: queueID, Date: d.String()})
	}
	for _, f := range facts {
		i, ok := index[schedule.DateOf(f.SlotStart.In(loc))]
		if !ok {
			continue
		}
		d := &days[i]
		d.Booked++
		d.RemindersSent += f.Reminders
		d.SMSSent += f.Messages
		placed := false
		switch {
		case f.Outcome == reservation.OutcomeReached:
			d.Reached++
			placed = true
		case f.Outcome == reservation.OutcomeNotReached:
			d.NotReached++
			placed = true
		case f.Status == reservation.StatusFailed:
			d.Failed++
		case f.Status == reservation.StatusCanceled:
			d.Canceled++
			if f.CancelReason == reservation.CancelReasonCustomerReached {
				d.CanceledReached++
			} else if f.CanceledBy == reservation.OriginCustomer {
				d.CanceledByCustomer++
			}
		}
		if placed && !f.StartedAt.IsZero() && f.StartedAt.Sub(f.SlotStart) <= punctualWithin {
			d.Punctual++
		}
	}
	for i := range days {
		d := &days[i]
		if n := d.Reached + d.NotReached; n > 0 {
			reach, punctual := float64(d.Reached)/float64(n), float64(d.Punctual)/float64(n)
			d.ReachRate, d.Punctuality = &reach, &punctual
		}
	}
	return days
}

// WriteCSV writes days as the CSV of GET /api/v2/reports/outcomes (and the
// console's download): a header line, then one line per day; a rate
// without a value is empty, one with a value has four decimals.
func WriteCSV(w io.Writer, days []Day) error {
	cw := csv.NewWriter(w)
	rate := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 4, 64)
	}
	_ = cw.Write([]string{"queue_id", "date", "booked", "reached", "not_reached", "canceled", "canceled_by_customer",
		"canceled_customer_reached", "failed", "reminders_sent", "sms_sent", "reach_rate", "punctual", "punctuality"})
	for _, d := range days {
		n := strconv.Itoa
		_ = cw.Write([]string{d.QueueID, d.Date, n(d.Booked), n(d.Reached), n(d.NotReached), n(d.Canceled), n(d.CanceledByCustomer),
			n(d.CanceledReached), n(d.Failed), n(d.RemindersSent), n(d.SMSSent), rate(d.ReachRate), n(d.Punctual), rate(d.Punctuality)})
	}
	cw.Flush()
	return cw.Error()
}
