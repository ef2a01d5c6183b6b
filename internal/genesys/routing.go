package genesys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Queue is the part of Genesys' Queue that Slotline reads.
type Queue struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// CallingPartyName and CallingPartyNumber are the queue's default
	// outbound caller id.
	CallingPartyName   string `json:"callingPartyName,omitempty"`
	CallingPartyNumber string `json:"callingPartyNumber,omitempty"`
	// OutboundMessagingAddresses holds the queue's SMS number reference.
	OutboundMessagingAddresses *OutboundMessagingAddresses `json:"outboundMessagingAddresses,omitempty"`
}

// OutboundMessagingAddresses is a queue's outbound messaging addresses.
type OutboundMessagingAddresses struct {
	// SMSAddress refers to an SMS phone number of the org.
	SMSAddress *Ref `json:"smsAddress,omitempty"`
}

// GetQueue reads a queue: GET /api/v2/routing/queues/{id} (permission
// routing:queue:view). Returns an *APIError that IsNotFound when it does
// not exist.
func (c *Client) GetQueue(ctx context.Context, queueID string) (*Queue, error) {
	if queueID == "" {
		return nil, invalidf("get queue: queue id is required")
	}
	var q Queue
	if err := c.do(ctx, call{op: "get_queue", method: http.MethodGet, path: "/api/v2/routing/queues/" + url.PathEscape(queueID), out: &q}); err != nil {
		return nil, err
	}
	return &q, nil
}

// ScheduleGroup is Genesys' Architect schedule group. Its schedules are
// evaluated Holiday, then Closed, then Open, in TimeZone.
type ScheduleGroup struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state,omitempty"`
	// TimeZone is an IANA zone name, e.g. "America/New_York".
	TimeZone         string `json:"timeZone"`
	OpenSchedules    []Ref  `json:"openSchedules,omitempty"`
	ClosedSchedules  []Ref  `json:"closedSchedules,omitempty"`
	HolidaySchedules []Ref  `json:"holidaySchedules,omitempty"`
}

// GetScheduleGroup reads a schedule group: GET
// /api/v2/architect/schedulegroups/{id} (permission
// routing:scheduleGroup:view). Fetch each schedule with GetSchedule.
func (c *Client) GetScheduleGroup(ctx context.Context, id string) (*ScheduleGroup, error) {
	if id == "" {
		return nil, invalidf("get schedule group: id is required")
	}
	var g ScheduleGroup
	if err := c.do(ctx, call{op: "get_schedule_group", method: http.MethodGet, path: "/api/v2/architect/schedulegroups/" + url.PathEscape(id), out: &g}); err != nil {
		return nil, err
	}
	return &g, nil
}

// Schedule is Genesys' Architect schedule: a window [Start, End) in local
// time without an offset, repeated by RRule (RFC 5545), read in the time
// zone of the schedule group that uses it.
type Schedule struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state,omitempty"`
	// Start and End are local date-times such as
	// "2024-01-01T08:00:00.000"; see Window.
	Start string `json:"start"`
	End   string `json:"end"`
	// RRule is e.g. "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR"; empty
	// for a one-off window.
	RRule string `json:"rrule,omitempty"`
}

// scheduleLayout is the Go SDK's layout for Schedule.Start and End.
const scheduleLayout = "2006-01-02T15:04:05.999999"

// Window returns the schedule's first occurrence in loc (the schedule
// group's zone). A time carrying an offset, which Genesys is not known to
// send, is taken as that instant and converted to loc.
func (s *Schedule) Window(loc *time.Location) (start, end time.Time, err error) {
	if loc == nil {
		return time.Time{}, time.Time{}, errors.New("schedule window: nil location")
	}
	if start, err = parseLocal(s.Start, loc); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("schedule %s start: %w", s.ID, err)
	}
	if end, err = parseLocal(s.End, loc); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("schedule %s end: %w", s.ID, err)
	}
	if !end.After(start) {
		return time.Time{}, time.Time{}, fmt.Errorf("schedule %s: end %s is not after start %s", s.ID, s.End, s.Start)
	}
	return start, end, nil
}

func parseLocal(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(scheduleLayout, v, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("unrecognised time %q", v)
	}
	return t.In(loc), nil
}

// GetSchedule reads a schedule: GET /api/v2/architect/schedules/{id}
// (permission routing:schedule:view).
func (c *Client) GetSchedule(ctx context.Context, id string) (*Schedule, error) {
	if id == "" {
		return nil, invalidf("get schedule: id is required")
	}
	var s Schedule
	if err := c.do(ctx, call{op: "get_schedule", method: http.MethodGet, path: "/api/v2/architect/schedules/" + url.PathEscape(id), out: &s}); err != nil {
		return nil, err
	}
	return &s, nil
}
