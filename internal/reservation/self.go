package reservation

import (
	"fmt"
	"time"
)

// OriginCustomer is the origin of a change the customer made through the
// reservation's self-service link.
const OriginCustomer = "customer"

// OriginWidget is the origin of a reservation made with a publishable key
// (the embeddable widget, or any browser page holding the key).
const OriginWidget = "widget"

// OriginPage is the origin of a reservation the customer booked on
// Slotline's own booking page (/book/{queue_id}).
const OriginPage = "page"

// ActorCustomer is the actor of such a change.
const ActorCustomer = "customer"

// SelfPolicy is a queue's self-service policy: what a customer may still
// change through the reservation's link.
type SelfPolicy struct {
	// MaxReschedules is how many times the customer may reschedule (0:
	// never).
	MaxReschedules int
	// Cutoff is how long before the slot's start the customer's changes
	// (reschedules and cancels) stop being accepted.
	Cutoff time.Duration
}

// Deadline returns the last instant at which the customer may change r.
func (p SelfPolicy) Deadline(r *Reservation) time.Time { return r.Slot.Start.Add(-p.Cutoff) }

// RemainingReschedules returns how many reschedules r has left.
func (p SelfPolicy) RemainingReschedules(r *Reservation) int {
	return max(p.MaxReschedules-r.SelfReschedules, 0)
}

// Allow returns ECHANGENOTALLOWED when the policy forbids the customer's
// change of r at now (a reschedule when reschedule is true, else a
// cancel): past the cutoff, or, for a reschedule, with no reschedule
// left. A nil policy (a change that is not the customer's) and a
// reservation whose status is final (the rule itself then refuses the
// change, or repeats a cancel) pass. Storage runs it on the locked
// reservation, inside the change's transaction.
func (p *SelfPolicy) Allow(r *Reservation, reschedule bool, now time.Time) error {
	if p == nil || r.Status.Final() {
		return nil
	}
	if !now.Before(p.Deadline(r)) {
		return &Error{Code: ECHANGENOTALLOWED, Message: fmt.Sprintf(
			"the cutoff has passed: changes are accepted until %s before the callback (%s)",
			p.Cutoff, p.Deadline(r).UTC().Format(time.RFC3339)), Extra: map[string]any{"reason": "cutoff"}}
	}
	if reschedule && r.SelfReschedules >= p.MaxReschedules {
		return &Error{Code: ECHANGENOTALLOWED, Message: fmt.Sprintf(
			"the reservation was rescheduled %d times, the most this queue allows (max_reschedules %d)",
			r.SelfReschedules, p.MaxReschedules), Extra: map[string]any{"reason": "max_reschedules"}}
	}
	return nil
}

// OptOut records that r's number opted out of SMS. It changes nothing
// when r already has.
func OptOut(r *Reservation, now time.Time) Transition {
	if r.SMSOptOut {
		return Transition{}
	}
	r.SMSOptOut = true
	bump(r, now)
	return Transition{Changed: true, Event: EventUpdated, Action: "reservation.sms_opt_out", Detail: []any{"sms_opt_out", true}}
}
