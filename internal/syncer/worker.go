package syncer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/backoff"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// leaseTTL is how long a sync lease lives without renewal.
const leaseTTL = 30 * time.Second

// syncArgs is the job that makes Genesys match one reservation at one
// version. The kind is unique over unfinished jobs (jobs.Kind
// UniqueUnfinished): a reservation has at most one sync job waiting or
// running per version, however often its sync is asked for (its events,
// Resume at a restart, reconciliation); a change made while a job runs has
// a new version, so it gets a job of its own. Rescue, when set, is the id
// of a job left running by another job client (a process that died, as
// far as Resume can tell) that this one carries on without waiting for
// River's rescue.
type syncArgs struct {
	ReservationID string `json:"reservation_id"`
	Version       int    `json:"version,omitempty"`
	Rescue        int64  `json:"rescue,omitempty"`
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
//
// A reservation whose sync has failed by the time the job runs (a second
// job for the same change, run after the first failed it) is left alone:
// a failed reschedule or cancel is tried again only by workRetry, once per
// attempt, as reconciliation schedules it.
func (r *Runner) workSync(ctx context.Context, job *jobs.Job[syncArgs]) error {
	id := job.Args.ReservationID
	return r.underLease(ctx, id, job.ID, func() error {
		res, err := r.cfg.Store.FindReservationByID(ctx, id)
		if reservation.ErrorCode(err) == reservation.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if res.Sync.State == reservation.SyncFailed {
			return nil
		}
		return r.converge(ctx, id, res)
	})
}

// underLease runs fn holding the sync lease of reservation id, renewed
// while fn works, so that a worker killed mid-job loses it within leaseTTL
// and another can carry on. A lease another worker holds snoozes the job.
func (r *Runner) underLease(ctx context.Context, id string, jobID int64, fn func() error) error {
	r.syncing.Add(1)
	defer r.syncing.Add(-1)
	holder := r.id + "-" + strconv.FormatInt(jobID, 10)
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
	return fn()
}

// converge steps reservation id until Genesys matches it (first, when
// first is set, on the reservation it gives). A transient failure (429,
// 5xx, an unknown outcome) is retried here a few times with backoff:
// failing the job would send it to the back of River's queue, behind a
// whole burst. A lost create not found yet snoozes the job until its next
// search.
func (r *Runner) converge(ctx context.Context, id string, first *reservation.Reservation) error {
	transient := 0
	for steps := 0; steps < 8; steps++ {
		res := first
		first = nil
		if res == nil {
			var err error
			res, err = r.cfg.Store.FindReservationByID(ctx, id)
			if reservation.ErrorCode(err) == reservation.ENOTFOUND {
				return nil
			}
			if err != nil {
				return err
			}
		}
		done, err := r.step(ctx, res)
		if done {
			return err
		}
		var again *searchAgainError
		if errors.As(err, &again) {
			return jobs.Snooze(again.wait)
		}
		if err != nil {
			if transient++; transient > 3 || genesys.IsPermanent(err) {
				return err
			}
			var unknown *genesys.UnknownOutcomeError
			if errors.As(err, &unknown) {
				// The next step searches for the callback first. A search
				// now would find nothing (analytics shows a new callback
				// only after a delay, and a refused create made none) and
				// cost a call of the budget per unknown create while a
				// burst drains: the job steps aside instead, and searches
				// when River runs it again (behind the jobs waiting, whose
				// creates need the budget more), an eighth of the
				// lost-create window from now: the window outlasts
				// Genesys' analytics delay, and a search before the index
				// could show the callback is a call spent for nothing.
				return jobs.Snooze(r.firstSearchWait())
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

// searchAgainError says that a create whose outcome is unknown was not
// found, too soon after it was sent to conclude it is absent: search again
// after wait.
type searchAgainError struct{ wait time.Duration }

func (e *searchAgainError) Error() string {
	return fmt.Sprintf("the callback of a lost create is not found yet; searching again in %s", e.wait.Round(time.Millisecond))
}

// step does the one call that brings Genesys closer to res. It reports
// done when nothing is left to do.
func (r *Runner) step(ctx context.Context, res *reservation.Reservation) (bool, error) {
	switch {
	case res.Status == reservation.StatusScheduled && res.Sync.ConversationID == "":
		return r.create(ctx, res)
	case res.Status == reservation.StatusScheduled && !res.Sync.ScheduledAt.Equal(res.Slot.Start):
		return r.reschedule(ctx, res)
	case res.Status == reservation.StatusCanceled && res.Sync.State != reservation.SyncSynced:
		// Pending, or failed and tried again (workRetry).
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
	if q := r.queues[res.QueueID]; res.Sync.Attempts > 0 && !r.lostCreatesAbsent(res.ID) && q != nil && q.GenesysQueueID != "" {
		found, err := r.lookLost(ctx, q, res)
		if err != nil {
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
	r.lostCreateDone(res.ID)
	_, err := r.cfg.Store.MarkSynced(ctx, res.ID, reservation.SyncResult{Disconnected: true}, sysWrite())
	return true, err
}

// lookLost looks for the callback an earlier create of res may have made
// (its answer lost, or the process killed). It returns the callback, or
// nil when it is surely absent: not found by a search begun at least
// LostCreateWindow after that create was sent. Before then a miss is a
// *searchAgainError.
func (r *Runner) lookLost(ctx context.Context, q *booking.Queue, res *reservation.Reservation) (*reservation.SyncResult, error) {
	// Another lookup's query may have covered it since its last search.
	switch found, settled, wait := r.lostKnown(res.ID); {
	case found != nil:
		r.lostCreateDone(res.ID)
		return found, nil
	case settled:
		return nil, nil
	case wait > 0:
		r.cfg.Observer.SyncOutcome("adopt", "searching")
		return nil, &searchAgainError{wait: wait}
	}
	found, searched, err := r.lookups.find(ctx, q, res)
	if err != nil {
		r.note(ctx, res.ID, "look for an earlier create: "+err.Error())
		return nil, err
	}
	if found != nil {
		r.lostCreateDone(res.ID)
		return found, nil
	}
	settled, wait := r.lostSearch(res.ID, searched)
	if settled {
		return nil, nil
	}
	r.cfg.Observer.SyncOutcome("adopt", "searching")
	err = &searchAgainError{wait: wait}
	r.note(ctx, res.ID, "create outcome unknown: "+err.Error())
	return nil, err
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
	if res.Sync.Attempts > 0 && !r.lostCreatesAbsent(res.ID) {
		found, err := r.lookLost(ctx, q, res)
		if err != nil {
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
	r.lostCreateSent(res, q.GenesysQueueID)
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
		var unknown *genesys.UnknownOutcomeError
		if !errors.As(err, &unknown) {
			// Refused (a 429, a pause of the budget, a 4xx), or never
			// sent: nothing to look for before the next attempt.
			r.lostCreateRefused(res.ID)
		}
		return r.failed(ctx, res, "create", err, true)
	}
	r.lostCreateDone(res.ID)
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

// reschedule moves the callback to the reservation's slot. It sends the
// callback's owner as agentId when Genesys is known to want one; a refusal
// for want of agentId reads the owner and tries again with it, and when
// the callback has none (or Genesys refuses it too) records the sync as
// failed, saying that Genesys keeps the old time.
func (r *Runner) reschedule(ctx context.Context, res *reservation.Reservation) (bool, error) {
	req := genesys.PatchCallbackRequest{ConversationID: res.Sync.ConversationID, CallbackScheduledTime: res.Slot.Start}
	var err error
	if r.agentRequired.Load() {
		if req.AgentID, err = r.owner(ctx, req.ConversationID); err != nil {
			return r.failed(ctx, res, "reschedule", err, false)
		}
	}
	resp, err := r.cfg.Genesys.RescheduleCallback(ctx, req)
	if err != nil && req.AgentID == "" && genesys.IsAgentRequired(err) {
		r.agentRequired.Store(true)
		owner, oerr := r.owner(ctx, req.ConversationID)
		if oerr != nil {
			return r.failed(ctx, res, "reschedule", oerr, false)
		}
		if owner != "" {
			req.AgentID = owner
			resp, err = r.cfg.Genesys.RescheduleCallback(ctx, req)
		}
	}
	if err != nil && genesys.IsAgentRequired(err) {
		why := "it has no owning agent to send"
		if req.AgentID != "" {
			why = "it refused the callback's owner"
		}
		reason := fmt.Sprintf("Genesys requires an agentId to reschedule this callback and %s; it keeps the callback at %s: %s",
			why, res.Sync.ScheduledAt.UTC().Format(time.RFC3339), refusal(err))
		r.cfg.Observer.SyncOutcome("reschedule", "agent_required")
		r.logger.WarnContext(ctx, "genesys refused a reschedule for its agentId", "reservation_id", res.ID,
			"conversation_id", req.ConversationID, "agent_sent", req.AgentID != "", "err", err)
		_, merr := r.cfg.Store.MarkSyncFailed(ctx, res.ID, reason, false, sysWrite())
		return true, merr
	}
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

// owner returns the agent who owns the callback of a conversation (an
// agent-owned callback), or "" (none, or the conversation is gone).
func (r *Runner) owner(ctx context.Context, conversationID string) (string, error) {
	c, err := r.cfg.Genesys.GetCallbackConversation(ctx, conversationID)
	if genesys.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return c.Owner(), nil
}

// cancel disconnects the callback and makes sure it is gone: bulk
// disconnect answers 202 and acts later, or never. It reads the callback
// back until it is disconnected (for CancelVerifyWindow); if it is not,
// it disconnects the conversation itself (PATCH state disconnected) and
// reads again; if the callback still stands, the sync fails with the
// reason, for reconciliation to try again. A cancel tried again after such
// a failure first reads whether it has landed since.
func (r *Runner) cancel(ctx context.Context, res *reservation.Reservation) (bool, error) {
	conv := res.Sync.ConversationID
	if res.Sync.State == reservation.SyncFailed {
		gone, _, err := r.readDisconnected(ctx, conv)
		if err != nil {
			return r.failed(ctx, res, "cancel", err, false)
		}
		if gone {
			return r.canceled(ctx, res, "ok")
		}
	}
	ids := make([]genesys.CallbackIdentifier, len(res.Sync.CallbackIDs))
	for i, c := range res.Sync.CallbackIDs {
		ids[i] = genesys.CallbackIdentifier{Type: c.Type, ID: c.ID}
	}
	if err := r.cfg.Genesys.CancelCallback(ctx, conv, ids); err != nil {
		return r.failed(ctx, res, "cancel", err, false)
	}
	gone, state, err := r.verifyDisconnected(ctx, conv)
	if err != nil {
		return r.failed(ctx, res, "cancel", err, false)
	}
	if gone {
		return r.canceled(ctx, res, "ok")
	}
	r.logger.WarnContext(ctx, "genesys accepted a disconnect but the callback still stands; disconnecting its conversation",
		"reservation_id", res.ID, "conversation_id", conv, "state", state)
	ferr := r.cfg.Genesys.DisconnectConversation(ctx, conv)
	if ferr == nil || genesys.IsNotFound(ferr) {
		if gone, state, err = r.verifyDisconnected(ctx, conv); err != nil {
			return r.failed(ctx, res, "cancel", err, false)
		}
		if gone {
			return r.canceled(ctx, res, "fallback")
		}
	}
	reason := fmt.Sprintf("the cancel did not land in Genesys: the callback is still %s after a bulk disconnect and a disconnect of its conversation", state)
	if ferr != nil && !genesys.IsNotFound(ferr) {
		reason = fmt.Sprintf("the cancel did not land in Genesys: the callback is still %s after a bulk disconnect, and the disconnect of its conversation failed: %s", state, refusal(ferr))
	}
	r.cfg.Observer.SyncOutcome("cancel", "unverified")
	r.logger.WarnContext(ctx, "a cancel did not land in Genesys; reconciliation will try again", "reservation_id", res.ID,
		"conversation_id", conv, "state", state)
	_, err = r.cfg.Store.MarkSyncFailed(ctx, res.ID, reason, false, sysWrite())
	return true, err
}

// canceled records a cancel that landed in Genesys.
func (r *Runner) canceled(ctx context.Context, res *reservation.Reservation, outcome string) (bool, error) {
	if _, err := r.cfg.Store.MarkSynced(ctx, res.ID, reservation.SyncResult{Disconnected: true}, sysWrite()); err != nil {
		return false, err
	}
	r.cfg.Observer.SyncOutcome("cancel", outcome)
	return true, nil
}

// verifyDisconnected reads a conversation back, with backoff from
// RetryBase, until its callback is disconnected or CancelVerifyWindow has
// passed. It returns whether it is, and else the state it is in.
func (r *Runner) verifyDisconnected(ctx context.Context, conv string) (bool, string, error) {
	deadline := time.Now().Add(r.cfg.CancelVerifyWindow)
	wait := r.cfg.RetryBase
	for {
		// The first read waits too: the disconnect was just accepted.
		t := time.NewTimer(min(wait, max(time.Until(deadline), 0)))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, "", context.Cause(ctx)
		case <-t.C:
		}
		gone, state, err := r.readDisconnected(ctx, conv)
		if err != nil || gone || !time.Now().Before(deadline) {
			return gone, state, err
		}
		wait *= 2
	}
}

// readDisconnected reads a conversation and reports whether its callback
// is disconnected (or the conversation gone), and else the state it is in.
func (r *Runner) readDisconnected(ctx context.Context, conv string) (bool, string, error) {
	c, err := r.cfg.Genesys.GetCallbackConversation(ctx, conv)
	if genesys.IsNotFound(err) {
		return true, "gone", nil
	}
	if err != nil {
		return false, "", err
	}
	if len(c.Participants) == 0 {
		return false, "without participants", nil
	}
	for _, p := range c.Participants {
		if p.State != "disconnected" && p.State != "terminated" {
			return false, p.State, nil
		}
	}
	return true, "disconnected", nil
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
		_, merr := r.cfg.Store.MarkSyncFailed(ctx, res.ID, "genesys refused the "+op+": "+refusal(err), failReservation, sysWrite())
		return true, merr
	}
	r.cfg.Observer.SyncOutcome(op, "retry")
	r.note(ctx, res.ID, op+": "+err.Error())
	return false, err
}

// refusal describes a Genesys error for a reservation's sync reason: the
// same refusal reads the same each time (no correlation id, which the log
// line of the failure carries), so that a retry refused again records no
// new reservation.sync_failed.
func refusal(err error) string {
	var e *genesys.APIError
	if !errors.As(err, &e) {
		return err.Error()
	}
	s := fmt.Sprintf("genesys %s: status %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// note keeps the last error on the reservation without counting an attempt.
func (r *Runner) note(ctx context.Context, id, msg string) {
	if _, err := r.cfg.Store.RecordSyncAttempt(context.WithoutCancel(ctx), id, msg, false); err != nil {
		r.logger.WarnContext(ctx, "record sync error", "reservation_id", id, "err", err)
	}
}

// smsArgs is the job that sent the missed-callback SMS before
// notifications (see workSMS).
type smsArgs struct {
	ReservationID string `json:"reservation_id"`
}

func (smsArgs) Kind() string { return "genesys_sms" }
