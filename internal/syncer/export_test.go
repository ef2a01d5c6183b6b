package syncer

// FullReconciled reports whether a full reconciliation pass has completed
// (the one at start, in tests).
func FullReconciled(r *Runner) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.lastFull.IsZero()
}
