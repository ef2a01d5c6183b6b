package syncer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/backoff"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// Messages to the customer. The event hook plans them in the transaction
// of the change that causes them (a notify_sms job each): a confirmation
// on a create, a reminder for each slot a scheduled reservation gets
// (created, rescheduled, put back to scheduled), a cancel message on a
// cancel, the missed-callback fallback on a miss. The job judges again
// when it runs (the reservation may have changed: a reminder for a slot
// the reservation no longer has, or of a reservation no longer scheduled,
// does nothing), claims the message in the notifications table, sends it
// with an idempotency key derived from the message's key, and records the
// outcome with its event. A send cut short by a crash leaves its record in
// state sending; Resume starts a job for it, which sends it again with the
// same key.

// Reasons of reservation.notify_skipped.
const (
	SkipQuietHours  = "quiet_hours"                 // a reminder whose quiet hours end after the slot starts
	SkipOptedOut    = "opted_out"                   // the number opted out of SMS before the send
	SkipTooLate     = "slot_started"                // a reminder that could not go before the slot started
	SkipBookedLate  = "booked_within_remind_before" // booked after the reminder was due
	notifyLeaseTTL  = 10 * time.Second
	notifyResumeMax = 1000
)

// notifyArgs is the job that sends one message: reservation, kind of
// message (Message), the
// slot key of a reminder (its slot's start) and when it is due on the
// Genesys-side clock (Unix ms; 0: now). Skip, when set, records the
// message as skipped for that reason.
type notifyArgs struct {
	ReservationID string `json:"reservation_id"`
	Message       string `json:"kind"`
	SlotKey       string `json:"slot_key,omitempty"`
	Due           int64  `json:"due,omitempty"`
	Skip          string `json:"skip,omitempty"`
	// Resume marks a job started by Resume for a send cut short; it only
	// tells the job apart from the one that began it.
	Resume bool `json:"resume,omitempty"`
}

func (notifyArgs) Kind() string { return "notify_sms" }

// policy returns the notify policy of a reservation's queue (the default
// for a queue no longer configured).
func (r *Runner) policy(res *reservation.Reservation) notify.Policy {
	if q := r.queues[res.QueueID]; q != nil && q.Notify != nil {
		return *q.Notify
	}
	return notify.DefaultPolicy
}

// mayText reports whether a reservation may get SMS at all: a number,
// the customer's consent (channel_preferences.allow_sms), no opt-out; the
// missed fallback also needs the reservation to have asked for it.
func mayText(res *reservation.Reservation, kind string) bool {
	if res.CallbackNumber == "" || !res.Channel.AllowSMS || res.SMSOptOut {
		return false
	}
	return kind != notify.KindMissed || res.Channel.Fallback == "sms"
}

// customerZone is the zone a message's times are in: the customer's when
// the number tells it, else the queue's.
func customerZone(res *reservation.Reservation) *time.Location {
	if loc := reservation.CustomerZone(res.CallbackNumber); loc != nil {
		return loc
	}
	if loc, err := time.LoadLocation(res.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// planNotify returns the jobs the event ev calls for.
func (r *Runner) planNotify(ev reservation.Event) []notifyArgs {
	res := ev.Reservation
	p := r.policy(res)
	var out []notifyArgs
	add := func(kind string) {
		if p.Wants(kind) && mayText(res, kind) {
			out = append(out, notifyArgs{ReservationID: res.ID, Message: kind})
		}
	}
	switch ev.Type {
	case reservation.EventCreated:
		if res.Status == reservation.StatusScheduled {
			add(notify.KindConfirm)
		}
	case reservation.EventCanceled:
		if res.CancelReason != reservation.CancelReasonCustomerReached {
			add(notify.KindCancel)
		}
	case reservation.EventMissed:
		add(notify.KindMissed)
	case reservation.EventRescheduled:
		if ev.Origin == reservation.OriginOperator && res.Status == reservation.StatusScheduled && p.Wants(notify.KindMoved) &&
			mayText(res, notify.KindMoved) {
			// One per slot it is moved to: a second move is told again.
			out = append(out, notifyArgs{ReservationID: res.ID, Message: notify.KindMoved, SlotKey: notify.SlotKey(res.Slot.Start)})
		}
	}
	switch ev.Type {
	case reservation.EventCreated, reservation.EventRescheduled, reservation.EventUpdated:
		if res.Status == reservation.StatusScheduled && p.RemindBefore > 0 && mayText(res, notify.KindRemind) {
			if a, ok := r.planReminder(res, p, ev.Type == reservation.EventUpdated); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// planReminder plans the reminder of res's slot: remind_before ahead,
// moved out of quiet hours to their end, or skipped when that end is not
// before the slot. A reservation booked or moved after its reminder was
// due gets none (recorded; its confirmation, if any, says the time); an
// update that leaves the slot where it was (repeat) plans nothing then:
// that slot's reminder was planned already.
func (r *Runner) planReminder(res *reservation.Reservation, p notify.Policy, repeat bool) (notifyArgs, bool) {
	a := notifyArgs{ReservationID: res.ID, Message: notify.KindRemind, SlotKey: notify.SlotKey(res.Slot.Start)}
	due := res.Slot.Start.Add(-p.RemindBefore)
	switch moved := p.Quiet.After(due, customerZone(res)); {
	case r.now().After(due) && repeat:
		return a, false
	case !moved.Before(res.Slot.Start):
		a.Skip = SkipQuietHours
	case r.now().After(due):
		a.Skip = SkipBookedLate
	default:
		a.Due = moved.UnixMilli()
	}
	return a, true
}

// notifyOpts schedules a job due at Due (on the Genesys-side clock).
func (r *Runner) notifyOpts(a notifyArgs) *jobs.InsertOpts {
	if a.Due == 0 {
		return nil
	}
	return &jobs.InsertOpts{ScheduledAt: time.Now().Add(max(r.cfg.Until(time.UnixMilli(a.Due)), 0))}
}

// workNotify sends one message, or records why not.
func (r *Runner) workNotify(ctx context.Context, job *jobs.Job[notifyArgs]) error {
	a := job.Args
	res, err := r.cfg.Store.FindReservationByID(ctx, a.ReservationID)
	if reservation.ErrorCode(err) == reservation.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if !r.stillWanted(res, a) {
		r.cfg.Observer.SyncOutcome("notify_"+a.Message, "obsolete")
		return nil
	}
	if a.Skip != "" {
		return r.finishNotify(ctx, res, a, storage.Outcome{State: notify.StateSkipped, Event: reservation.EventNotifySkipped, Reason: a.Skip})
	}
	if a.Message == notify.KindRemind {
		if wait, skip := r.reminderWait(res, a); skip != "" {
			return r.finishNotify(ctx, res, a, storage.Outcome{State: notify.StateSkipped, Event: reservation.EventNotifySkipped, Reason: skip})
		} else if wait > 0 {
			r.cfg.Observer.SyncOutcome("notify_"+a.Message, "waiting")
			return jobs.Snooze(wait)
		}
	}
	holder := r.id + "-" + strconv.FormatInt(job.ID, 10)
	lease, err := r.cfg.Store.HoldLease(ctx, "notify:"+res.ID+":"+a.Message+":"+a.SlotKey, holder, notifyLeaseTTL)
	if err != nil {
		return err
	}
	if lease == nil {
		// Another job sends it, or a process that died held it: look
		// again once its lease may have lapsed.
		return jobs.Snooze(time.Second + backoff.Full(1, 500*time.Millisecond, time.Second))
	}
	defer func() {
		if err := lease.Release(ctx); err != nil {
			r.logger.WarnContext(ctx, "notify lease", "reservation_id", res.ID, "err", err)
		}
	}()
	// Read again under the lease: an opt-out or a change may have come.
	if res, err = r.cfg.Store.FindReservationByID(ctx, a.ReservationID); err != nil {
		return err
	}
	if res.SMSOptOut {
		return r.finishNotify(ctx, res, a, storage.Outcome{State: notify.StateSkipped, Event: reservation.EventNotifySkipped, Reason: SkipOptedOut})
	}
	if !r.stillWanted(res, a) {
		r.cfg.Observer.SyncOutcome("notify_"+a.Message, "obsolete")
		return nil
	}
	rec, err := r.cfg.Store.ClaimNotification(ctx, res.ID, a.Message, a.SlotKey)
	if err != nil {
		return err
	}
	if rec.State != notify.StateSending {
		return nil // sent, refused, failed or skipped already
	}
	q := r.queues[res.QueueID]
	if q == nil || q.SMSFrom == "" {
		r.logger.WarnContext(ctx, "a message to the customer is due but the queue has no SMS number", "reservation_id", res.ID,
			"queue_id", res.QueueID, "kind", a.Message)
		r.cfg.Observer.SyncOutcome("sms", "failed")
		return r.finishNotify(ctx, res, a, storage.Outcome{State: notify.StateRefused, Event: reservation.EventSMSRefused,
			Reason: "permanent: the queue has no SMS number"})
	}
	manage := ""
	if r.cfg.ManageURL != nil {
		manage = r.cfg.ManageURL(*res)
	}
	locale := res.Locale
	if locale == "" {
		locale = q.Locale
	}
	text := r.templates.Render(a.Message, locale, notify.Values{Time: res.Slot.Start, Zone: customerZone(res), Queue: q.Name,
		Reason: res.Reason, ManageURL: manage})
	// Into the customer's active SMS conversation with the number, if they
	// replied to an earlier one: without it such a send fails.
	resp, err := r.cfg.Genesys.SendSMS(ctx, genesys.AgentlessMessage{FromAddress: q.SMSFrom, ToAddress: res.CallbackNumber, TextBody: text,
		UseExistingActiveConversation: true, IdempotencyKey: rec.IdempotencyKey})
	if err != nil {
		return r.smsFailed(ctx, res, a, job.Attempt, err)
	}
	r.cfg.Observer.SyncOutcome("sms", "ok")
	r.cfg.Observer.SyncOutcome("notify_"+a.Message, "sent")
	return r.finishNotify(ctx, res, a, storage.Outcome{State: notify.StateSent, Event: reservation.EventNotified, MessageID: resp.ID})
}

// stillWanted reports whether message a still fits res: the policy still
// sends its kind, the customer may get SMS, and the reservation is where
// the message belongs (a reminder: still scheduled, at the slot it was
// planned for).
func (r *Runner) stillWanted(res *reservation.Reservation, a notifyArgs) bool {
	if !r.policy(res).Wants(a.Message) || !mayText(res, a.Message) && !res.SMSOptOut {
		return false
	}
	switch a.Message {
	case notify.KindConfirm:
		return res.Status == reservation.StatusScheduled
	case notify.KindRemind:
		return res.Status == reservation.StatusScheduled && notify.SlotKey(res.Slot.Start) == a.SlotKey
	case notify.KindCancel:
		return res.Status == reservation.StatusCanceled
	case notify.KindMissed:
		return res.Status == reservation.StatusMissed
	case notify.KindMoved:
		return res.Status == reservation.StatusScheduled && notify.SlotKey(res.Slot.Start) == a.SlotKey
	}
	return false
}

// reminderWait says how long a reminder must still wait (on the real
// clock), or why it is skipped: it is due remind_before the slot, or at
// the end of quiet hours, and never at or after the slot's start.
func (r *Runner) reminderWait(res *reservation.Reservation, a notifyArgs) (time.Duration, string) {
	now := r.now()
	if !now.Before(res.Slot.Start) {
		return 0, SkipTooLate
	}
	p := r.policy(res)
	due := res.Slot.Start.Add(-p.RemindBefore)
	if now.After(due) {
		due = now
	}
	due = p.Quiet.After(due, customerZone(res))
	if !due.Before(res.Slot.Start) {
		return 0, SkipQuietHours
	}
	if now.Before(due) {
		return max(r.cfg.Until(due), 10*time.Millisecond), ""
	}
	return 0, ""
}

// finishNotify records a message's outcome with its event.
func (r *Runner) finishNotify(ctx context.Context, res *reservation.Reservation, a notifyArgs, o storage.Outcome) error {
	if o.State == notify.StateSkipped {
		r.cfg.Observer.SyncOutcome("notify_"+a.Message, "skipped")
	}
	_, err := r.cfg.Store.FinishNotification(context.WithoutCancel(ctx), res.ID, a.Message, a.SlotKey, o, sysWrite())
	if reservation.ErrorCode(err) == reservation.ENOTFOUND {
		return nil
	}
	return err
}

// smsFailed handles a failed SMS send: a permanent refusal (a number not
// provisioned, 10DLC, another 4xx) is recorded as reservation.sms_refused
// and not retried; a transient failure is retried by the job (with the
// same idempotency key), and recorded as reservation.sms_failed on its
// last attempt. The reason recorded and logged is the kind, status and
// Genesys code, not Genesys' message (which may quote the customer's
// number).
func (r *Runner) smsFailed(ctx context.Context, res *reservation.Reservation, a notifyArgs, attempt int, err error) error {
	ref := genesys.ClassifySMSError(err)
	kind := "transient"
	if ref.Permanent {
		kind = "permanent"
	}
	r.cfg.Observer.SMSRefused(kind, ref.Reason)
	reason := ref.Reason
	var e *genesys.APIError
	if errors.As(err, &e) {
		reason = fmt.Sprintf("%s (status %d %s)", ref.Reason, e.Status, e.Code)
	}
	o := storage.Outcome{State: notify.StateRefused, Event: reservation.EventSMSRefused, Reason: kind + ": " + reason}
	switch {
	case ref.Permanent:
		r.cfg.Observer.SyncOutcome("sms", "refused")
		r.logger.WarnContext(ctx, "genesys refused an SMS to the customer for good", "reservation_id", res.ID, "message", a.Message,
			"kind", kind, "reason", reason)
	case attempt >= r.cfg.SMSAttempts:
		o.State, o.Event = notify.StateFailed, reservation.EventSMSFailed
		r.cfg.Observer.SyncOutcome("sms", "failed")
		r.logger.WarnContext(ctx, "an SMS to the customer failed on every attempt", "reservation_id", res.ID, "message", a.Message,
			"kind", kind, "reason", reason, "attempts", attempt)
	default:
		r.cfg.Observer.SyncOutcome("sms", "retry")
		return fmt.Errorf("send the %s SMS (%s, %s): %w", a.Message, kind, reason, err)
	}
	return r.finishNotify(ctx, res, a, o)
}

// resumeNotify starts a job for every message left in state sending (its
// send may have reached Genesys before the process died): it is sent again
// with the same idempotency key once the dead sender's lease has lapsed.
func (r *Runner) resumeNotify(ctx context.Context) error {
	recs, err := r.cfg.Store.FindSendingNotifications(ctx, notifyResumeMax)
	if err != nil {
		return err
	}
	for _, n := range recs {
		if err := r.jobs.Insert(ctx, notifyArgs{ReservationID: n.ReservationID, Message: n.Kind, SlotKey: n.SlotKey, Resume: true}, nil); err != nil {
			return err
		}
	}
	if len(recs) > 0 {
		r.logger.InfoContext(ctx, "resuming messages to customers whose send was cut short", "count", len(recs))
	}
	return nil
}

// legacySMS is the job of the missed-callback SMS before notifications
// (genesys_sms); one left in the queue at an upgrade is sent as the
// missed message, unless its old event says it went out.
func (r *Runner) workSMS(ctx context.Context, job *jobs.Job[smsArgs]) error {
	if sent, err := r.cfg.Store.SMSSent(ctx, job.Args.ReservationID); err != nil || sent {
		return err
	}
	return r.workNotify(ctx, &jobs.Job[notifyArgs]{ID: job.ID, Attempt: job.Attempt,
		Args: notifyArgs{ReservationID: job.Args.ReservationID, Message: notify.KindMissed}})
}
