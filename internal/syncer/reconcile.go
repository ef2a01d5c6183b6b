package syncer

import (
	"context"
	"time"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
)

// apply brings a reservation in line with a conversation read from Genesys
// (a notification, or with fresh a read just made) and reports whether it
// changed. A callback whose communications have all ended but whose agent
// has not wrapped up yet stays in progress; a read of the conversation is
// then scheduled for when its wait ends (the outcome job), in case no event
// comes. An event past that wait, still without the wrap-up, is not taken
// as final: it may have been read late, so the conversation is read again
// first.
func (r *Runner) apply(ctx context.Context, res *reservation.Reservation, c *genesys.Conversation, fresh bool) (bool, error) {
	m := mapConversation(c, r.now(), r.policies[res.QueueID])
	if m.unwrapped && !fresh {
		return false, r.awaitOutcome(ctx, res.ID, m.waitUntil)
	}
	u := r.withBucket(r.queues[res.QueueID], m.update)
	w := reservation.Write{Actor: "genesys", Origin: reservation.OriginGenesys}
	got, changed, err := r.cfg.Store.ApplyGenesys(ctx, res.ID, u, w)
	if err != nil {
		return false, err
	}
	if !m.waitUntil.IsZero() && !got.Status.Final() {
		if err := r.awaitOutcome(ctx, got.ID, m.waitUntil); err != nil {
			return changed, err
		}
	}
	if changed {
		r.logger.InfoContext(ctx, "reservation updated from Genesys", "reservation_id", got.ID, "status", got.Status,
			"outcome", got.Outcome, "dial_attempts", got.DialAttempts, "conversation_id", c.ID, "version", got.Version)
	}
	return changed, nil
}

// outcomeArgs is the job that reads a conversation again once its outcome
// stops waiting for a wrap-up (At, Unix milliseconds on the Genesys-side
// clock).
type outcomeArgs struct {
	ReservationID string `json:"reservation_id"`
	At            int64  `json:"at"`
}

func (outcomeArgs) Kind() string { return "genesys_outcome" }

// awaitOutcome schedules the outcome job of a reservation for at (once per
// reservation and instant).
func (r *Runner) awaitOutcome(ctx context.Context, id string, at time.Time) error {
	run := time.Now().Add(max(r.cfg.Until(at), 0) + time.Second)
	return r.jobs.Insert(ctx, outcomeArgs{ReservationID: id, At: at.UnixMilli()}, &jobs.InsertOpts{ScheduledAt: run})
}

// workOutcome reads the conversation of a reservation still in progress
// and applies it: by now its wait for a wrap-up is over. On a Genesys-side
// clock that has not got there yet (a slower sandbox clock) it waits on.
func (r *Runner) workOutcome(ctx context.Context, job *jobs.Job[outcomeArgs]) error {
	res, err := r.cfg.Store.FindReservationByID(ctx, job.Args.ReservationID)
	if reservation.ErrorCode(err) == reservation.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if res.Status.Final() || res.Sync.ConversationID == "" {
		return nil
	}
	if at := time.UnixMilli(job.Args.At); r.now().Before(at) {
		return jobs.Snooze(max(r.cfg.Until(at), time.Second))
	}
	c, err := r.cfg.Genesys.GetConversation(ctx, res.Sync.ConversationID)
	if genesys.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = r.apply(ctx, res, c, true)
	return err
}

// reconcileArgs is the periodic job that reads back every unsettled
// reservation from Genesys.
type reconcileArgs struct{}

func (reconcileArgs) Kind() string { return "genesys_reconcile" }

// workReconcile repairs drift: a missed notification, a change made inside
// Genesys while no listener ran, or a sync job that gave up. It may run
// for 30 minutes (a pass over many reservations).
func (r *Runner) workReconcile(ctx context.Context, _ *jobs.Job[reconcileArgs]) error {
	return r.Reconcile(ctx)
}

// Reconcile reads back every unsettled reservation: those synced to a
// conversation are compared with it; those still waiting for a sync after a
// minute get a new sync job; those whose reschedule or cancel failed get a
// retry job, later at each retry (retryDelay).
func (r *Runner) Reconcile(ctx context.Context) error {
	// One pass at a time in a process: a pass that yields to a long sync
	// backlog can outlast the period, and a second would only hold another
	// worker to wait beside it.
	if !r.reconciling.CompareAndSwap(false, true) {
		r.logger.DebugContext(ctx, "reconciliation already running")
		return nil
	}
	defer r.reconciling.Store(false)
	// Reading back every conversation costs one Genesys call each: a
	// regular pass reads those whose time is near (where Genesys changes
	// them) and once a day all of them. A pass cut short (its job timed
	// out) is resumed where it stopped, still full if it was.
	r.mu.Lock()
	full := time.Since(r.lastFull) >= 24*time.Hour
	cursor := r.reconcileFrom
	r.mu.Unlock()
	now := r.now()
	near := func(res *reservation.Reservation) bool {
		return full || (res.Slot.Start.After(now.Add(-12*time.Hour)) && res.Slot.Start.Before(now.Add(2*time.Hour)))
	}
	var repaired, checked int
	reach := r.newReachable(now)
	for {
		page, next, err := r.cfg.Store.FindUnsettled(ctx, cursor, 200)
		if err != nil {
			return err
		}
		for _, res := range page {
			reach.note(r, res)
			if res.Sync.State == reservation.SyncSynced && !near(res) {
				continue
			}
			checked++
			fixed, err := r.reconcileOne(ctx, res)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				r.logger.WarnContext(ctx, "reconcile", "reservation_id", res.ID, "err", err)
				continue
			}
			if fixed {
				repaired++
			}
		}
		if next == 0 {
			break
		}
		cursor = next
		r.mu.Lock()
		r.reconcileFrom = cursor
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.reconcileFrom = 0
	if full {
		r.lastFull = time.Now()
	}
	r.mu.Unlock()
	r.pruneLostCreates()
	r.reconcileReached(ctx, reach)
	r.logger.InfoContext(ctx, "reconciliation done", "checked", checked, "repaired", repaired, "full", full)
	return nil
}

// reconcileYield is the longest a reconciliation read waits for the sync
// jobs of this process to finish: under a sustained backlog reconciliation
// still reads, at one reservation per reconcileYield.
const reconcileYield = 10 * time.Second

// yieldToSync waits, up to reconcileYield, while sync jobs run in this
// process. Both share the Genesys rate limit, and reconciliation is repair
// work: a burst of creates (customers waiting for their callback to exist)
// comes first. A full pass at start used to read 3 conversations a second
// of a 50/s allowance in the middle of a burst of 10,000 admissions.
func (r *Runner) yieldToSync(ctx context.Context) error {
	if r.syncing.Load() == 0 {
		return nil
	}
	deadline := time.NewTimer(reconcileYield)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for r.syncing.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
	}
	return nil
}

func (r *Runner) reconcileOne(ctx context.Context, res *reservation.Reservation) (bool, error) {
	if res.Sync.State == reservation.SyncPending && time.Since(res.UpdatedAt) > time.Minute {
		// Its job may have given up or been lost: start another.
		// A job waiting or running for its version makes this a no-op.
		if err := r.jobs.Insert(ctx, syncArgs{ReservationID: res.ID, Version: res.Version}, nil); err != nil {
			return false, err
		}
		r.cfg.Observer.ReconcileRepair("resync")
		return true, nil
	}
	if res.Sync.State == reservation.SyncFailed {
		return false, r.scheduleRetry(ctx, res)
	}
	if res.Sync.ConversationID == "" || res.Sync.State != reservation.SyncSynced {
		return false, nil
	}
	if err := r.yieldToSync(ctx); err != nil {
		return false, err
	}
	c, err := r.cfg.Genesys.GetConversation(ctx, res.Sync.ConversationID)
	if genesys.IsNotFound(err) {
		r.logger.WarnContext(ctx, "the conversation of a reservation is gone from Genesys", "reservation_id", res.ID,
			"conversation_id", res.Sync.ConversationID)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	changed, err := r.apply(ctx, res, c, true)
	if changed {
		r.cfg.Observer.ReconcileRepair("status")
	}
	return changed, err
}

// retryArgs is the job that tries a failed reschedule or cancel again.
// Attempt is the reservation's sync attempts when reconciliation scheduled
// it: one job per reservation and attempt (the kind is unique by its
// arguments), and a job whose attempt has passed does nothing.
type retryArgs struct {
	ReservationID string `json:"reservation_id"`
	Attempt       int    `json:"attempt"`
	// Manual marks an operator's retry (EnqueueRetry): its own job beside
	// the one reconciliation may have scheduled later for the same attempt.
	Manual bool `json:"manual,omitempty"`
}

func (retryArgs) Kind() string { return "genesys_sync_retry" }

// retryGiveUp is how long after its slot's end a failed sync is still
// tried again: after that no callback is left to move or to stop.
const retryGiveUp = 24 * time.Hour

// retryDelay is the wait before the retry that follows attempts earlier
// ones: FailedRetryBase doubled per attempt, at most FailedRetryMax.
func (r *Runner) retryDelay(attempts int) time.Duration {
	d := r.cfg.FailedRetryBase
	for i := 0; i < attempts && d < r.cfg.FailedRetryMax; i++ {
		d *= 2
	}
	return min(d, r.cfg.FailedRetryMax)
}

// scheduleRetry enqueues the retry of a reservation whose reschedule or
// cancel failed (a create Genesys refused fails the reservation itself,
// which is settled), retryDelay from now. The job of that attempt is
// enqueued once, whatever the number of passes that see it waiting.
func (r *Runner) scheduleRetry(ctx context.Context, res *reservation.Reservation) error {
	if res.Sync.ConversationID == "" || r.now().After(res.Slot.End.Add(retryGiveUp)) {
		return nil
	}
	// A wait under a second is not worth River's scheduler, which looks
	// for due jobs every few seconds: the job is inserted ready to run.
	var opts *jobs.InsertOpts
	if d := r.retryDelay(res.Sync.Attempts); d >= time.Second {
		opts = &jobs.InsertOpts{ScheduledAt: time.Now().Add(d)}
	}
	return r.jobs.Insert(ctx, retryArgs{ReservationID: res.ID, Attempt: res.Sync.Attempts}, opts)
}

// workRetry tries a failed reschedule or cancel again, under the
// reservation's lease, counting the attempt first (the next retry waits
// longer). A reservation no longer failed, or tried again since, is left.
func (r *Runner) workRetry(ctx context.Context, job *jobs.Job[retryArgs]) error {
	id := job.Args.ReservationID
	return r.underLease(ctx, id, job.ID, func() error {
		res, err := r.cfg.Store.FindReservationByID(ctx, id)
		if reservation.ErrorCode(err) == reservation.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if res.Sync.State != reservation.SyncFailed || res.Sync.Attempts != job.Args.Attempt {
			return nil
		}
		if res.Sync.Attempts, err = r.cfg.Store.RecordSyncAttempt(ctx, id, res.Sync.LastError, true); err != nil {
			return err
		}
		r.cfg.Observer.ReconcileRepair("retry")
		r.logger.InfoContext(ctx, "trying a failed sync again", "reservation_id", id, "status", res.Status, "attempt", res.Sync.Attempts)
		return r.converge(ctx, id, res)
	})
}
