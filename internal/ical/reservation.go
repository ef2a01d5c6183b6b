package ical

import (
	"strings"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// FromReservation returns r as a calendar event stamped now.
//
// The UID is r.ID + "@slotline" and the SEQUENCE is r.Version, so every
// version of a reservation updates one event. The event spans r.Slot in the
// queue's zone (r.TimeZone). The summary is "Callback: <queue> — <reason>"
// (without the dash part when there is no reason); the description lists the
// reservation id, its status, the callback number and the customer's name.
// The number, also the event's LOCATION, is masked with
// reservation.MaskNumber unless showNumber is set. The status is CANCELLED
// for canceled and failed reservations and CONFIRMED otherwise.
func FromReservation(r *reservation.Reservation, queueName string, showNumber bool, now time.Time) Event {
	number := r.CallbackNumber
	if !showNumber {
		number = reservation.MaskNumber(number)
	}

	summary := "Callback"
	if queueName != "" {
		summary += ": " + queueName
	}
	if r.Reason != "" {
		if queueName != "" {
			summary += " — " + r.Reason
		} else {
			summary += ": " + r.Reason
		}
	}

	var d strings.Builder
	d.WriteString("Reservation: " + r.ID)
	d.WriteString("\nStatus: " + string(r.Status))
	if number != "" {
		d.WriteString("\nNumber: " + number)
	}
	if r.CustomerName != "" {
		d.WriteString("\nCustomer: " + r.CustomerName)
	}

	status := StatusConfirmed
	if r.Status == reservation.StatusCanceled || r.Status == reservation.StatusFailed {
		status = StatusCancelled
	}

	return Event{
		UID:          r.ID + "@slotline",
		Sequence:     r.Version,
		Start:        r.Slot.Start,
		End:          r.Slot.End,
		TZID:         r.TimeZone,
		Summary:      summary,
		Description:  d.String(),
		Status:       status,
		Stamp:        now.UTC(),
		Created:      r.CreatedAt,
		LastModified: r.UpdatedAt,
		Location:     number,
	}
}
