package password

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestNewVerify(t *testing.T) {
	t.Parallel()
	s := New("correct horse")
	if !strings.HasPrefix(s, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("New = %q", s)
	}
	h, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("correct horse") {
		t.Error("the password does not verify")
	}
	if h.Verify("correct horsE") {
		t.Error("another password verifies")
	}
	if New("correct horse") == s {
		t.Error("two hashes of one password are equal: no salt")
	}
}

func TestBcrypt(t *testing.T) {
	t.Parallel()
	b, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("pw") || h.Verify("px") {
		t.Error("bcrypt verification is wrong")
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	good := New("x")
	parts := strings.Split(good, "$")
	for _, s := range []string{
		"", "hunter2", "$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$" + strings.Join(parts[3:], "$"),
		"$argon2id$v=19$m=65536,t=3$" + strings.Join(parts[4:], "$"),
		"$argon2id$v=19$m=65536,t=0,p=4$" + strings.Join(parts[4:], "$"),
		"$argon2id$v=19$m=99999999,t=3,p=4$" + strings.Join(parts[4:], "$"),
		"$argon2id$v=19$m=65536,t=3,p=4$!!$" + parts[5],
		"$argon2id$v=19$m=65536,t=3,p=4$" + parts[4] + "$c2hvcnQ",
		"$2b$10$short", "$1$md5$hash", "{SHA}abc",
	} {
		if _, err := Parse(s); !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q) = %v, want ErrFormat", s, err)
		}
	}
}
