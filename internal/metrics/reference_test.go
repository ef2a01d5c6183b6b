package metrics

import (
	"slices"
	"strings"
	"testing"
)

// TestReference lists every Slotline collector registered, with its type,
// labels and help, and none of Go's or the process's.
func TestReference(t *testing.T) {
	m := New()
	ds, err := m.Reference()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]MetricDoc{}
	for _, d := range ds {
		if !strings.HasPrefix(d.Name, "slotline_") || d.Help == "" {
			t.Errorf("listed %+v", d)
		}
		byName[d.Name] = d
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families { // the unlabelled ones show without use
		if n := f.GetName(); strings.HasPrefix(n, "slotline_") {
			if _, ok := byName[n]; !ok {
				t.Errorf("%s is registered but not listed", n)
			}
		}
	}
	for name, want := range map[string]MetricDoc{
		"slotline_http_request_duration_seconds": {Type: "histogram", Labels: []string{"route", "method", "status"}},
		"slotline_admissions_total":              {Type: "counter", Labels: []string{"outcome", "reason"}},
		"slotline_stream_subscribers":            {Type: "gauge"},
		"slotline_refused_writes_total":          {Type: "counter"},
		"slotline_sync_lag_seconds":              {Type: "histogram"},
	} {
		got, ok := byName[name]
		if !ok || got.Type != want.Type || !slices.Equal(got.Labels, want.Labels) {
			t.Errorf("%s: got %+v, want type %s labels %v", name, got, want.Type, want.Labels)
		}
	}
	if len(ds) < 35 {
		t.Errorf("only %d metrics listed", len(ds))
	}
}
