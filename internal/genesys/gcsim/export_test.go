package gcsim

// SetSocketQueueLen sets how many frames may wait for a socket connected
// from now on, so that a test can overflow it.
func SetSocketQueueLen(s *Sim, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.socketQueueLen = n
}
