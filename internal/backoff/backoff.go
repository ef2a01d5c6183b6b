// SPDX-License-Identifier: Apache-2.0

// Package backoff is the one retry wait of Slotline: full-jitter
// exponential backoff. The job queue's retries and the Genesys client's
// retries both wait on it; it depends on nothing, so that the Genesys
// client does not pull in the job queue.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Full returns a random wait in [0, min(limit, base·2^(attempt-1))] ("full
// jitter": the waits of many retries spread over the whole range instead
// of arriving together); 0 when that ceiling is not positive.
func Full(attempt int, base, limit time.Duration) time.Duration {
	ceil := base
	for i := 1; i < attempt && ceil < limit; i++ {
		ceil *= 2
	}
	ceil = min(ceil, limit)
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}
