package backoff_test

import (
	"testing"
	"time"

	"github.com/slotline/slotline/internal/backoff"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		attempt     int
		base, limit time.Duration
		ceil        time.Duration
	}{
		{1, time.Second, time.Minute, time.Second},
		{3, time.Second, time.Minute, 4 * time.Second},
		{20, time.Second, time.Minute, time.Minute},
		{1, 0, time.Minute, 0},
	} {
		seen := map[bool]bool{}
		for range 2000 {
			d := backoff.Full(tt.attempt, tt.base, tt.limit)
			if d < 0 || d > tt.ceil {
				t.Fatalf("Backoff(%d, %v, %v) = %v, want within [0, %v]", tt.attempt, tt.base, tt.limit, d, tt.ceil)
			}
			seen[d > tt.ceil/2] = true
		}
		if tt.ceil > 0 && len(seen) != 2 {
			t.Errorf("Backoff(%d, %v, %v) never spread over both halves of [0, %v]", tt.attempt, tt.base, tt.limit, tt.ceil)
		}
	}
}
