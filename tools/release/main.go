// SPDX-License-Identifier: Apache-2.0

// Command release builds Slotline's release archives, reproducibly: for
// each platform a static binary (CGO_ENABLED=0, -trimpath, -buildvcs=true,
// no build id), archived with the licence files and the README (tar.gz,
// zip for Windows) with fixed times, owners and order; SHA256SUMS of the
// archives; and a CycloneDX SBOM of each binary's modules, read from the
// binary's own build information. The same commit and Go version give the
// same bytes. Run it with `make release` or
//
//	go run ./tools/release -version v1.2.3 -out dist
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Platforms are the release's targets.
var Platforms = []string{"linux/amd64", "linux/arm64", "darwin/arm64", "windows/amd64"}

// extraFiles go into every archive beside the binary.
var extraFiles = []string{"LICENSE", "NOTICE", "THIRD_PARTY.md", "README.md", "CHANGELOG.md"}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	ver := fs.String("version", "", "the version to stamp (default: git describe --tags --always --dirty)")
	out := fs.String("out", "dist", "the directory to write the archives, SHA256SUMS and SBOMs to")
	only := fs.String("platforms", strings.Join(Platforms, ","), "comma-separated GOOS/GOARCH targets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := gitOutput(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return fmt.Errorf("the release is built from a git checkout: %w", err)
	}
	if *ver == "" {
		if *ver, err = gitOutput(ctx, "describe", "--tags", "--always", "--dirty"); err != nil {
			return err
		}
		if !strings.HasPrefix(*ver, "v") {
			*ver = "v0.0.0-" + *ver
		}
	}
	// Every file's time in the archives: the commit's, so that a rebuild
	// of the same commit gives the same bytes (SOURCE_DATE_EPOCH wins).
	epoch, err := sourceDate(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var sums []string
	for _, p := range strings.Split(*only, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q is not GOOS/GOARCH", p)
		}
		name, sbom, err := buildOne(ctx, root, *out, *ver, goos, goarch, epoch)
		if err != nil {
			return err
		}
		for _, f := range []string{name, sbom} {
			sum, err := fileSum(filepath.Join(*out, f))
			if err != nil {
				return err
			}
			sums = append(sums, sum+"  "+f)
		}
		fmt.Fprintln(stdout, "built", filepath.Join(*out, name))
	}
	sort.Slice(sums, func(i, j int) bool { return sums[i][66:] < sums[j][66:] })
	if err := os.WriteFile(filepath.Join(*out, "SHA256SUMS"), []byte(strings.Join(sums, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "wrote", filepath.Join(*out, "SHA256SUMS"))
	return nil
}

func gitOutput(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func sourceDate(ctx context.Context) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		var err error
		if s, err = gitOutput(ctx, "log", "-1", "--format=%ct"); err != nil {
			return time.Time{}, err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// buildOne builds and archives one platform; it returns the archive's and
// the SBOM's file names in out.
func buildOne(ctx context.Context, root, out, ver, goos, goarch string, epoch time.Time) (archive, sbom string, err error) {
	base := fmt.Sprintf("slotline_%s_%s_%s", strings.TrimPrefix(ver, "v"), goos, goarch)
	tmp, err := os.MkdirTemp("", "slotline-release")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	exe := "slotline"
	if goos == "windows" {
		exe += ".exe"
	}
	bin := filepath.Join(tmp, exe)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=true",
		"-ldflags", "-s -w -buildid= -X github.com/slotline/slotline/internal/app.version="+ver, "-o", bin, "./cmd/slotline")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("build %s/%s: %w", goos, goarch, err)
	}
	files := []archiveFile{{name: exe, path: bin, mode: 0o755}}
	for _, f := range extraFiles {
		p := filepath.Join(root, f)
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("%s belongs in every archive: %w", f, err)
		}
		files = append(files, archiveFile{name: f, path: p, mode: 0o644})
	}
	if goos == "windows" {
		archive = base + ".zip"
		err = writeZip(filepath.Join(out, archive), base, files, epoch)
	} else {
		archive = base + ".tar.gz"
		err = writeTarGz(filepath.Join(out, archive), base, files, epoch)
	}
	if err != nil {
		return "", "", err
	}
	sbom = base + ".cdx.json"
	b, err := cycloneDX(bin, ver, goos, goarch, epoch)
	if err != nil {
		return "", "", err
	}
	return archive, sbom, os.WriteFile(filepath.Join(out, sbom), b, 0o644)
}

type archiveFile struct {
	name, path string
	mode       int64
}

func writeTarGz(dst, dir string, files []archiveFile, at time.Time) error {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	gz.ModTime = at // the header's time; no name
	tw := tar.NewWriter(gz)
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: dir + "/" + f.name, Mode: f.mode, Size: int64(len(b)), ModTime: at, Typeflag: tar.TypeReg,
			Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

func writeZip(dst, dir string, files []archiveFile, at time.Time) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: dir + "/" + f.name, Method: zip.Deflate, Modified: at}
		h.SetMode(os.FileMode(f.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

func fileSum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// cycloneDX is a CycloneDX 1.5 SBOM of the binary: the application and
// every Go module linked into it, as the binary's build information lists
// them (so it cannot list what the binary does not contain).
func cycloneDX(bin, ver, goos, goarch string, at time.Time) ([]byte, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read the build information of %s: %w", bin, err)
	}
	type component struct {
		Type    string `json:"type"`
		BOMRef  string `json:"bom-ref"`
		Name    string `json:"name"`
		Version string `json:"version"`
		PURL    string `json:"purl"`
		Hashes  []struct {
			Alg     string `json:"alg"`
			Content string `json:"content"`
		} `json:"hashes,omitempty"`
	}
	app := component{Type: "application", BOMRef: "pkg:golang/" + info.Main.Path + "@" + ver, Name: info.Main.Path, Version: ver,
		PURL: "pkg:golang/" + info.Main.Path + "@" + ver + "?goos=" + goos + "&goarch=" + goarch}
	var comps []component
	deps := []string{}
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		c := component{Type: "library", BOMRef: "pkg:golang/" + m.Path + "@" + m.Version, Name: m.Path, Version: m.Version,
			PURL: "pkg:golang/" + m.Path + "@" + m.Version}
		if sum, ok := strings.CutPrefix(m.Sum, "h1:"); ok {
			// The go.sum hash: SHA-256 of the module's file tree listing.
			if raw, err := decodeBase64(sum); err == nil {
				c.Hashes = append(c.Hashes, struct {
					Alg     string `json:"alg"`
					Content string `json:"content"`
				}{"SHA-256", hex.EncodeToString(raw)})
			}
		}
		comps = append(comps, c)
		deps = append(deps, c.BOMRef)
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i].BOMRef < comps[j].BOMRef })
	sort.Strings(deps)
	doc := map[string]any{
		"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
		"serialNumber": "urn:uuid:" + uuidOf(app.PURL),
		"metadata": map[string]any{
			"timestamp":  at.Format(time.RFC3339),
			"tools":      map[string]any{"components": []map[string]string{{"type": "application", "name": "slotline tools/release"}}},
			"component":  app,
			"properties": []map[string]string{{"name": "go", "value": info.GoVersion}},
		},
		"components":   comps,
		"dependencies": []map[string]any{{"ref": app.BOMRef, "dependsOn": deps}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n'), err
}

// uuidOf is a name-based (version 5 style, SHA-256 truncated) UUID of s: the
// same release gets the same serial number.
func uuidOf(s string) string {
	h := sha256.Sum256([]byte("slotline sbom " + s))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
