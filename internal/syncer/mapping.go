package syncer

import (
	"strings"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
)

// participants picks the customer, the ACD and an agent participant.
func participants(c *genesys.CallbackConversation) (customer, acd, agent *genesys.CallbackParticipant) {
	for i := range c.Participants {
		p := &c.Participants[i]
		switch strings.ToLower(p.Purpose) {
		case "customer", "external":
			if customer == nil {
				customer = p
			}
		case "acd":
			if acd == nil {
				acd = p
			}
		case "agent", "user":
			if agent == nil || p.ConnectedTime != nil {
				agent = p
			}
		}
	}
	return customer, acd, agent
}

// scheduledAt returns the callback time the conversation holds.
func scheduledAt(c *genesys.CallbackConversation) *time.Time {
	customer, acd, _ := participants(c)
	for _, p := range []*genesys.CallbackParticipant{customer, acd} {
		if p != nil && p.CallbackScheduledTime != nil && !p.CallbackScheduledTime.IsZero() {
			return p.CallbackScheduledTime
		}
	}
	for _, p := range c.Participants {
		if p.CallbackScheduledTime != nil && !p.CallbackScheduledTime.IsZero() {
			return p.CallbackScheduledTime
		}
	}
	return nil
}

// mapConversation turns a callback conversation into the update it implies
// for its reservation at instant now:
//
//   - waiting for its time (state scheduled, or any state that is not final
//     while the scheduled time is still ahead: which state Genesys reports
//     for a callback not yet due is unconfirmed) → scheduled;
//   - alerting, dialing, contacting, offering, connected … → in_progress;
//   - disconnected or terminated → completed when an agent was connected,
//     canceled when it ended before its time without ever dialing (a
//     supervisor's disconnect), else missed with its disconnect type.
//
// Unknown states imply nothing.
func mapConversation(c *genesys.CallbackConversation, now time.Time) reservation.GenesysUpdate {
	var u reservation.GenesysUpdate
	at := scheduledAt(c)
	if at != nil {
		u.ScheduledAt = at.UTC()
	}
	customer, acd, agent := participants(c)
	lead := customer
	if lead == nil {
		lead = acd
	}
	if lead == nil {
		return u
	}
	state := strings.ToLower(lead.State)
	final := state == "disconnected" || state == "terminated"
	if acd != nil && !final {
		// The customer leg may still read scheduled while the ACD leg ended.
		if s := strings.ToLower(acd.State); (s == "disconnected" || s == "terminated") && customer != nil && customer.ConnectedTime == nil && agent == nil {
			final, lead = true, acd
		}
	}
	switch {
	case final:
		agentConnected := agent != nil && (agent.ConnectedTime != nil || strings.EqualFold(agent.State, "connected") || strings.EqualFold(agent.State, "disconnected"))
		switch {
		case agentConnected:
			u.Status = reservation.StatusCompleted
		case at != nil && at.After(now) && (customer == nil || customer.ConnectedTime == nil):
			u.Status = reservation.StatusCanceled
		default:
			u.Status = reservation.StatusMissed
		}
		u.DisconnectType = lead.DisconnectType
	case state == "scheduled" || state == "" || state == "none" || (at != nil && at.After(now.Add(time.Minute))):
		u.Status = reservation.StatusScheduled
	case state == "alerting" || state == "dialing" || state == "contacting" || state == "offering" ||
		state == "connected" || state == "converting" || state == "parked" || state == "transmitting" || state == "uploading":
		u.Status = reservation.StatusInProgress
	}
	return u
}

// withBucket fills in the bucket and capacity of the update's time.
func (r *Runner) withBucket(q *booking.Queue, u reservation.GenesysUpdate) reservation.GenesysUpdate {
	if q == nil || u.ScheduledAt.IsZero() {
		return u
	}
	b := q.Calendar.BucketAt(u.ScheduledAt)
	u.Bucket, u.Cap = b.Start, q.Calendar.CapacityAt(b.Start)
	return u
}
