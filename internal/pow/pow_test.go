package pow_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/pow"
)

// spent is an in-memory SpentStore.
type spent struct {
	mu    sync.Mutex
	salts map[string]time.Time
	err   error
}

func (s *spent) SpendProof(_ context.Context, salt string, expires time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if _, ok := s.salts[salt]; ok {
		return false, nil
	}
	s.salts[salt] = expires
	return true, nil
}

var key = []byte("a test key of the deployment")

type bundle struct {
	now    time.Time
	spent  *spent
	issuer *pow.Issuer
}

func setup(t *testing.T, max int) *bundle {
	t.Helper()
	b := &bundle{now: time.Date(2030, 6, 3, 14, 0, 0, 0, time.UTC), spent: &spent{salts: map[string]time.Time{}}}
	b.issuer = pow.New(pow.Config{Key: key, MaxNumber: max, TTL: 5 * time.Minute, Now: func() time.Time { return b.now }, Spent: b.spent})
	return b
}

// solve solves c as a client would and returns the solution.
func solve(t *testing.T, c pow.Challenge) pow.Solution {
	t.Helper()
	n, ok := pow.Solve(c)
	if !ok {
		t.Fatalf("no number solves %+v", c)
	}
	return pow.Solution{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: n, Salt: c.Salt, Signature: c.Signature}
}

func TestChallengeShape(t *testing.T) {
	t.Parallel()
	b := setup(t, 1000)
	c := b.issuer.Challenge()
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if c.Algorithm != "SHA-256" || c.MaxNumber != 1000 || !hex64.MatchString(c.Challenge) || !hex64.MatchString(c.Signature) {
		t.Errorf("challenge %+v", c)
	}
	wantExpiry := "?expires=" + strconv.FormatInt(b.now.Add(5*time.Minute).Unix(), 10)
	if !regexp.MustCompile(`^[0-9a-f]{24}\?expires=\d+$`).MatchString(c.Salt) || !strings.HasSuffix(c.Salt, wantExpiry) {
		t.Errorf("salt %q, want random hex and %s", c.Salt, wantExpiry)
	}
	// The signature is HMAC-SHA-256 of the challenge under the key.
	m := hmac.New(sha256.New, key)
	m.Write([]byte(c.Challenge))
	if c.Signature != hex.EncodeToString(m.Sum(nil)) {
		t.Error("the signature is not HMAC-SHA-256(key, challenge)")
	}
	// The JSON members are the ALTCHA ones.
	raw, _ := json.Marshal(c)
	var members map[string]any
	_ = json.Unmarshal(raw, &members)
	for _, k := range []string{"algorithm", "challenge", "maxnumber", "salt", "signature"} {
		if _, ok := members[k]; !ok {
			t.Errorf("JSON %s has no %s", raw, k)
		}
	}
	// The secret numbers spread over [0, max].
	seen := map[int]bool{}
	for range 50 {
		n, ok := pow.Solve(b.issuer.Challenge())
		if !ok || n < 0 || n > 1000 {
			t.Fatalf("number %d, %v", n, ok)
		}
		seen[n] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 challenges used only %d numbers", len(seen))
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	other := pow.New(pow.Config{Key: []byte("another deployment's key"), MaxNumber: 2000})
	for _, tt := range []struct {
		name    string
		payload func(t *testing.T, b *bundle) string
		wait    time.Duration // after the challenge, before Verify
		want    error
	}{
		{"valid", func(t *testing.T, b *bundle) string { return pow.Encode(solve(t, b.issuer.Challenge())) }, 0, nil},
		{"valid just before expiry", func(t *testing.T, b *bundle) string { return pow.Encode(solve(t, b.issuer.Challenge())) }, 5*time.Minute - time.Second, nil},
		{"url alphabet unpadded", func(t *testing.T, b *bundle) string {
			raw, _ := json.Marshal(solve(t, b.issuer.Challenge()))
			return base64.RawURLEncoding.EncodeToString(raw)
		}, 0, nil},
		{"empty", func(*testing.T, *bundle) string { return "  " }, 0, pow.ErrMissing},
		{"expired", func(t *testing.T, b *bundle) string { return pow.Encode(solve(t, b.issuer.Challenge())) }, 5 * time.Minute, pow.ErrInvalid},
		{"wrong number", func(t *testing.T, b *bundle) string {
			s := solve(t, b.issuer.Challenge())
			s.Number = (s.Number + 1) % 2001
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"number above max", func(t *testing.T, b *bundle) string {
			// A challenge of the deployment whose number is over its max.
			c := b.issuer.Challenge()
			s := solve(t, c)
			s.Number = 2001
			s.Challenge = pow.Hash(s.Salt, 2001)
			s.Signature = sign(s.Challenge)
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"negative number", func(t *testing.T, b *bundle) string {
			s := solve(t, b.issuer.Challenge())
			s.Number = -1
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"tampered signature", func(t *testing.T, b *bundle) string {
			s := solve(t, b.issuer.Challenge())
			s.Signature = strings.Repeat("0", 64)
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"signature not hex", func(t *testing.T, b *bundle) string {
			s := solve(t, b.issuer.Challenge())
			s.Signature = "zz"
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"another deployment's challenge", func(t *testing.T, b *bundle) string { return pow.Encode(solve(t, other.Challenge())) }, 0, pow.ErrInvalid},
		{"later expiry in the salt", func(t *testing.T, b *bundle) string {
			// Moving the expiry changes the hash, so the signature fails.
			s := solve(t, b.issuer.Challenge())
			base, _, _ := strings.Cut(s.Salt, "?")
			s.Salt = base + "?expires=" + strconv.FormatInt(b.now.Add(time.Hour).Unix(), 10)
			s.Challenge = pow.Hash(s.Salt, s.Number)
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"salt without expiry", func(t *testing.T, b *bundle) string {
			s := pow.Solution{Algorithm: "SHA-256", Salt: "abcdef", Number: 7}
			s.Challenge = pow.Hash(s.Salt, 7)
			s.Signature = sign(s.Challenge)
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"bad expiry", func(t *testing.T, b *bundle) string {
			s := pow.Solution{Algorithm: "SHA-256", Salt: "abcdef?expires=soon", Number: 7}
			s.Challenge = pow.Hash(s.Salt, 7)
			s.Signature = sign(s.Challenge)
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"other algorithm", func(t *testing.T, b *bundle) string {
			s := solve(t, b.issuer.Challenge())
			s.Algorithm = "SHA-1"
			return pow.Encode(s)
		}, 0, pow.ErrInvalid},
		{"not base64", func(*testing.T, *bundle) string { return "not base64!" }, 0, pow.ErrInvalid},
		{"not JSON", func(*testing.T, *bundle) string { return base64.StdEncoding.EncodeToString([]byte("[1,2]")) }, 0, pow.ErrInvalid},
		{"too long", func(*testing.T, *bundle) string { return strings.Repeat("A", 4000) }, 0, pow.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 2000)
			payload := tt.payload(t, b)
			b.now = b.now.Add(tt.wait)
			err := b.issuer.Verify(context.Background(), payload)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify() = %v, want %v", err, tt.want)
			}
			if tt.want == pow.ErrInvalid && errors.Is(err, pow.ErrMissing) {
				t.Errorf("Verify() = %v, want only ErrInvalid", err)
			}
		})
	}
}

// sign is the signature of the test key.
func sign(challenge string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(challenge))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifySpendsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 500)
	payload := pow.Encode(solve(t, b.issuer.Challenge()))
	ctx := context.Background()
	if err := b.issuer.Verify(ctx, payload); err != nil {
		t.Fatalf("first Verify() = %v", err)
	}
	if err := b.issuer.Verify(ctx, payload); !errors.Is(err, pow.ErrInvalid) || !strings.Contains(err.Error(), "used before") {
		t.Errorf("reused: Verify() = %v, want ErrInvalid (used before)", err)
	}
	if len(b.spent.salts) != 1 {
		t.Errorf("%d salts spent, want 1", len(b.spent.salts))
	}
	for salt, exp := range b.spent.salts {
		if !exp.Equal(b.now.Add(5 * time.Minute).Truncate(time.Second)) {
			t.Errorf("salt %s kept until %v, want the challenge's expiry", salt, exp)
		}
	}
	// A proof refused before the store is asked spends nothing.
	s := solve(t, b.issuer.Challenge())
	s.Number++
	_ = b.issuer.Verify(ctx, pow.Encode(s))
	if len(b.spent.salts) != 1 {
		t.Errorf("a wrong number was spent")
	}
	// The store's error is neither ErrMissing nor ErrInvalid.
	b.spent.err = errors.New("database down")
	err := b.issuer.Verify(ctx, pow.Encode(solve(t, b.issuer.Challenge())))
	if err == nil || errors.Is(err, pow.ErrInvalid) || errors.Is(err, pow.ErrMissing) {
		t.Errorf("store down: Verify() = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := pow.New(pow.Config{Key: key}).Challenge()
	if c.MaxNumber != pow.DefaultMaxNumber {
		t.Errorf("maxnumber %d, want %d", c.MaxNumber, pow.DefaultMaxNumber)
	}
	// Without a SpentStore a proof may be shown again until it expires.
	i := pow.New(pow.Config{Key: key, MaxNumber: 100})
	p := pow.Encode(solve(t, i.Challenge()))
	for range 2 {
		if err := i.Verify(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}
