package syncer

// FullReconciled reports whether a full reconciliation pass has completed
// (the one at start, in tests).
func FullReconciled(r *Runner) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.lastFull.IsZero()
}

// Reconciling reports whether a reconciliation pass is running (Reconcile
// returns at once meanwhile).
func Reconciling(r *Runner) bool { return r.reconciling.Load() }
