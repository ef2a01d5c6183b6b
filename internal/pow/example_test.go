package pow_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/slotline/slotline/internal/pow"
)

// A server hands out a challenge, a client solves it, and the server
// verifies the proof once.
func Example() {
	issuer := pow.New(pow.Config{Key: []byte("the deployment's key"), MaxNumber: 1000})
	c := issuer.Challenge()

	// The client's side: try every number until the hash matches.
	n, _ := pow.Solve(c)
	proof := pow.Encode(pow.Solution{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: n, Salt: c.Salt, Signature: c.Signature})

	fmt.Println(issuer.Verify(context.Background(), proof))
	fmt.Println(issuer.Verify(context.Background(), ""))
	// Output:
	// <nil>
	// pow: no proof of work
}

// BenchmarkSolve is what a solver pays for a challenge of the default
// cost, on average, in native code.
func BenchmarkSolve(b *testing.B) {
	c := pow.New(pow.Config{Key: key}).Challenge()
	c.Challenge = "" // never found: every number is tried
	c.MaxNumber = pow.DefaultMaxNumber / 2
	for b.Loop() {
		pow.Solve(c)
	}
}

// BenchmarkVerify is the server's cost of a proof, spent in memory.
func BenchmarkVerify(b *testing.B) {
	i := pow.New(pow.Config{Key: key, MaxNumber: 10})
	proofs := make([]string, 0, 1024)
	for range cap(proofs) {
		c := i.Challenge()
		n, _ := pow.Solve(c)
		proofs = append(proofs, pow.Encode(pow.Solution{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: n, Salt: c.Salt, Signature: c.Signature}))
	}
	ctx := context.Background()
	k := 0
	for b.Loop() {
		if err := i.Verify(ctx, proofs[k%len(proofs)]); err != nil {
			b.Fatal(err)
		}
		k++
	}
}
