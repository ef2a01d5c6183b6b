package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
)

// TestBenchHeatmap runs "slotline-bench heatmap" small and checks that it
// reports figures. It proves the command works; it says nothing about
// speed.
func TestBenchHeatmap(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"slotline-bench", "heatmap", "--queues", "2", "--days", "2", "--bookings", "20",
		"--rounds", "1", "--json"}, func(string) string { return "" }, nil, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var rep heatmapReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Cells != 2*2*96 || rep.PageMs <= 0 || rep.FloorMs <= 0 || rep.Ratio <= 0 || rep.PageBytes == 0 {
		t.Errorf("report %+v", rep)
	}
}
