package stream

import (
	"context"
	"runtime/debug"
	"time"
)

// ReleaseOptions say when a hub gives the memory of a fan-out back to the
// operating system (see Hub.ReleaseMemory). The zero value is the default.
type ReleaseOptions struct {
	// MinDrop is how many subscribers must have left since the most the
	// hub had, and at least half of them, before a release (default 100).
	MinDrop int
	// Quiet is how long no subscriber must have left before a release,
	// so that a thousand leaving over a few seconds make one (default 2 s).
	Quiet time.Duration
	// Every is the least time between two releases (default 1 min): each
	// collects the whole heap and returns every free page, holding the
	// heap's lock meanwhile (7–38 ms for 300 MiB of free heap on a loaded
	// 2-core machine).
	Every time.Duration
	// Free releases the memory (default debug.FreeOSMemory).
	Free func()
	// checked, in tests, learns of each time the drop was judged, and
	// whether it was sharp.
	checked func(peak, now int64, sharp bool)
}

func (o *ReleaseOptions) defaults() {
	if o.MinDrop <= 0 {
		o.MinDrop = 100
	}
	if o.Quiet <= 0 {
		o.Quiet = 2 * time.Second
	}
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	if o.Free == nil {
		o.Free = debug.FreeOSMemory
	}
}

// ReleaseMemory gives the memory of a fan-out back to the operating system
// once its subscribers have gone, until ctx is done. A thousand subscribers
// leave behind some hundreds of MiB of free heap (their connections'
// buffers and goroutine stacks, the events they were sent), which the Go
// runtime would otherwise return only after its next collections, minutes
// later on a quiet server. When the subscribers have dropped sharply (see
// ReleaseOptions) and none has left for Quiet, it drops the ring if nobody
// reads it, then calls Free, at most once per Every. It is the one caller
// of Free; run it in one goroutine per hub.
func (h *Hub) ReleaseMemory(ctx context.Context, o ReleaseOptions) error {
	o.defaults()
	var last time.Time // the last release
	quiet := time.NewTimer(0)
	<-quiet.C
	defer quiet.Stop()
	for {
		// Wait for a subscriber to leave, then for Quiet without another.
		select {
		case <-ctx.Done():
			return nil
		case <-h.left:
		}
		quiet.Reset(o.Quiet)
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-h.left:
				quiet.Reset(o.Quiet)
			case <-quiet.C:
				break wait
			}
		}
		now, peak := h.readers.Load(), h.peak.Load()
		sharp := sharpDrop(peak, now, o.MinDrop)
		if o.checked != nil {
			o.checked(peak, now, sharp)
		}
		if !sharp {
			continue
		}
		if !last.IsZero() {
			if wait := o.Every - time.Since(last); wait > 0 {
				quiet.Reset(wait)
				select {
				case <-ctx.Done():
					return nil
				case <-quiet.C:
				}
			}
			if now = h.readers.Load(); !sharpDrop(h.peak.Load(), now, o.MinDrop) {
				continue // they came back meanwhile
			}
		}
		now = h.readers.Load()
		h.peak.Store(now) // the next release needs a drop from here
		if now == 0 {
			h.mu.Lock()
			if h.readers.Load() == 0 {
				h.ring, h.first = nil, 0
			}
			h.mu.Unlock()
		}
		start := time.Now()
		o.Free()
		last = time.Now()
		h.logger.InfoContext(ctx, "stream: memory released after subscribers left",
			"subscribers_before", peak, "subscribers", now, "took", last.Sub(start))
	}
}

// sharpDrop says whether readers dropping from peak to now is worth a
// release: at least minDrop of them, and at least half, have gone.
func sharpDrop(peak, now int64, minDrop int) bool {
	return peak-now >= int64(minDrop) && now <= peak/2
}
