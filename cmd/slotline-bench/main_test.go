package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for slotline-bench where a bench
// runs its own executable as a child: "trivial-serve", the admit bench's
// HTTP floor.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "trivial-serve" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
