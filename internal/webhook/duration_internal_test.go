package webhook

import (
	"testing"
	"time"
)

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		5 * 24 * time.Hour: "5 days", 36 * time.Hour: "36 hours", 24 * time.Hour: "24 hours", 90 * time.Minute: "90 minutes",
		time.Minute: "60 seconds", 45 * time.Second: "45 seconds", time.Second: "1 second", 1500 * time.Millisecond: "2 seconds",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
