// SPDX-License-Identifier: Apache-2.0

// Command licenses writes THIRD_PARTY.md: every module linked into the
// slotline binary, its version and its licence, recognised from the
// module's licence file, and fails when a licence is not one that an
// Apache-2.0 project may ship (or is not recognised). With -check it
// compares the file instead of writing it, which the tests do, so that the
// list cannot drift from go.mod. Run it with `make third-party` or
//
//	go run ./tools/licenses
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// compatible are the licences an Apache-2.0 binary may include, with a
// note where they bind the distributor.
var compatible = map[string]string{
	"Apache-2.0":   "",
	"MIT":          "",
	"BSD-2-Clause": "",
	"BSD-3-Clause": "",
	"ISC":          "",
	"MPL-2.0":      "file-level copyleft: changes to its files stay MPL-2.0; its source is at its module path",
}

// Module is one linked module with its licence.
type Module struct {
	Path, Version, License, File string
}

func main() {
	check := flag.Bool("check", false, "compare THIRD_PARTY.md with the modules instead of writing it")
	out := flag.String("o", "THIRD_PARTY.md", "the file to write or check")
	flag.Parse()
	if err := run(context.Background(), *out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "licenses:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string, check bool) error {
	mods, err := Modules(ctx, "./cmd/slotline")
	if err != nil {
		return err
	}
	body := Render(mods)
	if check {
		have, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if !bytes.Equal(have, body) {
			return fmt.Errorf("%s is out of date: run go run ./tools/licenses", out)
		}
		return nil
	}
	return os.WriteFile(out, body, 0o644)
}

// Modules lists the modules linked into pkg (not the main module) with
// their licences; an unrecognised or incompatible licence is an error.
func Modules(ctx context.Context, pkg string) ([]Module, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}\t{{.Version}}\t{{.Dir}}{{with .Replace}}\t{{.Version}}\t{{.Dir}}{{end}}{{end}}{{end}}", pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	seen := map[string]bool{}
	var mods []Module
	var errs []error
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		m := Module{Path: f[0], Version: f[1]}
		dir := f[2]
		if len(f) == 5 {
			m.Version, dir = f[3], f[4]
		}
		m.License, m.File, err = identify(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Path, err))
		} else if _, ok := compatible[m.License]; !ok {
			errs = append(errs, fmt.Errorf("%s: %s is not a licence this project may ship", m.Path, m.License))
		}
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, errors.Join(errs...)
}

// identify finds a module's licence file and names its licence.
func identify(dir string) (license, file string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", "", err
	}
	var names []string
	for _, e := range entries {
		n := strings.ToUpper(e.Name())
		if !e.IsDir() && (strings.HasPrefix(n, "LICENSE") || strings.HasPrefix(n, "LICENCE") || strings.HasPrefix(n, "COPYING")) {
			names = append(names, e.Name())
		}
	}
	// LICENSE itself first, then the others in order.
	sort.Slice(names, func(i, j int) bool {
		return len(names[i]) < len(names[j]) || len(names[i]) == len(names[j]) && names[i] < names[j]
	})
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", "", err
		}
		if l := classify(string(b)); l != "" {
			return l, n, nil
		}
	}
	if len(names) == 0 {
		return "", "", errors.New("no licence file")
	}
	return "", "", fmt.Errorf("licence not recognised in %s", strings.Join(names, ", "))
}

// classify names the licence of a licence text by its defining phrases.
func classify(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	has := func(s string) bool { return strings.Contains(t, s) }
	switch {
	case has("Apache License") && has("Version 2.0"):
		return "Apache-2.0"
	case has("Mozilla Public License Version 2.0") || has("Mozilla Public License, version 2.0"):
		return "MPL-2.0"
	case has("Permission is hereby granted, free of charge"):
		return "MIT"
	case has("Permission to use, copy, modify, and/or distribute this software for any purpose") ||
		has("Permission to use, copy, modify, and distribute this software for any purpose"):
		return "ISC"
	case has("Redistribution and use in source and binary forms") && (has("Neither the name") || has("names of its contributors")):
		return "BSD-3-Clause"
	case has("Redistribution and use in source and binary forms"):
		return "BSD-2-Clause"
	}
	return ""
}

// Render is THIRD_PARTY.md for mods.
func Render(mods []Module) []byte {
	var b bytes.Buffer
	b.WriteString("# Third-party software\n\n")
	b.WriteString("Slotline is licensed under the Apache License 2.0 (`LICENSE`). The `slotline` binary links the Go\n")
	b.WriteString("modules below; each is under the licence named, whose text is in the module's licence file (at the\n")
	b.WriteString("module path and version given). Generated by `go run ./tools/licenses` from the modules the binary\n")
	b.WriteString("links; a test fails when it is out of date or a licence is not one an Apache-2.0 project may ship.\n\n")
	b.WriteString("| Module | Version | Licence | File |\n|---|---|---|---|\n")
	count := map[string]int{}
	for _, m := range mods {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", m.Path, m.Version, m.License, m.File)
		count[m.License]++
	}
	b.WriteString("\n")
	var ls []string
	for l := range count {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	for _, l := range ls {
		fmt.Fprintf(&b, "- %s: %d module(s)", l, count[l])
		if note := compatible[l]; note != "" {
			fmt.Fprintf(&b, " (%s)", note)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nThe browser code in `internal/webassets/dist` is Slotline's own, bundled without third-party\nruntime code; `internal/browsertest/testdata/axe.min.js` (axe-core, MPL-2.0) is used by the tests\nonly and is not part of the binary.\n")
	return b.Bytes()
}
