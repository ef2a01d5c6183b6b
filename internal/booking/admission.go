package booking

import (
	"context"
	"errors"
	"math"

	"github.com/slotline/slotline/internal/reservation"
)

// admissionRefusal turns the store's refusal of a create by the queue's
// duplicate rule or throttles into the service's answer; ok is false for
// any other error.
//
// A duplicate is shown only to a caller who may see the reservation it
// duplicates (clients are isolated): lenient answers with it and strict
// names it in duplicate_of; to another client lenient and strict both
// answer EDUPLICATE without the id.
func (s *Service) admissionRefusal(ctx context.Context, c Caller, err error) (*Result, bool, error) {
	var de *reservation.DuplicateError
	var te *reservation.ThrottledError
	switch {
	case errors.As(err, &de):
		visible := c.owner() == "" || de.Existing.ClientID == c.ClientID
		if de.Lenient && visible {
			s.observer.Admission("duplicate", "")
			s.logger.InfoContext(ctx, "create answered with its duplicate", "reservation_id", de.Existing.ID,
				"queue_id", de.Existing.QueueID, "callback_number", reservation.MaskedNumber(de.Existing.CallbackNumber),
				"client_id", c.ClientID, "request_id", c.RequestID)
			return &Result{Reservation: de.Existing, DuplicateOf: de.Existing.ID}, true, nil
		}
		s.observer.Admission("rejected", reservation.EDUPLICATE)
		e := &reservation.Error{Code: reservation.EDUPLICATE,
			Message: "callback_number already has an active reservation",
			Fields:  map[string]string{"callback_number": "already has an active reservation"}}
		if visible {
			e.Message += " (" + de.Existing.ID + ")"
			e.Extra = map[string]any{"duplicate_of": de.Existing.ID}
		}
		return nil, true, e
	case errors.As(err, &te):
		s.observer.Admission("rejected", reservation.ETHROTTLED)
		secs := int(math.Ceil(te.RetryAfter.Seconds()))
		what := "callback_number has had"
		if te.Which == "per_queue" {
			what = "the queue has had"
		}
		return nil, true, &reservation.Error{Code: reservation.ETHROTTLED,
			Message: what + " as many creates as throttle." + te.Which + " allows (" + te.Limit.String() + ")",
			Extra:   map[string]any{"retry_after": max(secs, 1)}}
	}
	return nil, false, nil
}
