// SPDX-License-Identifier: Apache-2.0

// Package arch holds tests of the module's structure: which packages may
// depend on which. It has no code of its own.
package arch

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// list runs go list with a template over the module's packages.
func list(t *testing.T, args ...string) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestDomainHasNoDrivers: the domain, the services on it and the Genesys
// client build without a SQL driver or the job queue; they see the store
// through the small interfaces they declare.
func TestDomainHasNoDrivers(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"reservation", "schedule", "booking", "stream", "audit", "ical", "frame", "genesys", "genesys/gcsim", "backoff"} {
		deps := list(t, "-deps", "github.com/slotline/slotline/internal/"+pkg)
		for _, d := range deps {
			if strings.HasPrefix(d, "github.com/jackc/pgx") || strings.HasPrefix(d, "modernc.org/sqlite") ||
				strings.HasPrefix(d, "github.com/riverqueue/") || d == "github.com/slotline/slotline/internal/storage" {
				t.Errorf("internal/%s depends on %s", pkg, d)
			}
		}
	}
}

// TestOnlyJobsImportsRiver: River is the jobs package's; storage only
// picks River's driver for its database.
func TestOnlyJobsImportsRiver(t *testing.T) {
	t.Parallel()
	allowed := []string{"github.com/slotline/slotline/internal/jobs", "github.com/slotline/slotline/internal/storage"}
	for _, line := range list(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}} {{join .TestImports \" \"}} {{join .XTestImports \" \"}}",
		"github.com/slotline/slotline/...") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, "github.com/riverqueue/") && !slices.Contains(allowed, pkg) {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
}

// TestLicenceHeader: every package names its licence (SPDX) in a Go file
// of its own, the one with its doc comment.
func TestLicenceHeader(t *testing.T) {
	for _, line := range list(t, "-f", "{{.Dir}}\t{{join .GoFiles \" \"}} {{join .TestGoFiles \" \"}} {{join .XTestGoFiles \" \"}}", "github.com/slotline/slotline/...") {
		dir, files, _ := strings.Cut(line, "\t")
		found := false
		for _, f := range strings.Fields(files) {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err == nil && strings.HasPrefix(string(b), "// SPDX-License-Identifier: Apache-2.0\n") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("package %s has no file starting with // SPDX-License-Identifier: Apache-2.0", dir)
		}
	}
}
