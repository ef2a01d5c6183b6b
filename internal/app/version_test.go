package app

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionOfARelease builds slotline as the release does (-buildvcs=true,
// the version by -ldflags) and checks that `slotline version --json`
// reports the version, the checkout's revision and whether it had
// changes, and that the one-line form says the same.
func TestVersionOfARelease(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): the VCS stamp cannot be checked", err)
	}
	dir := strings.TrimSpace(string(root))
	head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "slotline")
	build := exec.Command("go", "build", "-buildvcs=true", "-trimpath",
		"-ldflags", "-X github.com/slotline/slotline/internal/app.version=v1.2.3-test", "-o", bin, "./cmd/slotline")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var b Build
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if b.Version != "v1.2.3-test" || b.Revision != strings.TrimSpace(string(head)) || b.Time == "" ||
		b.Modified != (len(bytes.TrimSpace(status)) > 0) || !strings.HasPrefix(b.Go, "go") || b.Platform == "" {
		t.Errorf("version --json = %+v; HEAD %s, modified %v", b, head, len(status) > 0)
	}
	if len(b.Revision) < 12 {
		t.Fatalf("the build has no VCS revision (%q): is this a git checkout the go command can read?", b.Revision)
	}
	line, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "slotline v1.2.3-test (" + b.Revision[:12] + ", " + b.Time; !strings.HasPrefix(string(line), want) {
		t.Errorf("version = %q, want it to start %q", line, want)
	}
}

// TestVersionWithoutVCS: a plain go build (these machines set
// -buildvcs=false) says it has no VCS information rather than nothing.
func TestVersionWithoutVCS(t *testing.T) {
	var out bytes.Buffer
	if err := versionCmd(t.Context(), nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if b := readBuild(); b.Revision == "" && !strings.Contains(out.String(), "no VCS information") {
		t.Errorf("version without a revision printed %q", out.String())
	}
	if err := versionCmd(t.Context(), []string{"extra"}, &out, &out); err == nil {
		t.Error("version took an argument")
	}
}

// TestUsageStyle: every command's -h is in the one style, "Usage: slotline
// <command> …", what it does, then "Flags:" with the defaults.
func TestUsageStyle(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"watch"}, {"sim"}, {"doctor"}, {"version"}, {"backup"},
		{"restore"}, {"healthcheck"}, {"audit", "verify"}, {"operator", "hash"}} {
		var out, errOut bytes.Buffer
		args := append(append([]string{"slotline"}, cmd...), "-h")
		if err := Run(t.Context(), args, func(string) string { return "" }, nil, &out, &errOut); err != nil {
			t.Errorf("%v -h: %v", cmd, err)
		}
		text := out.String() + errOut.String()
		if !strings.HasPrefix(text, "Usage: slotline "+strings.Join(cmd, " ")) || !(strings.Contains(text, "\n\nFlags:\n  -") || strings.HasSuffix(text, "\n\nFlags: none\n")) {
			t.Errorf("%v -h is not in the usage style:\n%s", cmd, text)
		}
		// Every flag that takes a value says its default, or that it is
		// required (flag prints "(default …)" only for non-zero ones).
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, "  -") || !strings.Contains(strings.TrimPrefix(l, "  -"), " ") || i+1 == len(lines) {
				continue // a boolean flag, or not a flag
			}
			if u := lines[i+1]; !strings.Contains(u, "default") && !strings.Contains(u, "required") {
				t.Errorf("%v -h: %s does not say its default:%s", cmd, strings.TrimSpace(l), u)
			}
		}
	}
}
