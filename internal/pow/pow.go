// SPDX-License-Identifier: Apache-2.0

// Package pow is Slotline's proof of work, in the ALTCHA scheme: a bot
// guard with no third party. The server hands out a challenge: a salt
// that embeds its expiry, the SHA-256 of the salt followed by a secret
// number n in [0, maxnumber], and an HMAC of that hash under a key only
// the servers know. The client finds n by trying numbers until the hash
// matches (on average maxnumber/2 hashes: the cost) and sends the
// challenge back with its number. Verify checks the HMAC, the hash, the
// expiry and, through a SpentStore shared by every process of the
// deployment, that the salt was never spent before.
package pow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only hash the challenges use.
const Algorithm = "SHA-256"

// Defaults of Config.
const (
	DefaultMaxNumber = 50_000
	DefaultTTL       = 5 * time.Minute
)

// maxPayload bounds the base64 payload Verify reads; a real one is about
// 400 bytes.
const maxPayload = 2048

// Errors of Verify.
var (
	// ErrMissing is returned when no proof is given.
	ErrMissing = errors.New("pow: no proof of work")
	// ErrInvalid is returned for a proof that is malformed, does not
	// solve its challenge, was not signed by this deployment, has expired
	// or was spent before.
	ErrInvalid = errors.New("pow: invalid proof of work")
)

// SpentStore records the salts of the proofs spent. SpendProof records
// salt, to be kept until expires, and reports whether it was new (true)
// or had been spent before (false); it must be atomic across every
// process that verifies proofs of the deployment.
type SpentStore interface {
	SpendProof(ctx context.Context, salt string, expires time.Time) (fresh bool, err error)
}

// Config configures an Issuer.
type Config struct {
	// Key signs the challenges; every process of a deployment must have
	// the same one.
	Key []byte
	// MaxNumber is the largest secret number (default DefaultMaxNumber):
	// a client tries about MaxNumber/2 hashes on average.
	MaxNumber int
	// TTL is how long a challenge can be solved and spent (default
	// DefaultTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Spent makes each proof single-use; nil accepts a proof as often as
	// it is shown before it expires (meant for tests).
	Spent SpentStore
}

// Issuer makes challenges and verifies their solutions.
type Issuer struct {
	key       []byte
	maxNumber int
	ttl       time.Duration
	now       func() time.Time
	spent     SpentStore
}

// New returns an Issuer configured by cfg.
func New(cfg Config) *Issuer {
	if cfg.MaxNumber <= 0 {
		cfg.MaxNumber = DefaultMaxNumber
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{key: cfg.Key, maxNumber: cfg.MaxNumber, ttl: cfg.TTL, now: cfg.Now, spent: cfg.Spent}
}

// Challenge is a challenge as the client receives it (JSON).
type Challenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	MaxNumber int    `json:"maxnumber"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// Solution is what the client sends back, base64 of its JSON.
type Solution struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	Number    int    `json:"number"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// MaxNumber returns the largest secret number of the challenges.
func (i *Issuer) MaxNumber() int { return i.maxNumber }

// Challenge returns a new challenge, valid for the Issuer's TTL.
func (i *Issuer) Challenge() Challenge {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	salt := hex.EncodeToString(b[:]) + "?expires=" + strconv.FormatInt(i.now().Add(i.ttl).Unix(), 10)
	n := secretNumber(i.maxNumber)
	ch := Hash(salt, n)
	return Challenge{Algorithm: Algorithm, Challenge: ch, MaxNumber: i.maxNumber, Salt: salt, Signature: i.sign(ch)}
}

// secretNumber returns a uniform random number in [0, max].
func secretNumber(max int) int {
	bound := uint64(max) + 1
	limit := ^uint64(0) - (^uint64(0) % bound) // reject above it: no bias
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint64(b[:]); v < limit {
			return int(v % bound)
		}
	}
}

// Hash returns hex(SHA-256(salt + decimal(n))), the challenge of n.
func Hash(salt string, n int) string {
	sum := sha256.Sum256([]byte(salt + strconv.Itoa(n)))
	return hex.EncodeToString(sum[:])
}

func (i *Issuer) sign(challenge string) string {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(challenge))
	return hex.EncodeToString(m.Sum(nil))
}

// Solve finds the number of c by trying every one up to c.MaxNumber, as
// a client does; ok is false when none matches. Tests and tools use it.
func Solve(c Challenge) (n int, ok bool) {
	for n := 0; n <= c.MaxNumber; n++ {
		if Hash(c.Salt, n) == c.Challenge {
			return n, true
		}
	}
	return 0, false
}

// Encode returns the payload of a solution: base64 of its JSON.
func Encode(s Solution) string {
	b, _ := json.Marshal(s) // a struct of strings and an int
	return base64.StdEncoding.EncodeToString(b)
}

// Verify checks a payload (base64, standard or URL alphabet, padded or
// not, of a Solution's JSON): the algorithm, the signature (in constant
// time), that the number solves the challenge, the expiry in the salt and,
// last, that the salt was never spent, which spends it. It returns
// ErrMissing for an empty payload, ErrInvalid (wrapped, saying why) for a
// bad one, and the SpentStore's error otherwise.
func (i *Issuer) Verify(ctx context.Context, payload string) error {
	payload = strings.TrimSpace(payload)
	if payload == "" {
		return ErrMissing
	}
	if len(payload) > maxPayload {
		return invalid("the payload is too long")
	}
	raw, err := decodeBase64(payload)
	if err != nil {
		return invalid("the payload is not base64")
	}
	var s Solution
	if err := json.Unmarshal(raw, &s); err != nil {
		return invalid("the payload is not the JSON of a solution")
	}
	if s.Algorithm != Algorithm {
		return invalid("the algorithm is not " + Algorithm)
	}
	want, err := hex.DecodeString(i.sign(s.Challenge))
	if err != nil {
		return err // our own hex
	}
	got, err := hex.DecodeString(s.Signature)
	if err != nil || !hmac.Equal(got, want) {
		return invalid("the signature does not match")
	}
	if s.Number < 0 || s.Number > i.maxNumber || Hash(s.Salt, s.Number) != s.Challenge {
		return invalid("the number does not solve the challenge")
	}
	expires, ok := saltExpiry(s.Salt)
	if !ok {
		return invalid("the salt has no expiry")
	}
	if !i.now().Before(expires) {
		return invalid("the challenge has expired")
	}
	if i.spent == nil {
		return nil
	}
	fresh, err := i.spent.SpendProof(ctx, s.Salt, expires)
	if err != nil {
		return fmt.Errorf("spend proof of work: %w", err)
	}
	if !fresh {
		return invalid("the proof was used before")
	}
	return nil
}

func invalid(why string) error { return fmt.Errorf("%w: %s", ErrInvalid, why) }

// saltExpiry reads the expires parameter of a salt made by Challenge.
func saltExpiry(salt string) (time.Time, bool) {
	_, query, ok := strings.Cut(salt, "?")
	if !ok {
		return time.Time{}, false
	}
	for part := range strings.SplitSeq(query, "&") {
		if v, ok := strings.CutPrefix(part, "expires="); ok {
			secs, err := strconv.ParseInt(v, 10, 64)
			if err != nil || secs <= 0 {
				return time.Time{}, false
			}
			return time.Unix(secs, 0), true
		}
	}
	return time.Time{}, false
}

// decodeBase64 accepts the standard and the URL alphabets, with or
// without padding.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
