package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReproducibleRelease builds the release of this machine's platform
// twice into two directories and checks that the SHA256SUMS (archive and
// SBOM) are identical, that the archive holds the binary and the licence
// files, that the binary reports the version it was stamped with, and that
// the SBOM lists the modules it links.
func TestReproducibleRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	if _, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1764547200")
	plat := runtime.GOOS + "/" + runtime.GOARCH
	var sums [2]string
	var dirs [2]string
	for i := range 2 {
		dirs[i] = t.TempDir()
		if err := run(t.Context(), []string{"-version", "v9.8.7", "-out", dirs[i], "-platforms", plat}, io.Discard); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dirs[i], "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = string(b)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds differ:\n%s\n%s", sums[0], sums[1])
	}
	base := "slotline_9.8.7_" + runtime.GOOS + "_" + runtime.GOARCH
	if !strings.Contains(sums[0], base+".tar.gz") || !strings.Contains(sums[0], base+".cdx.json") {
		t.Fatalf("SHA256SUMS:\n%s", sums[0])
	}
	// Unpack and run it.
	f, err := os.Open(filepath.Join(dirs[0], base+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]bool{}
	bin := filepath.Join(t.TempDir(), "slotline")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = true
		if h.Name == base+"/slotline" {
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(bin, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range append([]string{"slotline"}, extraFiles...) {
		if !got[base+"/"+name] {
			t.Errorf("the archive has no %s (has %v)", name, got)
		}
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Version, Revision string }
	if err := json.Unmarshal(out, &v); err != nil || v.Version != "v9.8.7" || v.Revision == "" {
		t.Errorf("the released binary says %s (%v)", out, err)
	}
	sbom, err := os.ReadFile(filepath.Join(dirs[0], base+".cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct{ Name string }
	}
	if err := json.Unmarshal(sbom, &doc); err != nil || doc.BOMFormat != "CycloneDX" {
		t.Fatalf("SBOM: %v", err)
	}
	names := map[string]bool{}
	for _, c := range doc.Components {
		names[c.Name] = true
	}
	for _, m := range []string{"modernc.org/sqlite", "github.com/jackc/pgx/v5", "github.com/riverqueue/river"} {
		if !names[m] {
			t.Errorf("the SBOM does not list %s", m)
		}
	}
}
