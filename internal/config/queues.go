package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

const maxCallerIDName = 100

// Queue is one callback queue.
type Queue struct {
	ID             string
	GenesysQueueID string
	// Name defaults to ID.
	Name     string
	TimeZone string
	// SMSFrom is the E.164 number the missed-callback SMS is sent from, or "".
	SMSFrom string
	// CallerID is the E.164 number shown to the customer, or "".
	CallerID string
	// CallerIDName is the name shown with CallerID, or "".
	CallerIDName string
	// ScriptID is the Genesys script shown to the agent, or "".
	ScriptID string
	// NotReachedWrapups are the Genesys wrap-up codes (ids, or names) that
	// make a callback whose call was answered not reached (missed): a
	// voicemail, the wrong person.
	NotReachedWrapups []string
	// ScheduleGroupID, when set, names the Genesys schedule group the
	// opening hours come from. Schedule then has no hours or closed days
	// of its own (it is open 24/7) until the group is imported.
	ScheduleGroupID string
	// Locale is the language (BCP 47) of the messages sent to the queue's
	// customers who chose none; default "en".
	Locale string
	// CancelIfReachedWithin is how long before a slot a call of the same
	// customer answered by an agent of the queue cancels the reservation
	// (reason customer_reached); 0 turns it off. Default
	// DefaultCancelIfReachedWithin.
	CancelIfReachedWithin time.Duration
	// Calendar is the queue's calendar, built and validated.
	Calendar *schedule.Calendar
	// SelfService is what customers may change through their links
	// (default: 3 reschedules, until 15 minutes before the slot).
	SelfService reservation.SelfPolicy
	// NumberRules are the callback numbers the queue refuses (number_rules).
	NumberRules reservation.NumberRules
	// Admission is the queue's duplicate rule and throttles (duplicates,
	// duplicates_scope, throttle).
	Admission reservation.Admission
	// Notify is which SMS the queue's customers get (notify; default
	// notify.DefaultPolicy: the missed-callback fallback only).
	Notify notify.Policy
}

// DefaultCancelIfReachedWithin is a queue's cancel_if_reached_within
// unless configured.
const DefaultCancelIfReachedWithin = 4 * time.Hour

// DefaultQueue returns the built-in queue used when there is no config file:
// queue_12345 in America/New_York, open 24/7, 15-minute slots of capacity
// 10, no lead time and a 30-day horizon.
func DefaultQueue() Queue {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		// Cannot happen: package schedule embeds the time zone database.
		loc = time.UTC
	}
	q := Queue{
		ID:       "queue_12345",
		Name:     "Default",
		TimeZone: "America/New_York",
		Locale:   reservation.DefaultLocale,
		Calendar: defaultSchedule(loc),

		CancelIfReachedWithin: DefaultCancelIfReachedWithin,
		// The default policy.
		SelfService: DefaultSelfPolicy,
		Notify:      notify.DefaultPolicy,
	}
	defaultAdmission(&q)
	return q
}

// queues reads the required, non-empty queues list; ids must not repeat.
func (p *parser) queues(n *yaml.Node, path string) ([]Queue, error) {
	if n == nil {
		return nil, p.errorf(nil, path, "at least one queue is required")
	}
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		return nil, p.errorf(n, path, "at least one queue is required")
	}
	return withUniqueIDs(p, n, path, p.queue, func(q Queue) string { return q.ID })
}

// queueKeys lists the keys of a queue.
var queueKeys = []string{"id", "genesys_queue_id", "name", "timezone", "slot_minutes",
	"capacity", "capacity_overrides", "hours", "closed", "lead_time", "horizon",
	"sms_from", "caller_id", "caller_id_name", "script_id", "schedule_group_id", "not_reached_wrapups", "locale",
	"cancel_if_reached_within", "self_service", "number_rules", "duplicates", "duplicates_scope", "throttle", "notify"}

// queue reads one queue: its id, its Genesys and SMS settings, its time
// zone, then its calendar.
func (p *parser) queue(n *yaml.Node, path string) (Queue, error) {
	var q Queue
	f, err := p.fields(n, path, queueKeys...)
	if err != nil {
		return q, err
	}
	if q.ID, err = p.id(f["id"], n, path+".id"); err != nil {
		return q, err
	}
	q.Name = q.ID
	q.Locale = reservation.DefaultLocale
	q.CancelIfReachedWithin = DefaultCancelIfReachedWithin
	q.SelfService = DefaultSelfPolicy
	defaultAdmission(&q)
	q.Notify = notify.DefaultPolicy
	err = p.decode(f, path, append([]decoder{
		{"genesys_queue_id", into(&q.GenesysQueueID, p.str)},
		{"name", into(&q.Name, p.str)},
		{"sms_from", into(&q.SMSFrom, p.phone)},
		{"caller_id", into(&q.CallerID, p.phone)},
		{"caller_id_name", into(&q.CallerIDName, p.textUpTo(maxCallerIDName))},
		{"script_id", into(&q.ScriptID, p.str)},
		{"schedule_group_id", into(&q.ScheduleGroupID, p.str)},
		{"not_reached_wrapups", into(&q.NotReachedWrapups, p.wrapupCodes)},
		{"locale", into(&q.Locale, p.locale)},
		{"cancel_if_reached_within", into(&q.CancelIfReachedWithin, p.duration)},
		{"self_service", onto(&q.SelfService, p.selfPolicy)},
		{"notify", onto(&q.Notify, p.notifyPolicy)},
	}, p.admissionDecoders(&q)...))
	if err != nil {
		return q, err
	}
	if err := p.scheduleGroupAlone(f, path); err != nil {
		return q, err
	}
	var loc *time.Location
	if q.TimeZone, loc, err = p.timeZone(f["timezone"], n, path+".timezone"); err != nil {
		return q, err
	}
	if q.Calendar, err = p.calendar(f, n, path, loc); err != nil {
		return q, err
	}
	return q, nil
}

// locale reads a BCP 47 language tag, in canonical form.
func (p *parser) locale(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	canon, err := reservation.ParseLocale(s)
	if err != nil {
		return "", p.errorf(n, path, "%s", err.Error())
	}
	return canon, nil
}

// wrapupCodes reads a list of wrap-up codes: non-empty, at most 200
// characters, none twice.
func (p *parser) wrapupCodes(n *yaml.Node, path string) ([]string, error) {
	var seen []string
	return listOf(p, n, path, func(v *yaml.Node, field string) (string, error) {
		c, err := p.str(v, field)
		if err != nil {
			return "", err
		}
		c = strings.TrimSpace(c)
		switch {
		case c == "":
			return "", p.errorf(v, field, "must not be empty (a wrap-up code id or name)")
		case len(c) > 200:
			return "", p.errorf(v, field, "is longer than 200 characters")
		case slices.ContainsFunc(seen, func(s string) bool { return strings.EqualFold(s, c) }):
			return "", p.errorf(v, field, "%q is listed twice", c)
		}
		seen = append(seen, c)
		return c, nil
	})
}

// scheduleGroupAlone checks that a queue whose hours come from a schedule
// group has no hours or closed days of its own.
func (p *parser) scheduleGroupAlone(f map[string]*yaml.Node, path string) error {
	v := f["schedule_group_id"]
	if v == nil {
		return nil
	}
	var also []string
	for _, k := range []string{"hours", "closed"} {
		if w := f[k]; w != nil {
			also = append(also, fmt.Sprintf("%s (line %d)", k, w.Line))
		}
	}
	if len(also) > 0 {
		return p.errorf(v, path+".schedule_group_id", "cannot be given with %s: the opening hours come from the schedule group", strings.Join(also, " or "))
	}
	return nil
}

// timeZone reads a queue's required IANA time zone.
func (p *parser) timeZone(v, parent *yaml.Node, path string) (string, *time.Location, error) {
	if v == nil {
		return "", nil, p.errorf(parent, path, "is required (an IANA zone like America/New_York)")
	}
	name, err := p.str(v, path)
	if err != nil {
		return "", nil, err
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return "", nil, p.errorf(v, path, "%q is not a known IANA time zone", name)
	}
	return name, loc, nil
}
