// SPDX-License-Identifier: Apache-2.0

// Package password hashes and checks the operators' passwords: argon2id in
// the PHC string form ($argon2id$v=19$m=…,t=…,p=…$salt$hash, what Hash
// makes) or bcrypt ($2a$, $2b$, $2y$). Nothing else is a password hash
// here: a plain password in the config file is refused by Parse.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// The parameters of the hashes Hash makes: RFC 9106's second recommended
// option (64 MiB, three passes, four lanes), a 16-byte salt and a 32-byte
// key.
const (
	Memory  = 64 * 1024 // KiB
	Time    = 3
	Threads = 4
	saltLen = 16
	keyLen  = 32
)

// Bounds on the parameters a configured argon2id hash may ask for, so that
// a mistyped hash cannot make every sign-in take minutes or gigabytes.
const (
	maxMemory = 1024 * 1024 // 1 GiB
	maxTime   = 16
)

// Hash is a parsed password hash.
type Hash struct {
	kind string // "argon2id" or "bcrypt"
	// argon2id
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
	// bcrypt
	bcrypt []byte
}

// ErrFormat is returned by Parse for a string that is no supported hash.
var ErrFormat = errors.New("not an argon2id ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or bcrypt ($2a$, $2b$) hash")

// Parse parses an argon2id PHC string or a bcrypt hash. Errors wrap
// ErrFormat and never quote s.
func Parse(s string) (*Hash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil || len(s) != 60 {
			return nil, fmt.Errorf("%w: the bcrypt hash is malformed", ErrFormat)
		}
		return &Hash{kind: "bcrypt", bcrypt: []byte(s)}, nil
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, fmt.Errorf("%w: only the argon2id variant is accepted", ErrFormat)
	}
	return nil, ErrFormat
}

func parseArgon2id(s string) (*Hash, error) {
	bad := func(what string) (*Hash, error) { return nil, fmt.Errorf("%w: %s", ErrFormat, what) }
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 {
		return bad("the argon2id hash needs six $-separated parts")
	}
	if parts[2] != "v=19" {
		return bad("the argon2id version must be v=19")
	}
	h := &Hash{kind: "argon2id"}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || seen[k] {
			return bad("the argon2id parameters must be m=…,t=…,p=…")
		}
		seen[k] = true
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("p is at most 255")
			}
			h.threads = uint8(n)
		default:
			return bad("unknown argon2id parameter " + strconv.Quote(k))
		}
	}
	switch {
	case !seen["m"] || !seen["t"] || !seen["p"]:
		return bad("the argon2id parameters must be m=…,t=…,p=…")
	case h.threads < 1, h.time < 1 || h.time > maxTime, h.memory < 8*uint32(h.threads) || h.memory > maxMemory:
		return bad("the argon2id parameters are out of range (t 1 to 16, m at most 1 GiB)")
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return bad("the argon2id salt must be base64 (no padding), at least 8 bytes")
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return bad("the argon2id hash must be base64 (no padding), 16 to 64 bytes")
	}
	return h, nil
}

// Verify reports whether password matches h, comparing in constant time.
func (h *Hash) Verify(password string) bool {
	if h.kind == "bcrypt" {
		return bcrypt.CompareHashAndPassword(h.bcrypt, []byte(password)) == nil
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// New returns the argon2id PHC string of password with a random salt and
// the package's parameters.
func New(password string) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, Time, Memory, Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, Memory, Time, Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Dummy returns a hash of a random password with h's parameters, for
// checking a password of an unknown user as long as a known one's.
func (h *Hash) Dummy() *Hash {
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	if h.kind == "bcrypt" {
		cost, _ := bcrypt.Cost(h.bcrypt)
		b, err := bcrypt.GenerateFromPassword(pw, cost)
		if err == nil {
			return &Hash{kind: "bcrypt", bcrypt: b}
		}
	}
	d := &Hash{kind: "argon2id", memory: h.memory, time: h.time, threads: h.threads, salt: make([]byte, saltLen)}
	if h.kind != "argon2id" {
		d.memory, d.time, d.threads = Memory, Time, Threads
	}
	_, _ = rand.Read(d.salt)
	d.key = argon2.IDKey(pw, d.salt, d.time, d.memory, d.threads, keyLen)
	return d
}
