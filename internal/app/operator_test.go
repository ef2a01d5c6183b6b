package app

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/password"
)

func TestOperatorHash(t *testing.T) {
	t.Parallel()
	run := func(stdin string, args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := Run(context.Background(), append([]string{"slotline", "operator"}, args...), func(string) string { return "" },
			strings.NewReader(stdin), &out, &errb)
		return out.String(), errb.String(), err
	}
	out, _, err := run("s3cret pass\nsecond line\n", "hash")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(out)
	if !strings.HasPrefix(line, "$argon2id$v=19$m=65536,t=3,p=4$") || strings.Count(out, "\n") != 1 {
		t.Fatalf("output %q, want one argon2id PHC string", out)
	}
	h, err := password.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("s3cret pass") || h.Verify("second line") {
		t.Error("the hash is not of the first line")
	}
	if strings.Contains(out, "s3cret") {
		t.Error("the password is printed")
	}
	if _, _, err := run("", "hash"); err == nil || ExitCode(err) != 1 {
		t.Errorf("empty password: %v", err)
	}
	if _, _, err := run("x\n"); err == nil || ExitCode(err) != 2 {
		t.Errorf("no subcommand: %v, want a usage error", err)
	}
	if _, _, err := run("x\n", "hash", "pw"); err == nil || ExitCode(err) != 2 {
		t.Errorf("password as an argument: %v, want a usage error", err)
	}
}
