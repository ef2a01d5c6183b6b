package syncer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/backoff"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// leaseTTL is how long a sync lease lives without renewal.
const leaseTTL = 30 * time.Second

// syncArgs is the job that makes Genesys match one reservation.
type syncArgs struct {
	ReservationID string `json:"reservation_id"`
}

func (syncArgs) Kind() string { return "genesys_sync" }

// sysWrite is the Write of changes the sync makes.
func sysWrite() reservation.Write {
	return reservation.Write{Actor: "sync", Origin: reservation.OriginGenesys}
}

// workSync runs a sync job: it takes the reservation's lease (one worker
// at a time per reservation; a reservation another worker holds is
// snoozed) and converges Genesys to it. Changes made while it works enqueue
// new jobs, which run after the lease is released.
func (r *Runner) workSync(ctx context.Context, job *jobs.Job[syncArgs]) error {
	id := job.Args.ReservationID
	r.syncing.Add(1)
	defer r.syncing.Add(-1)
	holder := r.id + "-" + strconv.FormatInt(job.ID, 10)
	// The lease is renewed while the job works, so that a worker killed
	// mid-job loses it within leaseTTL and another can carry on.
	lease, err := r.cfg.Store.HoldLease(ctx, storage.LeaseSync(id), holder, leaseTTL)
	if err != nil {
		return err
	}
	if lease == nil {
		return jobs.Snooze(time.Second + backoff.Full(1, 500*time.Millisecond, time.Second))
	}
	defer func() {
		if err := lease.Release(ctx); err != nil {
			r.logger.WarnContext(ctx, "sync lease", "reservation_id", id, "err", err)
		}
	}()
	// Steps until in sync; a transient failure (429, 5xx, an unknown
	// outcome) is retried here a few times with backoff: failing the job
	// would send it to the back of River's queue, behind a whole burst.
	transient := 0
	for steps := 0; steps < 8; steps++ {
		res, err := r.cfg.Store.FindReservationByID(ctx, id)
		if reservation.ErrorCode(err) == reservation.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		done, err := r.step(ctx, res)
		if done {
			return err
		}
		if err != nil {
			if transient++; transient > 3 || genesys.IsPermanent(err) {
				return err
			}
			var unknown *genesys.UnknownOutcomeError
			if errors.As(err, &unknown) {
				// The next step searches for the callback first, and that
				// search runs 1–2 s (half to all of the lookup window)
				// from now: no need to wait here as well.
				continue
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(backoff.Full(transient, r.cfg.RetryBase, 10*time.Second)):
			}
		}
	}
	return nil
}

// step does the one call that brings Genesys closer to res. It reports
// done when nothing is left to do.
func (r *Runner) step(ctx context.Context, res *reservation.Reservation) (bool, error) {
	switch {
	case res.Status == reservation.StatusScheduled && res.Sync.ConversationID == "":
		return r.create(ctx, res)
	case res.Status == reservation.StatusScheduled && !res.Sync.ScheduledAt.Equal(res.Slot.Start):
		return r.reschedule(ctx, res)
	case res.Status == reservation.StatusCanceled && res.Sync.State == reservation.SyncPending:
		if res.Sync.ConversationID == "" {
			return r.forget(ctx, res)
		}
		return r.cancel(ctx, res)
	case res.Sync.State == reservation.SyncPending && res.Sync.ConversationID != "":
		_, err := r.cfg.Store.MarkSynced(ctx, res.ID, reservation.SyncResult{ScheduledAt: res.Sync.ScheduledAt}, sysWrite())
		return true, err
	}
	return true, nil
}

// forget settles a reservation canceled before its callback was known to
// exist. A create whose outcome is unknown (attempts sent, no answer) may
// have made one, which would still dial the customer: it is looked for
// first, and if found, recorded so that the next step cancels it.
func (r *Runner) forget(ctx context.Context, res *reservation.Reservation) (bool, error) {
	if q := r.queues[res.QueueID]; res.Sync.Attempts > 0 && q != nil && q.GenesysQueueID != "" {
		found, err := r.lookups.find(ctx, q, res)
		if err != nil {
			r.note(ctx, res.ID, "look for an earlier create: "+err.Error())
			return false, err
		}
		if found != nil {
			r.logger.InfoContext(ctx, "found the callback of a canceled reservation; disconnecting it", "reservation_id", res.ID,
				"conversation_id", found.ConversationID)
			_, err := r.cfg.Store.MarkSynced(ctx, res.ID, *found, sysWrite())
			return false, err
		}
	}
	// Canceled before it reached Genesys: nothing to undo.
	_, err := r.cfg.Store.MarkSynced(ctx, res.ID, reservation.SyncResult{Disconnected: true}, sysWrite())
	return true, err
}

// create creates the callback, after first looking for one an earlier
// attempt may have created (its response lost, or the process killed).
func (r *Runner) create(ctx context.Context, res *reservation.Reservation) (bool, error) {
	store := r.cfg.Store
	q := r.queues[res.QueueID]
	if q == nil || q.GenesysQueueID == "" {
		_, err := store.MarkSyncFailed(ctx, res.ID, fmt.Sprintf("queue %q has no Genesys queue id", res.QueueID), true, sysWrite())
		r.cfg.Observer.SyncOutcome("create", "failed")
		return true, err
	}
	if !res.Slot.End.After(r.now()) {
		_, err := store.MarkSyncFailed(ctx, res.ID, "the slot ended before the callback could be created in Genesys", true, sysWrite())
		r.cfg.Observer.SyncOutcome("create", "failed")
		return true, err
	}
	if res.Sync.Attempts > 0 {
		found, err := r.lookups.find(ctx, q, res)
		if err != nil {
			r.note(ctx, res.ID, "look for an earlier create: "+err.Error())
			return false, err
		}
		if found != nil {
			r.cfg.Observer.SyncOutcome("adopt", "ok")
			r.logger.InfoContext(ctx, "adopted a callback created by an earlier attempt", "reservation_id", res.ID, "conversation_id", found.ConversationID)
			_, err := store.MarkSynced(ctx, res.ID, *found, sysWrite())
			return false, err
		}
	}
	// Count the attempt before sending: if the process dies mid-call, the
	// next attempt knows to look first.
	if _, err := store.RecordSyncAttempt(ctx, res.ID, "create sent, outcome not yet known", true); err != nil {
		return false, err
	}
	req := genesys.CreateCallbackRequest{
		QueueID:               q.GenesysQueueID,
		CallbackNumbers:       []string{res.CallbackNumber},
		CallbackUserName:      res.CustomerName,
		CallbackScheduledTime: res.Slot.Start,
		ScriptID:              q.ScriptID,
		CallerID:              q.CallerID,
		CallerIDName:          q.CallerIDName,
		Data: map[string]string{
			DataKey:               res.ID,
			"slotline_queue_id":   res.QueueID,
			"slotline_reason":     res.Reason,
			"slotline_fallback":   res.Channel.Fallback,
			"slotline_allow_sms":  strconv.FormatBool(res.Channel.AllowSMS),
			"slotline_callbackid": res.CallbackID,
		},
	}
	resp, err := r.cfg.Genesys.CreateCallback(ctx, req)
	if err != nil {
		return r.failed(ctx, res, "create", err, true)
	}
	ids := make([]reservation.CallbackIdentifier, len(resp.CallbackIdentifiers))
	for i, c := range resp.CallbackIdentifiers {
		ids[i] = reservation.CallbackIdentifier{Type: c.Type, ID: c.ID}
	}
	if _, err := store.MarkSynced(ctx, res.ID, reservation.SyncResult{
		ConversationID: resp.ConversationID, CallbackIDs: ids, ScheduledAt: res.Slot.Start,
	}, sysWrite()); err != nil {
		return false, err
	}
	r.cfg.Observer.SyncOutcome("create", "ok")
	r.cfg.Observer.SyncLag(time.Since(res.UpdatedAt))
	return false, nil
}

func (r *Runner) reschedule(ctx context.Context, res *reservation.Reservation) (bool, error) {
	resp, err := r.cfg.Genesys.RescheduleCallback(ctx, genesys.PatchCallbackRequest{
		ConversationID: res.Sync.ConversationID, CallbackScheduledTime: res.Slot.Start,
	})
	if err != nil {
		return r.failed(ctx, res, "reschedule", err, false)
	}
	result := reservation.SyncResult{ScheduledAt: res.Slot.Start}
	if resp != nil {
		for _, c := range resp.CallbackIdentifiers {
			result.CallbackIDs = append(result.CallbackIDs, reservation.CallbackIdentifier{Type: c.Type, ID: c.ID})
		}
	}
	if _, err := r.cfg.Store.MarkSynced(ctx, res.ID, result, sysWrite()); err != nil {
		return false, err
	}
	r.cfg.Observer.SyncOutcome("reschedule", "ok")
	return false, nil
}

func (r *Runner) cancel(ctx context.Context, res *reservation.Reservation) (bool, error) {
	ids := make([]genesys.CallbackIdentifier, len(res.Sync.CallbackIDs))
	for i, c := range res.Sync.CallbackIDs {
		ids[i] = genesys.CallbackIdentifier{Type: c.Type, ID: c.ID}
	}
	if err := r.cfg.Genesys.CancelCallback(ctx, res.Sync.ConversationID, ids); err != nil {
		return r.failed(ctx, res, "cancel", err, false)
	}
	if _, err := r.cfg.Store.MarkSynced(ctx, res.ID, reservation.SyncResult{Disconnected: true}, sysWrite()); err != nil {
		return false, err
	}
	r.cfg.Observer.SyncOutcome("cancel", "ok")
	return true, nil
}

// failed handles a failed call: a permanent refusal is recorded (a refused
// create fails the reservation); anything else is kept on the reservation
// and returned so that River retries the job.
func (r *Runner) failed(ctx context.Context, res *reservation.Reservation, op string, err error, failReservation bool) (bool, error) {
	var unknown *genesys.UnknownOutcomeError
	switch {
	case errors.As(err, &unknown):
		r.cfg.Observer.SyncOutcome(op, "unknown")
		r.note(ctx, res.ID, op+" outcome unknown: "+err.Error())
		return false, err
	case genesys.IsPermanent(err):
		r.cfg.Observer.SyncOutcome(op, "failed")
		r.logger.WarnContext(ctx, "genesys refused a change", "op", op, "reservation_id", res.ID, "err", err)
		_, merr := r.cfg.Store.MarkSyncFailed(ctx, res.ID, "genesys refused the "+op+": "+err.Error(), failReservation, sysWrite())
		return true, merr
	}
	r.cfg.Observer.SyncOutcome(op, "retry")
	r.note(ctx, res.ID, op+": "+err.Error())
	return false, err
}

// note keeps the last error on the reservation without counting an attempt.
func (r *Runner) note(ctx context.Context, id, msg string) {
	if _, err := r.cfg.Store.RecordSyncAttempt(context.WithoutCancel(ctx), id, msg, false); err != nil {
		r.logger.WarnContext(ctx, "record sync error", "reservation_id", id, "err", err)
	}
}

// smsArgs is the job that sends the missed-callback SMS.
type smsArgs struct {
	ReservationID string `json:"reservation_id"`
}

func (smsArgs) Kind() string { return "genesys_sms" }

// wantsSMS reports whether a missed reservation asked for the SMS fallback.
func wantsSMS(res *reservation.Reservation) bool {
	return res.Status == reservation.StatusMissed && res.Channel.Fallback == "sms" && res.Channel.AllowSMS && res.CallbackNumber != ""
}

// workSMS sends one SMS per missed reservation that asked for it.
func (r *Runner) workSMS(ctx context.Context, job *jobs.Job[smsArgs]) error {
	res, err := r.cfg.Store.FindReservationByID(ctx, job.Args.ReservationID)
	if reservation.ErrorCode(err) == reservation.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if !wantsSMS(res) {
		return nil
	}
	if sent, err := r.cfg.Store.SMSSent(ctx, res.ID); err != nil || sent {
		return err
	}
	q := r.queues[res.QueueID]
	if q == nil || q.SMSFrom == "" {
		r.logger.WarnContext(ctx, "missed callback wants an SMS but the queue has no SMS number", "reservation_id", res.ID, "queue_id", res.QueueID)
		r.cfg.Observer.SyncOutcome("sms", "failed")
		return nil
	}
	text := strings.NewReplacer("{queue}", q.Name, "{reason}", res.Reason).Replace(r.cfg.SMSText)
	if _, err := r.cfg.Genesys.SendSMS(ctx, genesys.AgentlessMessage{FromAddress: q.SMSFrom, ToAddress: res.CallbackNumber, TextBody: text}); err != nil {
		if genesys.IsPermanent(err) {
			r.logger.WarnContext(ctx, "genesys refused the missed-callback SMS", "reservation_id", res.ID, "err", err)
			r.cfg.Observer.SyncOutcome("sms", "failed")
			return nil
		}
		r.cfg.Observer.SyncOutcome("sms", "retry")
		return err
	}
	r.cfg.Observer.SyncOutcome("sms", "ok")
	_, err = r.cfg.Store.RecordSMS(ctx, res.ID, sysWrite())
	return err
}
