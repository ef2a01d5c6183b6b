package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/schedule"
)

// GroupImport is a Genesys schedule group with its schedules, as fetched;
// it is what is stored, so that opening hours can be computed again (for
// days to come) while Genesys is unreachable.
type GroupImport struct {
	Group     genesys.ScheduleGroup       `json:"group"`
	Schedules map[string]genesys.Schedule `json:"schedules"`
	FetchedAt time.Time                   `json:"fetched_at"`
}

// occurrences expands one schedule into its windows that overlap
// [from, to), in loc. Times are wall-clock times in loc: a window of
// 08:00-17:00 stays 08:00-17:00 across a daylight-saving change.
func occurrences(s genesys.Schedule, loc *time.Location, from, to time.Time) ([]schedule.Bucket, error) {
	if st := strings.ToLower(s.State); st == "inactive" || st == "deleted" {
		return nil, nil
	}
	start, end, err := s.Window(loc)
	if err != nil {
		return nil, err
	}
	dayDiff := int(civilDays(end) - civilDays(start))
	endOf := func(occ time.Time) time.Time {
		return time.Date(occ.Year(), occ.Month(), occ.Day()+dayDiff, end.Hour(), end.Minute(), end.Second(), 0, loc)
	}
	if strings.TrimSpace(s.RRule) == "" {
		if start.Before(to) && end.After(from) {
			return []schedule.Bucket{{Start: start.UTC(), End: end.UTC()}}, nil
		}
		return nil, nil
	}
	opt, err := rrule.StrToROption(s.RRule)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: rrule %q: %w", s.ID, s.RRule, err)
	}
	opt.Dtstart = start
	rule, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: rrule %q: %w", s.ID, s.RRule, err)
	}
	span := end.Sub(start) + 2*time.Hour // look back far enough for windows running into from
	var out []schedule.Bucket
	for _, occ := range rule.Between(from.Add(-span).In(loc), to.In(loc), true) {
		occ = occ.In(loc)
		e := endOf(occ)
		if e.After(from) && occ.Before(to) {
			out = append(out, schedule.Bucket{Start: occ.UTC(), End: e.UTC()})
		}
	}
	return out, nil
}

func civilDays(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Unix() / 86400
}

// ExpandGroup computes the opening hours a schedule group gives over
// [from, to): what its open schedules cover, less its closed and holiday
// schedules (Genesys evaluates Holiday, then Closed, then Open); holiday
// windows are kept apart so that a slot on one is refused as a holiday.
func ExpandGroup(imp *GroupImport, from, to time.Time) (*schedule.Spans, error) {
	loc, err := time.LoadLocation(imp.Group.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("schedule group %s: time zone %q: %w", imp.Group.ID, imp.Group.TimeZone, err)
	}
	expand := func(refs []genesys.Ref) ([]schedule.Bucket, error) {
		var all []schedule.Bucket
		for _, ref := range refs {
			s, ok := imp.Schedules[ref.ID]
			if !ok {
				return nil, fmt.Errorf("schedule group %s: schedule %s was not fetched", imp.Group.ID, ref.ID)
			}
			occ, err := occurrences(s, loc, from, to)
			if err != nil {
				return nil, err
			}
			all = append(all, occ...)
		}
		return schedule.MergeSpans(all), nil
	}
	open, err := expand(imp.Group.OpenSchedules)
	if err != nil {
		return nil, err
	}
	closed, err := expand(imp.Group.ClosedSchedules)
	if err != nil {
		return nil, err
	}
	holiday, err := expand(imp.Group.HolidaySchedules)
	if err != nil {
		return nil, err
	}
	open = schedule.SubtractSpans(schedule.SubtractSpans(open, holiday), closed)
	return &schedule.Spans{Open: open, Holiday: holiday, Until: to}, nil
}

// fetchGroup reads a schedule group and its schedules from Genesys.
func fetchGroup(ctx context.Context, g HoursSource, id string) (*GroupImport, error) {
	group, err := g.GetScheduleGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	imp := &GroupImport{Group: *group, Schedules: map[string]genesys.Schedule{}, FetchedAt: time.Now().UTC()}
	for _, refs := range [][]genesys.Ref{group.OpenSchedules, group.ClosedSchedules, group.HolidaySchedules} {
		for _, ref := range refs {
			if _, ok := imp.Schedules[ref.ID]; ok {
				continue
			}
			s, err := g.GetSchedule(ctx, ref.ID)
			if err != nil {
				return nil, err
			}
			imp.Schedules[ref.ID] = *s
		}
	}
	return imp, nil
}

// HoursSource is what the import needs from the Genesys client.
type HoursSource interface {
	GetScheduleGroup(ctx context.Context, id string) (*genesys.ScheduleGroup, error)
	GetSchedule(ctx context.Context, id string) (*genesys.Schedule, error)
}

// HoursImporter keeps the opening hours of queues that name a Genesys
// schedule group: it imports the group, stores it, computes the queue's
// opening spans for its booking window, and does it again periodically.
// When Genesys is unreachable it computes from the stored copy.
type HoursImporter struct {
	r      *Runner
	source HoursSource
	every  time.Duration
}

// NewHoursImporter returns the importer of r's queues that have a
// schedule group, refreshing every period (default 15 min).
func (r *Runner) NewHoursImporter(source HoursSource, every time.Duration) *HoursImporter {
	if every <= 0 {
		every = 15 * time.Minute
	}
	return &HoursImporter{r: r, source: source, every: every}
}

// Refresh imports every queue's group once. A queue whose group cannot be
// fetched keeps (or gets, from storage) its last import; the error of the
// first such queue is returned after all were tried.
func (h *HoursImporter) Refresh(ctx context.Context) error {
	var first error
	for _, q := range h.r.cfg.Queues {
		if q.ScheduleGroupID == "" || q.Calendar.Imported == nil {
			continue
		}
		if err := h.refresh(ctx, q); err != nil {
			h.r.logger.WarnContext(ctx, "opening hours from Genesys", "queue_id", q.ID, "schedule_group_id", q.ScheduleGroupID, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func (h *HoursImporter) refresh(ctx context.Context, q *booking.Queue) error {
	store := h.r.cfg.Store
	imp, ferr := fetchGroup(ctx, h.source, q.ScheduleGroupID)
	if ferr == nil {
		b, err := json.Marshal(imp)
		if err != nil {
			return err
		}
		if err := store.SaveScheduleImport(ctx, q.ID, string(b), imp.FetchedAt); err != nil {
			return err
		}
	} else {
		data, _, err := store.LoadScheduleImport(ctx, q.ID)
		if err != nil {
			return err
		}
		if data == "" {
			return fmt.Errorf("no stored copy, and fetching it failed: %w", ferr)
		}
		imp = new(GroupImport)
		if err := json.Unmarshal([]byte(data), imp); err != nil {
			return fmt.Errorf("stored schedule group: %w", err)
		}
	}
	now := h.r.now()
	spans, err := ExpandGroup(imp, now.Add(-48*time.Hour), now.Add(q.Calendar.Horizon+q.Calendar.LeadTime+72*time.Hour))
	if err != nil {
		return err
	}
	q.Calendar.Imported.Set(spans)
	if ferr != nil {
		return fmt.Errorf("using the copy fetched %s: %w", imp.FetchedAt.Format(time.RFC3339), ferr)
	}
	return nil
}

// Run refreshes until ctx is done.
func (h *HoursImporter) Run(ctx context.Context) error {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = h.Refresh(ctx)
		}
	}
}
