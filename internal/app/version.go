package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Build is what a binary knows of its build: the version (set by the
// release build with -ldflags "-X …app.version=v1.2.3", else the module's
// version when built by go install of a tagged version, else "dev"), and
// the VCS revision, its time and whether the tree had uncommitted changes,
// which the Go toolchain records when it builds with -buildvcs=true.
type Build struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readBuild reads the running binary's Build.
func readBuild() Build {
	b := Build{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one-line form: "slotline v1.2.3 (abc1234def56, 2026-12-03T10:00:00Z, modified) go1.26.8 linux/amd64".
func (b Build) String() string {
	s := "slotline " + b.Version
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (" + rev
		if b.Time != "" {
			s += ", " + b.Time
		}
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	} else {
		s += " (no VCS information: built without -buildvcs=true)"
	}
	return s + " " + b.Go + " " + b.Platform
}

// versionCmd runs "slotline version [--json]".
func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the build as a JSON object")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: slotline version [--json]\n\nPrints the version, the VCS revision and time, whether the tree was modified,\nthe Go version and the platform of this binary.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{"version takes no arguments"}
	}
	b := readBuild()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	_, err := fmt.Fprintln(stdout, b.String())
	return err
}
