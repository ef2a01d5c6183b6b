package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"
	"time"
)

// TestHashMiddle: the hash rebuilt from the sequence number, HashMiddle and
// the previous hash (as PostgreSQL computes it) is ComputeHash's, for
// fields that JSON escapes.
func TestHashMiddle(t *testing.T) {
	for _, e := range []Entry{
		{Seq: 1, At: time.UnixMicro(1_700_000_000_123_456), Actor: "bench", Action: "reservation.create", Target: "res_1", Outcome: OutcomeOK, Detail: `{"version":1}`},
		{Seq: 922337203685477580, At: time.Unix(0, 0), Actor: "a\"b<c>&\u2028é\x00", Action: "", Target: "\\", Outcome: OutcomeRefused,
			Detail: "\xff not UTF-8", PrevHash: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	} {
		sum := sha256.Sum256([]byte(`{"seq":` + strconv.FormatInt(e.Seq, 10) + e.HashMiddle() + e.PrevHash + `"}`))
		if got, want := hex.EncodeToString(sum[:]), e.ComputeHash(); got != want {
			t.Errorf("entry %d: rebuilt hash %s, ComputeHash %s (middle %q)", e.Seq, got, want, e.HashMiddle())
		}
	}
}
