package app

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dockerInstruction is one instruction of a Dockerfile, continuation
// lines joined.
type dockerInstruction struct{ op, args string }

func readDockerfile(t *testing.T, path string) []dockerInstruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dockerInstruction
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur += more + " "
			continue
		}
		cur += line
		op, args, _ := strings.Cut(cur, " ")
		out = append(out, dockerInstruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfile holds the container recipe to what docs/operations.md
// promises, as far as a machine without a Docker daemon can check: a
// multi-stage build from local files, a distroless final stage with no
// shell step, a non-root user, the database in the volume, the health
// check through the binary; then it runs the build stage's own go build
// line and starts the result with the image's environment, entrypoint and
// command, and runs its HEALTHCHECK command against it. Where a Docker
// daemon answers, it also builds the image.
func TestDockerfile(t *testing.T) {
	root := filepath.Join("..", "..")
	ins := readDockerfile(t, filepath.Join(root, "Dockerfile"))
	var froms []int
	for i, in := range ins {
		if in.op == "FROM" {
			froms = append(froms, i)
		}
		if in.op == "ADD" {
			t.Errorf("ADD %s: the image builds from local files with COPY only", in.args)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("not a multi-stage build: %d FROM", len(froms))
	}
	final := ins[froms[len(froms)-1]:]
	if base := final[0].args; !strings.Contains(base, "distroless") && base != "scratch" {
		t.Errorf("final stage FROM %s: want distroless or scratch", base)
	}
	get := func(op string) []string {
		var out []string
		for _, in := range final {
			if in.op == op {
				out = append(out, in.args)
			}
		}
		return out
	}
	if runs := get("RUN"); len(runs) > 0 {
		t.Errorf("the final stage runs %q: a distroless base has no shell", runs)
	}
	users := get("USER")
	if len(users) == 0 || regexp.MustCompile(`^(0|root)(:|$)`).MatchString(users[len(users)-1]) {
		t.Errorf("final stage USER %v: want a non-root user", users)
	}
	if v := get("VOLUME"); len(v) != 1 || v[0] != "/data" {
		t.Errorf("VOLUME %v, want /data", v)
	}
	env := map[string]string{}
	for _, e := range get("ENV") {
		for _, kv := range strings.Fields(e) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	if !strings.HasPrefix(env["SLOTLINE_DB"], "sqlite:/data/") {
		t.Errorf("ENV SLOTLINE_DB=%q: the database belongs in the volume", env["SLOTLINE_DB"])
	}
	hc := get("HEALTHCHECK")
	if len(hc) != 1 || !strings.Contains(hc[0], `CMD ["/slotline", "healthcheck"]`) {
		t.Fatalf("HEALTHCHECK %v, want the binary's healthcheck", hc)
	}
	if e, c := get("ENTRYPOINT"), get("CMD"); len(e) != 1 || e[0] != `["/slotline"]` || len(c) != 1 || c[0] != `["serve"]` {
		t.Errorf("ENTRYPOINT %v CMD %v, want /slotline serve", e, c)
	}
	ignored, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range final {
		if in.op != "COPY" || strings.Contains(in.args, "--from=") {
			continue
		}
		files := strings.Fields(in.args)
		for _, f := range files[:len(files)-1] {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("COPY %s: %v", f, err)
			}
			if regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f) + `$`).Match(ignored) {
				t.Errorf("COPY %s, which .dockerignore leaves out", f)
			}
		}
	}

	// The build stage's go build line, as the image runs it.
	var build string
	for _, in := range ins[:froms[len(froms)-1]] {
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			build, _, _ = strings.Cut(in.args, " && ")
		}
	}
	if build == "" || !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "-trimpath") {
		t.Fatalf("the build stage's go build %q: want CGO_ENABLED=0 and -trimpath", build)
	}
	if testing.Short() {
		t.Skip("-short: not building the image's binary")
	}
	out := t.TempDir()
	build = strings.ReplaceAll(build, "/out/slotline", filepath.Join(out, "slotline"))
	build = strings.ReplaceAll(build, "${VERSION}", "v0.0.0-image-test")
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	bin := filepath.Join(out, "slotline")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the image's binary is dynamically linked: it would not start on distroless/static")
		}
	}
	f.Close()
	if b, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.Contains(string(b), "v0.0.0-image-test") {
		t.Errorf("version: %v %s", err, b)
	}

	// The image's environment with the container's port on a free one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	imageEnv := []string{
		"SLOTLINE_ADDR=" + strings.Replace(env["SLOTLINE_ADDR"], ":8080", ":"+strconv.Itoa(port), 1),
		"SLOTLINE_DB=" + strings.Replace(env["SLOTLINE_DB"], "/data/", data+"/", 1),
		"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"),
	}
	ctx, cancel := context.WithCancel(t.Context())
	serve := exec.CommandContext(ctx, bin, "serve") // ENTRYPOINT + CMD
	serve.Env = imageEnv
	serve.Cancel = func() error { return serve.Process.Signal(os.Interrupt) } // STOPSIGNAL
	serve.WaitDelay = 30 * time.Second
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := serve.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("serve: %v", err)
		}
	})
	health := func() error {
		c := exec.Command(bin, "healthcheck") // the HEALTHCHECK's CMD
		c.Env = imageEnv
		if b, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, b)
		}
		return nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := health()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HEALTHCHECK never passed: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // polling for the listener
	}
	if _, err := os.Stat(filepath.Join(data, "slotline.db")); err != nil {
		t.Errorf("the database is not in the volume: %v", err)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/book/queue_12345")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the sandbox booking page: %s", resp.Status)
	}

	if exec.Command("docker", "info").Run() != nil {
		t.Log("no Docker daemon answers here: the image itself was not built (docker build -t slotline . where one does)")
		return
	}
	if b, err := exec.Command("docker", "build", "-q", "-t", "slotline:test", root).CombinedOutput(); err != nil {
		t.Errorf("docker build: %v\n%s", err, b)
	}
}
