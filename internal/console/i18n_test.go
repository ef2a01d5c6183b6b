package console

import (
	"maps"
	"slices"
	"testing"
)

// TestCatalogsComplete: every language has exactly the keys of en.
func TestCatalogsComplete(t *testing.T) {
	t.Parallel()
	c, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(maps.Keys(c["en"]))
	for _, l := range Languages[1:] {
		if got := slices.Sorted(maps.Keys(c[l])); !slices.Equal(got, want) {
			t.Errorf("%s has keys %v, want those of en %v", l, got, want)
		}
	}
}
