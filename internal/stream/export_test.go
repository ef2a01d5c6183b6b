package stream

import "time"

// SetPoll sets the period of h's safety poll while it listens; call it
// before Run.
func SetPoll(h *Hub, every time.Duration) { h.pollEvery = every }
