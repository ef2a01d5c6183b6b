package app

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestInProcessRun drives Run itself (no binary) for a quick check of
// the plumbing and of a clean shutdown on context cancel.
func TestInProcessRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stdout syncBuffer
	done := make(chan error, 1)
	dir := t.TempDir()
	go func() {
		done <- Run(ctx, []string{"slotline", "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "x.db")},
			func(string) string { return "" }, nil, &stdout, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var url string
	for sc.Scan() {
		if m := regexp.MustCompile(`"url":"([^"]+)"`).FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	resp, err := http.Get(url + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz = %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestBenchMoved: the product binary carries no benchmarks; "slotline
// bench" says where they went and exits as a usage error.
func TestBenchMoved(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"slotline", "bench", "admit"}, func(string) string { return "" }, nil, &stdout, &stderr)
	if err == nil || ExitCode(err) != 2 || !strings.Contains(stderr.String(), "go run ./cmd/slotline-bench admit") {
		t.Errorf("slotline bench = %v (exit %d), stderr %q; want a usage error naming slotline-bench", err, ExitCode(err), stderr.String())
	}
}
