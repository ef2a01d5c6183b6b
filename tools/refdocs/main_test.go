package main

import (
	"strings"
	"testing"
)

// TestPagesUpToDate: the reference pages carry the configuration example,
// the key table and the metrics table as the code makes them now.
func TestPagesUpToDate(t *testing.T) {
	if err := run("../..", true); err != nil {
		t.Error(err)
	}
}

// TestGenerateReplacesOnlyItsRegions: the hand-written text around the
// markers stays, and a page without them is an error.
func TestGenerateReplacesOnlyItsRegions(t *testing.T) {
	ex, ref := regions[0], regions[1]
	page := "intro\n" + ex.begin + "\nstale\n" + ex.end + "\nmiddle\n" + ref.begin + "\nold\n" + ref.end + "\nend\n"
	got, err := Generate("docs/configuration.md", page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"intro\n" + ex.begin + "\n```yaml\nlisten:", "```\n" + ex.end + "\nmiddle\n", "| `listen` |", ref.end + "\nend\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("generated page lacks %q", want)
		}
	}
	if strings.Contains(got, "stale") || strings.Contains(got, "\nold\n") {
		t.Error("the old regions are still there")
	}
	if _, err := Generate("docs/configuration.md", "no markers"); err == nil {
		t.Error("a page without markers was accepted")
	}
	m := regions[2]
	got, err = Generate("docs/operations.md", m.begin+"\n"+m.end+"\n")
	if err != nil || !strings.Contains(got, "| `slotline_admissions_total` | counter | `outcome`, `reason` |") {
		t.Errorf("metrics table: %v\n%s", err, got)
	}
}
