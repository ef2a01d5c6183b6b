package main

import (
	"os"
	"strings"
	"testing"
)

// TestConfigurationPageUpToDate: docs/configuration.md carries the example
// and the key table as the code makes them now.
func TestConfigurationPageUpToDate(t *testing.T) {
	have, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(string(have))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(have) {
		t.Error("docs/configuration.md is out of date: run go run ./tools/configdoc")
	}
}

// TestGenerateReplacesOnlyItsRegions: the hand-written text around the
// markers stays, and a page without them is an error.
func TestGenerateReplacesOnlyItsRegions(t *testing.T) {
	page := "intro\n" + exampleBegin + "\nstale\n" + exampleEnd + "\nmiddle\n" + referenceBegin + "\nold\n" + referenceEnd + "\nend\n"
	got, err := Generate(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"intro\n" + exampleBegin + "\n```yaml\nlisten:", "```\n" + exampleEnd + "\nmiddle\n", "| `listen` |", referenceEnd + "\nend\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("generated page lacks %q", want)
		}
	}
	if strings.Contains(got, "stale") || strings.Contains(got, "\nold\n") {
		t.Error("the old regions are still there")
	}
	if _, err := Generate("no markers"); err == nil {
		t.Error("a page without markers was accepted")
	}
}
