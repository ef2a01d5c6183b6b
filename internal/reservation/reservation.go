// SPDX-License-Identifier: Apache-2.0

// Package reservation holds Slotline's domain: reservations, their status and
// sync state, the events that record every change, the requests that create
// and change them, and the one coded error type. It has no infrastructure
// dependencies.
package reservation

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Status is where a reservation is in its life.
type Status string

// The statuses. Scheduled is the only status that holds a slot.
const (
	StatusScheduled  Status = "scheduled"   // the slot is held
	StatusInProgress Status = "in_progress" // Genesys is dialing or connected
	StatusCompleted  Status = "completed"   // the customer spoke to an agent
	StatusMissed     Status = "missed"      // not answered, or no agent
	StatusCanceled   Status = "canceled"    // canceled by a client or in Genesys
	StatusFailed     Status = "failed"      // Genesys refused it
)

// Statuses lists every status.
var Statuses = []Status{StatusScheduled, StatusInProgress, StatusCompleted, StatusMissed, StatusCanceled, StatusFailed}

// Final reports whether s is an end state.
func (s Status) Final() bool {
	switch s {
	case StatusCompleted, StatusMissed, StatusCanceled, StatusFailed:
		return true
	}
	return false
}

// Outcome is how a reservation's callback ended: what its final status
// says, in the words of the callback.
type Outcome string

// The outcomes; a reservation has one once its status is final.
const (
	OutcomeReached    Outcome = "reached"     // completed: the customer's call was answered
	OutcomeNotReached Outcome = "not_reached" // missed: never answered, or wrapped up as not reached
	OutcomeCanceled   Outcome = "canceled"    // canceled, by a client or inside Genesys before anybody dialled
	OutcomeFailed     Outcome = "failed"      // Genesys refused or could not place the callback
)

// OutcomeOf returns the outcome a final status stands for, "" for the
// others.
func OutcomeOf(s Status) Outcome {
	switch s {
	case StatusCompleted:
		return OutcomeReached
	case StatusMissed:
		return OutcomeNotReached
	case StatusCanceled:
		return OutcomeCanceled
	case StatusFailed:
		return OutcomeFailed
	}
	return ""
}

// DisconnectReason is one Q.850 or SIP cause of a call's end, as Genesys
// reports it.
type DisconnectReason struct {
	Type   string `json:"type"`
	Code   int    `json:"code"`
	Phrase string `json:"phrase,omitempty"`
}

// SyncState is how far a reservation has been carried to Genesys Cloud.
type SyncState string

// The sync states.
const (
	SyncPending SyncState = "pending"
	SyncSynced  SyncState = "synced"
	SyncFailed  SyncState = "failed"
)

// Slot is a span of time [Start, End).
type Slot struct {
	Start time.Time
	End   time.Time
}

// ChannelPreferences is the seed's channel preference directive.
type ChannelPreferences struct {
	Primary  string `json:"primary"`
	Fallback string `json:"fallback,omitempty"`
	AllowSMS bool   `json:"allow_sms"`
}

// CallbackIdentifier is one of the identifiers Genesys returns for a
// created callback (type ACD, EXTERNAL or DIALER).
type CallbackIdentifier struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Sync is the Genesys side of a reservation.
type Sync struct {
	State          SyncState            `json:"state"`
	ConversationID string               `json:"conversation_id,omitempty"`
	CallbackIDs    []CallbackIdentifier `json:"callback_identifiers,omitempty"`
	// ScheduledAt is the callback time Genesys holds (it differs from the
	// reservation's slot while a reschedule is on its way).
	ScheduledAt time.Time `json:"-"`
	Attempts    int       `json:"attempts,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
}

// Reservation is one reserved callback.
type Reservation struct {
	ID         string
	ClientID   string
	CallbackID string
	QueueID    string
	// TimeZone is the queue's zone when the reservation was made; the chosen
	// slot is shown in it.
	TimeZone         string
	CallbackNumber   string
	CustomerName     string
	Candidates       []Slot
	Slot             Slot
	Bucket           time.Time // start of the capacity bucket the slot counts against
	Channel          ChannelPreferences
	Reason           string
	ConcurrencyLimit int
	Status           Status
	// Outcome is how the callback ended ("" until its status is final).
	Outcome Outcome
	// CancelReason says why a canceled reservation was canceled, when the
	// cancel had a reason of its own (CancelReasonCustomerReached), else "".
	CancelReason string
	// DisconnectType is how Genesys ended the callback: for a missed one,
	// how the last call to the customer ended; DisconnectReasons are that
	// call's Q.850 or SIP causes.
	DisconnectType    string
	DisconnectReasons []DisconnectReason
	// WrapupCode is the wrap-up code (its id in Genesys) the agent ended
	// the callback with, if any; DialAttempts counts the calls placed to
	// the customer.
	WrapupCode   string
	DialAttempts int
	// Overbooked marks a reservation moved inside Genesys into a bucket
	// that was already full: accepted, because Genesys is the truth.
	Overbooked bool
	// Locale is the customer's language (a BCP 47 tag, like "de" or
	// "fr-CA") for the messages sent to them.
	Locale string
	// SMSOptOut says the customer's number opted out of SMS: no message
	// of any kind is sent to it.
	SMSOptOut bool
	Sync      Sync
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time

	// SelfNonce is the random nonce the reservation's self-service token
	// is derived from, SelfDigest the SHA-256 (hex) of that token, by
	// which the link finds the reservation, and SelfReschedules the
	// reschedules made through the link. None is ever rendered.
	SelfNonce, SelfDigest string
	SelfReschedules       int
}

// HoldsSlot reports whether r counts against its bucket's capacity: every
// reservation does except canceled and failed ones.
func (r *Reservation) HoldsSlot() bool { return r.Status != StatusCanceled && r.Status != StatusFailed }

// ETag returns the entity tag of r's current version.
func (r *Reservation) ETag() string { return fmt.Sprintf("\"%d\"", r.Version) }

// locations caches loaded time zones (time.LoadLocation reads the tz
// database on every call).
var locations sync.Map

func location(name string) *time.Location {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	locations.Store(name, l)
	return l
}

// TimeFormat is how instants are written in API responses (UTC, millisecond
// precision), as in the seed's callback_time.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

type slotJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type reservationJSON struct {
	ID                 string              `json:"id"`
	CallbackID         string              `json:"callback_id,omitempty"`
	CallbackNumber     string              `json:"callback_number"`
	CustomerName       string              `json:"customer_name,omitempty"`
	CallbackTime       string              `json:"callback_time"`
	QueueID            string              `json:"queue_id"`
	Reason             string              `json:"reason"`
	Status             Status              `json:"status"`
	Outcome            Outcome             `json:"outcome,omitempty"`
	CancelReason       string              `json:"cancel_reason,omitempty"`
	DisconnectType     string              `json:"disconnect_type,omitempty"`
	DisconnectReasons  []DisconnectReason  `json:"disconnect_reasons,omitempty"`
	WrapupCode         string              `json:"wrapup_code,omitempty"`
	DialAttempts       int                 `json:"dial_attempts,omitempty"`
	Overbooked         bool                `json:"overbooked,omitempty"`
	Locale             string              `json:"locale,omitempty"`
	SMSOptOut          bool                `json:"sms_opt_out,omitempty"`
	TimeSlot           slotJSON            `json:"time_slot"`
	TimeSlotMatrix     []slotJSON          `json:"time_slot_matrix"`
	TimeZone           string              `json:"timezone"`
	ChannelPreferences *ChannelPreferences `json:"channel_preferences"`
	ConcurrencyLimit   int                 `json:"concurrency_limit,omitempty"`
	ClientID           string              `json:"client_id"`
	Version            int                 `json:"version"`
	CreatedAt          string              `json:"created_at"`
	UpdatedAt          string              `json:"updated_at"`
	Sync               syncJSON            `json:"sync"`
}

type syncJSON struct {
	Sync
	ScheduledAt string `json:"scheduled_at,omitempty"`
}

// MarshalJSON renders r as the API shows it: the seed's response fields
// (id, callback_number, callback_time, queue_id, reason, status) and ours.
// It writes the JSON by hand (every event and response goes through it);
// the tests hold it to what encoding/json makes of reservationJSON.
func (r *Reservation) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(make([]byte, 0, 1024)), nil
}

// AppendJSON appends what MarshalJSON returns to b.
func (r *Reservation) AppendJSON(b []byte) []byte {
	loc := location(r.TimeZone)
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, r.ID)
	if r.CallbackID != "" {
		b = append(b, `,"callback_id":`...)
		b = AppendJSONString(b, r.CallbackID)
	}
	b = append(b, `,"callback_number":`...)
	b = AppendJSONString(b, r.CallbackNumber)
	if r.CustomerName != "" {
		b = append(b, `,"customer_name":`...)
		b = AppendJSONString(b, r.CustomerName)
	}
	b = append(b, `,"callback_time":"`...)
	b = r.Slot.Start.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","queue_id":`...)
	b = AppendJSONString(b, r.QueueID)
	b = append(b, `,"reason":`...)
	b = AppendJSONString(b, r.Reason)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, string(r.Status))
	if r.Outcome != "" {
		b = append(b, `,"outcome":`...)
		b = AppendJSONString(b, string(r.Outcome))
	}
	if r.CancelReason != "" {
		b = append(b, `,"cancel_reason":`...)
		b = AppendJSONString(b, r.CancelReason)
	}
	if r.DisconnectType != "" {
		b = append(b, `,"disconnect_type":`...)
		b = AppendJSONString(b, r.DisconnectType)
	}
	if len(r.DisconnectReasons) > 0 {
		b = append(b, `,"disconnect_reasons":[`...)
		for i, d := range r.DisconnectReasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = AppendJSONString(b, d.Type)
			b = append(b, `,"code":`...)
			b = strconv.AppendInt(b, int64(d.Code), 10)
			if d.Phrase != "" {
				b = append(b, `,"phrase":`...)
				b = AppendJSONString(b, d.Phrase)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if r.WrapupCode != "" {
		b = append(b, `,"wrapup_code":`...)
		b = AppendJSONString(b, r.WrapupCode)
	}
	if r.DialAttempts != 0 {
		b = append(b, `,"dial_attempts":`...)
		b = strconv.AppendInt(b, int64(r.DialAttempts), 10)
	}
	if r.Overbooked {
		b = append(b, `,"overbooked":true`...)
	}
	if r.Locale != "" {
		b = append(b, `,"locale":`...)
		b = AppendJSONString(b, r.Locale)
	}
	if r.SMSOptOut {
		b = append(b, `,"sms_opt_out":true`...)
	}
	b = append(b, `,"time_slot":`...)
	b = appendSlot(b, r.Slot, loc)
	b = append(b, `,"time_slot_matrix":[`...)
	for i, c := range r.Candidates {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSlot(b, c, loc)
	}
	b = append(b, `],"timezone":`...)
	b = AppendJSONString(b, r.TimeZone)
	b = append(b, `,"channel_preferences":{"primary":`...)
	b = AppendJSONString(b, r.Channel.Primary)
	if r.Channel.Fallback != "" {
		b = append(b, `,"fallback":`...)
		b = AppendJSONString(b, r.Channel.Fallback)
	}
	b = append(b, `,"allow_sms":`...)
	b = strconv.AppendBool(b, r.Channel.AllowSMS)
	b = append(b, '}')
	if r.ConcurrencyLimit != 0 {
		b = append(b, `,"concurrency_limit":`...)
		b = strconv.AppendInt(b, int64(r.ConcurrencyLimit), 10)
	}
	b = append(b, `,"client_id":`...)
	b = AppendJSONString(b, r.ClientID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = append(b, `,"created_at":"`...)
	b = r.CreatedAt.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","updated_at":"`...)
	b = r.UpdatedAt.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","sync":{"state":`...)
	y := &r.Sync
	b = AppendJSONString(b, string(y.State))
	if y.ConversationID != "" {
		b = append(b, `,"conversation_id":`...)
		b = AppendJSONString(b, y.ConversationID)
	}
	if len(y.CallbackIDs) > 0 {
		b = append(b, `,"callback_identifiers":[`...)
		for i, c := range y.CallbackIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = AppendJSONString(b, c.Type)
			b = append(b, `,"id":`...)
			b = AppendJSONString(b, c.ID)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if y.Attempts != 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(y.Attempts), 10)
	}
	if y.LastError != "" {
		b = append(b, `,"last_error":`...)
		b = AppendJSONString(b, y.LastError)
	}
	if !y.ScheduledAt.IsZero() {
		b = append(b, `,"scheduled_at":"`...)
		b = y.ScheduledAt.UTC().AppendFormat(b, TimeFormat)
		b = append(b, '"')
	}
	return append(b, "}}"...)
}

// appendSlot appends {"start":…,"end":…} in the queue's zone.
func appendSlot(b []byte, s Slot, loc *time.Location) []byte {
	b = append(b, `{"start":"`...)
	b = s.Start.In(loc).AppendFormat(b, time.RFC3339)
	b = append(b, `","end":"`...)
	b = s.End.In(loc).AppendFormat(b, time.RFC3339)
	return append(b, `"}`...)
}

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it: control characters, the quote and backslash, <, > and &
// (HTML-safe), U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Reservation) UnmarshalJSON(b []byte) error {
	var v reservationJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	parse := func(s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		return time.Parse(time.RFC3339Nano, s)
	}
	var errs []error
	must := func(s string) time.Time {
		t, err := parse(s)
		if err != nil {
			errs = append(errs, err)
		}
		return t
	}
	*r = Reservation{
		ID:                v.ID,
		ClientID:          v.ClientID,
		CallbackID:        v.CallbackID,
		QueueID:           v.QueueID,
		TimeZone:          v.TimeZone,
		CallbackNumber:    v.CallbackNumber,
		CustomerName:      v.CustomerName,
		Slot:              Slot{must(v.TimeSlot.Start), must(v.TimeSlot.End)},
		Reason:            v.Reason,
		ConcurrencyLimit:  v.ConcurrencyLimit,
		Status:            v.Status,
		Outcome:           v.Outcome,
		CancelReason:      v.CancelReason,
		DisconnectType:    v.DisconnectType,
		DisconnectReasons: v.DisconnectReasons,
		WrapupCode:        v.WrapupCode,
		DialAttempts:      v.DialAttempts,
		Locale:            v.Locale,
		SMSOptOut:         v.SMSOptOut,
		Overbooked:        v.Overbooked,
		Sync:              v.Sync.Sync,
		Version:           v.Version,
		CreatedAt:         must(v.CreatedAt),
		UpdatedAt:         must(v.UpdatedAt),
	}
	r.Sync.ScheduledAt = must(v.Sync.ScheduledAt)
	if v.ChannelPreferences != nil {
		r.Channel = *v.ChannelPreferences
	}
	for _, c := range v.TimeSlotMatrix {
		r.Candidates = append(r.Candidates, Slot{must(c.Start), must(c.End)})
	}
	if len(errs) > 0 {
		return fmt.Errorf("reservation %s: %w", v.ID, errs[0])
	}
	return nil
}

// Event types.
const (
	EventCreated     = "reservation.created"
	EventRescheduled = "reservation.rescheduled"
	EventUpdated     = "reservation.updated"
	EventCanceled    = "reservation.canceled"
	EventSynced      = "reservation.synced"
	EventSyncFailed  = "reservation.sync_failed"
	EventInProgress  = "reservation.in_progress"
	EventCompleted   = "reservation.completed"
	EventMissed      = "reservation.missed"
	EventFailed      = "reservation.failed"
	// EventSMSSent: the missed-callback SMS went out. No longer emitted
	// (EventNotified, kind missed, replaced it); older logs hold it and
	// webhook endpoints may still name it.
	EventSMSSent = "reservation.sms_sent"
	// EventSMSRefused: Genesys refused an SMS to the customer for good (a
	// number not provisioned, 10DLC, another 4xx); it is not sent. Its
	// kind says which message.
	EventSMSRefused = "reservation.sms_refused"
	// EventSMSFailed: an SMS to the customer failed transiently (5xx, 429,
	// no answer) on every attempt; it is not sent.
	EventSMSFailed = "reservation.sms_failed"
	// EventNotified: an SMS of the event's kind (confirm, remind, cancel,
	// missed) went to the customer (Genesys accepted it).
	EventNotified = "reservation.notified"
	// EventNotifySkipped: a message of the event's kind was not sent, for
	// the event's reason (quiet_hours, opted_out, …).
	EventNotifySkipped = "reservation.notify_skipped"
)

// StatusEvent returns the event type that records a move to status s.
func StatusEvent(s Status) string {
	switch s {
	case StatusInProgress:
		return EventInProgress
	case StatusCompleted:
		return EventCompleted
	case StatusMissed:
		return EventMissed
	case StatusCanceled:
		return EventCanceled
	case StatusFailed:
		return EventFailed
	}
	return EventUpdated
}

// Origins of a change.
const (
	OriginAPI     = "api"
	OriginGenesys = "genesys"
	OriginSystem  = "system"
)

// Event is one change to one reservation, numbered by a global sequence:
// a reader that has seen Seq N never later finds a committed event below N.
type Event struct {
	Seq        int64     `json:"seq"`
	ID         string    `json:"event_id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Origin     string    `json:"origin"`
	Actor      string    `json:"actor"`
	// Owner is the API client whose reservation or webhook endpoint the
	// event is about: only that client (or one holding an admin scope)
	// receives it. It is not part of the event's JSON.
	Owner         string `json:"-"`
	ReservationID string `json:"reservation_id,omitempty"`
	QueueID       string `json:"queue_id,omitempty"`
	// Kind is the kind of message of the events about an SMS to the
	// customer (reservation.notified, notify_skipped, sms_refused,
	// sms_failed): confirm, remind, cancel or missed; "" on other events.
	Kind string `json:"kind,omitempty"`
	// Reason says why a message was skipped, refused or failed (without
	// the customer's number); "" on other events.
	Reason      string       `json:"reason,omitempty"`
	Reservation *Reservation `json:"reservation,omitempty"`
	// Webhook is set on the events about webhooks (webhook.disabled,
	// delivery.exhausted, webhook.ping) instead of Reservation.
	Webhook *WebhookNote `json:"webhook,omitempty"`
}

// AppendJSONWithSubject appends e's JSON with subject, the encoded
// reservation or webhook note (as the event log stores it), in the place
// of e.Reservation and e.Webhook: for a subject that MarshalJSON (or
// encoding/json) made, the same bytes as json.Marshal of the decoded
// event, without decoding and encoding the subject again.
func (e *Event) AppendJSONWithSubject(b []byte, subject []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"event_id":`...)
	b = AppendJSONString(b, e.ID)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, e.Type)
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","origin":`...)
	b = AppendJSONString(b, e.Origin)
	b = append(b, `,"actor":`...)
	b = AppendJSONString(b, e.Actor)
	if e.ReservationID != "" {
		b = append(b, `,"reservation_id":`...)
		b = AppendJSONString(b, e.ReservationID)
	}
	if e.QueueID != "" {
		b = append(b, `,"queue_id":`...)
		b = AppendJSONString(b, e.QueueID)
	}
	if e.Kind != "" {
		b = append(b, `,"kind":`...)
		b = AppendJSONString(b, e.Kind)
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = AppendJSONString(b, e.Reason)
	}
	if len(subject) > 0 {
		if IsReservationEvent(e.Type) {
			b = append(b, `,"reservation":`...)
		} else {
			b = append(b, `,"webhook":`...)
		}
		b = append(b, subject...)
	}
	return append(b, '}')
}

// WebhookNote is the subject of an event about a webhook endpoint.
type WebhookNote struct {
	EndpointID string `json:"endpoint_id"`
	DeliveryID string `json:"delivery_id,omitempty"`
	EventSeq   int64  `json:"event_seq,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Event types about webhooks.
const (
	EventWebhookDisabled   = "webhook.disabled"
	EventDeliveryExhausted = "delivery.exhausted"
	EventWebhookPing       = "webhook.ping"
)

// IsReservationEvent reports whether events of type t carry a reservation.
func IsReservationEvent(t string) bool { return len(t) > 12 && t[:12] == "reservation." }
