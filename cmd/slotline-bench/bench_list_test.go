package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// TestBenchList runs "slotline-bench list" tiny, at two sizes, and checks
// that every request and the growth between the sizes are reported, with
// sane figures. It proves the command works; it says nothing about speed.
func TestBenchList(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"slotline-bench", "list", "--sizes", "2000,4000", "--queues", "2", "--limit", "10",
		"--clients", "2", "--duration", "50ms", "--rounds", "2", "--json"}, func(string) string { return "" }, nil, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var rep listReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(rep.Sizes) != 2 || rep.Sizes[0].Reservations != 2000 || rep.Sizes[1].Reservations != 4000 {
		t.Fatalf("sizes %+v", rep.Sizes)
	}
	for _, s := range rep.Sizes {
		if s.FillSec <= 0 || len(s.Requests) != 8 {
			t.Errorf("size %d: fill %.3fs, %d requests", s.Reservations, s.FillSec, len(s.Requests))
		}
		for _, e := range s.Requests {
			if e.Count == 0 || e.PerSec <= 0 || e.P99Ms <= 0 || e.P99Ms < e.P50Ms || e.FloorRatio <= 0 || e.Failures != 0 ||
				len(e.FloorRatioRounds) != 2 {
				t.Errorf("size %d, %s: %+v", s.Reservations, e.Name, e)
			}
		}
		if f := s.Requests[0]; !strings.HasPrefix(f.Name, "floor") || f.FloorRatio != 1 {
			t.Errorf("size %d: the first request is not the floor: %+v", s.Reservations, f)
		}
	}
	if len(rep.Growth) != 8 {
		t.Fatalf("growth %+v", rep.Growth)
	}
	for _, g := range rep.Growth {
		if g.PerSec <= 0 || g.P99 <= 0 {
			t.Errorf("growth %+v", g)
		}
	}
}
