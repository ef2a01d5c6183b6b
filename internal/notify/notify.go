// SPDX-License-Identifier: Apache-2.0

// Package notify holds the rules of the SMS Slotline sends to customers:
// the kinds (confirm, remind, cancel, missed), each queue's Policy (which
// kinds, how long before the slot the reminder goes, quiet hours), the
// templates per locale with their placeholders, and the customer's time
// written in the customer's language. It sends nothing itself: the sync
// (package syncer) plans and sends the messages as durable jobs.
package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kinds of message.
const (
	// KindConfirm is sent when a reservation is booked.
	KindConfirm = "confirm"
	// KindRemind is sent Policy.RemindBefore the slot's start.
	KindRemind = "remind"
	// KindCancel is sent when a reservation is canceled.
	KindCancel = "cancel"
	// KindMissed is sent when Genesys could not reach the customer and the
	// reservation asked for the SMS fallback.
	KindMissed = "missed"
	// KindMoved is sent when an operator moves a reservation to another
	// slot because a capacity change left its bucket over capacity. It is
	// always sent (to a customer who may get SMS): the customer did not
	// ask for the change.
	KindMoved = "moved"
)

// Kinds lists every kind, in the order the configuration documents them.
var Kinds = []string{KindConfirm, KindRemind, KindCancel, KindMissed, KindMoved}

// Policy is a queue's notify block: which messages its customers get.
type Policy struct {
	// Confirm sends a confirmation when a reservation is booked.
	Confirm bool
	// RemindBefore is how long before the slot's start the reminder is
	// sent; 0 sends none.
	RemindBefore time.Duration
	// OnCancel sends a message when a reservation is canceled (not when it
	// is canceled because the customer got through on another call).
	OnCancel bool
	// OnMissed sends the SMS fallback of a missed callback whose
	// reservation asked for it (channel_preferences.fallback sms).
	OnMissed bool
	// Quiet are the hours, in the customer's zone, in which no reminder
	// or cancel message is sent (zero: none).
	Quiet QuietHours
}

// DefaultPolicy is a queue's policy when its configuration has no notify
// block: the missed-callback fallback only, as before notifications
// existed.
var DefaultPolicy = Policy{OnMissed: true}

// Wants reports whether the policy sends messages of kind.
func (p Policy) Wants(kind string) bool {
	switch kind {
	case KindConfirm:
		return p.Confirm
	case KindRemind:
		return p.RemindBefore > 0
	case KindCancel:
		return p.OnCancel
	case KindMissed:
		return p.OnMissed
	case KindMoved:
		return true
	}
	return false
}

// QuietHours is a daily interval of local time, [Start, End) in minutes
// after midnight, which may cross midnight ("21:00-08:00"). Start == End
// is no quiet hours.
type QuietHours struct {
	Start, End int
}

// ParseQuietHours reads "HH:MM-HH:MM" (24-hour clock; "21:00-08:00"
// crosses midnight); "" is none.
func ParseQuietHours(s string) (QuietHours, error) {
	if s == "" {
		return QuietHours{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	a, err := clock(from)
	if err != nil {
		return QuietHours{}, err
	}
	b, err := clock(to)
	if err != nil {
		return QuietHours{}, err
	}
	if a == b {
		return QuietHours{}, fmt.Errorf("%q starts and ends at the same time", s)
	}
	return QuietHours{Start: a, End: b}, nil
}

// clock reads HH:MM, 00:00 to 24:00.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return hh*60 + mm, nil
}

// IsZero reports whether q is no quiet hours.
func (q QuietHours) IsZero() bool { return q.Start == q.End }

// String is q as the configuration writes it, or "" for none.
func (q QuietHours) String() string {
	if q.IsZero() {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.Start/60, q.Start%60, q.End/60, q.End%60)
}

// After returns when the quiet hours that hold t, seen in loc, end; t
// itself when t is outside them. A day whose clock jumps (DST) is read on
// the wall clock: an end that does not exist that day is the first
// instant after it.
func (q QuietHours) After(t time.Time, loc *time.Location) time.Time {
	if q.IsZero() {
		return t
	}
	lt := t.In(loc)
	mins := lt.Hour()*60 + lt.Minute()
	var inside bool
	if q.Start < q.End {
		inside = mins >= q.Start && mins < q.End
	} else {
		inside = mins >= q.Start || mins < q.End
	}
	if !inside {
		return t
	}
	day := lt
	if q.Start > q.End && mins >= q.Start {
		day = lt.AddDate(0, 0, 1) // the end is tomorrow
	}
	end := time.Date(day.Year(), day.Month(), day.Day(), q.End/60, q.End%60, 0, 0, loc)
	if !end.After(t) {
		return t
	}
	return end
}

// States of a notification record.
const (
	// StateSending: claimed; the send may have reached Genesys. A send
	// repeated from this state carries the same idempotency key.
	StateSending = "sending"
	StateSent    = "sent"
	StateRefused = "refused" // Genesys refused it for good
	StateFailed  = "failed"  // it failed transiently on every attempt
	StateSkipped = "skipped" // not sent: quiet hours, opted out, …
)

// Record is one message Slotline decided to send, as stored: one per
// reservation, kind and slot key.
type Record struct {
	ReservationID string
	Kind          string
	// SlotKey is the slot start (Unix microseconds) a reminder was
	// planned for; "" for the kinds sent once per reservation.
	SlotKey string
	State   string
	// IdempotencyKey goes with every send of the record (IdempotencyKey).
	IdempotencyKey string
	MessageID      string
	Reason         string
	UpdatedAt      time.Time
	SentAt         time.Time
}

// SlotKey is the slot key of a reminder for a slot starting at start.
func SlotKey(start time.Time) string { return strconv.FormatInt(start.UnixMicro(), 10) }

// IdempotencyKey derives the key every send of one message carries (the
// Idempotency-Key header): the same for the same reservation, kind and
// slot key, and telling nothing about them.
func IdempotencyKey(reservationID, kind, slotKey string) string {
	sum := sha256.Sum256([]byte("slotline-notify\x00" + reservationID + "\x00" + kind + "\x00" + slotKey))
	return "slotline-" + hex.EncodeToString(sum[:16])
}
