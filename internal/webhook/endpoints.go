package webhook

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// EventTypes lists the event types an endpoint may ask for.
var EventTypes = []string{
	reservation.EventCreated, reservation.EventRescheduled, reservation.EventUpdated, reservation.EventCanceled,
	reservation.EventSynced, reservation.EventSyncFailed, reservation.EventInProgress, reservation.EventCompleted,
	reservation.EventMissed, reservation.EventFailed, reservation.EventSMSSent, reservation.EventSMSRefused, reservation.EventSMSFailed,
	reservation.EventNotified, reservation.EventNotifySkipped,
	reservation.EventWebhookDisabled, reservation.EventDeliveryExhausted,
}

// URLChecker validates an endpoint URL ("" when fine).
type URLChecker func(raw string) string

// EndpointStore is what the endpoints API writes.
type EndpointStore interface {
	CreateEndpoint(ctx context.Context, e *storage.Endpoint, w reservation.Write) error
	UpdateEndpoint(ctx context.Context, id, action string, fn func(e *storage.Endpoint) error, w reservation.Write) (*storage.Endpoint, error)
	DeleteEndpoint(ctx context.Context, id string, w reservation.Write) error
}

// Endpoints is the endpoints API.
type Endpoints struct {
	store    EndpointStore
	checkURL URLChecker
	queues   map[string]bool
	// Grace is how long a rotated-out secret keeps signing (default 24 h).
	Grace time.Duration
}

// NewEndpoints returns the endpoints API over the store; checkURL refuses
// URLs the SSRF guard would refuse; queues are the configured queue ids.
func NewEndpoints(store EndpointStore, checkURL URLChecker, queues []string) *Endpoints {
	e := &Endpoints{store: store, checkURL: checkURL, queues: map[string]bool{}, Grace: 24 * time.Hour}
	for _, q := range queues {
		e.queues[q] = true
	}
	return e
}

// EndpointRequest is a create (all fields but Name and URL optional) or
// a PATCH (nil fields unchanged) of an endpoint.
type EndpointRequest struct {
	Name           *string   `json:"name"`
	URL            *string   `json:"url"`
	ContentType    *string   `json:"content_type"`
	Enabled        *bool     `json:"enabled"`
	Events         *[]string `json:"events"`
	Queues         *[]string `json:"queues"`
	IncludeNumbers *bool     `json:"include_numbers"`
}

// DecodeEndpointRequest decodes a body strictly, as the reservation
// requests are (reservation.Fields): unknown fields and wrong types are
// EINVALID errors naming the field; a null member is absent.
func DecodeEndpointRequest(body []byte) (*EndpointRequest, error) {
	var fe reservation.Fields
	m := fe.Object("", body, "name", "url", "content_type", "enabled", "events", "queues", "include_numbers")
	if m == nil {
		return nil, fe.Err()
	}
	var r EndpointRequest
	str := func(key string) *string {
		if v, ok := fe.Str(m, "", key); ok {
			return &v
		}
		return nil
	}
	boolean := func(key string) *bool {
		if _, ok := m[key]; !ok {
			return nil
		}
		v := fe.Bool(m, "", key)
		return &v
	}
	strs := func(key, what string) *[]string {
		if v, ok := fe.Strs(m, "", key, what); ok {
			return &v
		}
		return nil
	}
	r.Name, r.URL, r.ContentType = str("name"), str("url"), str("content_type")
	r.Enabled, r.IncludeNumbers = boolean("enabled"), boolean("include_numbers")
	r.Events, r.Queues = strs("events", "an array of event types"), strs("queues", "an array of queue ids")
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return &r, nil
}

// apply checks the request's fields and sets them on e.
func (s *Endpoints) apply(e *storage.Endpoint, r *EndpointRequest) error {
	fields := map[string]string{}
	if r.Name != nil {
		if n := utf8.RuneCountInString(*r.Name); n == 0 || n > 100 {
			fields["name"] = "must be 1 to 100 characters"
		}
		e.Name = *r.Name
	}
	if r.URL != nil {
		if msg := s.checkURL(*r.URL); msg != "" {
			fields["url"] = msg
		}
		e.URL = *r.URL
	}
	if r.ContentType != nil {
		if *r.ContentType != ContentJSON && *r.ContentType != ContentCalendar {
			fields["content_type"] = fmt.Sprintf("%q is not supported; use %s or %s", *r.ContentType, ContentJSON, ContentCalendar)
		}
		e.ContentType = *r.ContentType
	}
	if r.Enabled != nil {
		e.Enabled = *r.Enabled
		if e.Enabled {
			e.DisabledReason, e.FailingSince = "", time.Time{}
		}
	}
	if r.Events != nil {
		for _, t := range *r.Events {
			ok := false
			for _, k := range EventTypes {
				ok = ok || k == t
			}
			if !ok {
				fields["events"] = fmt.Sprintf("%q is not an event type", t)
			}
		}
		e.EventTypes = *r.Events
	}
	if r.Queues != nil {
		for _, q := range *r.Queues {
			if !s.queues[q] {
				fields["queues"] = fmt.Sprintf("%q names no configured queue", q)
			}
		}
		e.QueueIDs = *r.Queues
	}
	if r.IncludeNumbers != nil {
		e.IncludeNumbers = *r.IncludeNumbers
	}
	if len(fields) > 0 {
		first := ""
		for k := range fields {
			if first == "" || k < first {
				first = k
			}
		}
		return &reservation.Error{Code: reservation.EINVALID, Message: first + ": " + fields[first], Fields: fields}
	}
	return nil
}

// Create registers an endpoint of w's actor (an API client); its secret is
// in the result (and shown only here and on rotation). Errors: EINVALID.
func (s *Endpoints) Create(ctx context.Context, w reservation.Write, r *EndpointRequest) (*storage.Endpoint, error) {
	e := &storage.Endpoint{ID: "we_" + NewDeliveryID()[4:], ClientID: w.Actor, ContentType: ContentJSON, Enabled: true, Secret: NewSecret()}
	fields := map[string]string{}
	if r.Name == nil {
		fields["name"] = "is required"
	}
	if r.URL == nil {
		fields["url"] = "is required"
	}
	if len(fields) > 0 {
		return nil, &reservation.Error{Code: reservation.EINVALID, Message: "name and url are required", Fields: fields}
	}
	if err := s.apply(e, r); err != nil {
		return nil, err
	}
	if err := s.store.CreateEndpoint(ctx, e, w); err != nil {
		return nil, err
	}
	return e, nil
}

// Update changes an endpoint (of w.Owner's, when set). Errors: ENOTFOUND,
// EINVALID.
func (s *Endpoints) Update(ctx context.Context, w reservation.Write, id string, r *EndpointRequest) (*storage.Endpoint, error) {
	return s.store.UpdateEndpoint(ctx, id, "webhook.update", func(e *storage.Endpoint) error { return s.apply(e, r) }, w)
}

// Rotate gives an endpoint a new secret; the old one keeps signing (both
// signatures are sent) for the grace period. Errors: ENOTFOUND.
func (s *Endpoints) Rotate(ctx context.Context, w reservation.Write, id string) (*storage.Endpoint, error) {
	return s.store.UpdateEndpoint(ctx, id, "webhook.rotate_secret", func(e *storage.Endpoint) error {
		e.PreviousSecret, e.PreviousUntil = e.Secret, time.Now().Add(s.Grace)
		e.Secret = NewSecret()
		return nil
	}, w)
}

// Delete removes an endpoint. Errors: ENOTFOUND.
func (s *Endpoints) Delete(ctx context.Context, w reservation.Write, id string) error {
	return s.store.DeleteEndpoint(ctx, id, w)
}
