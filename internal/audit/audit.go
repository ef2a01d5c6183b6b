// SPDX-License-Identifier: Apache-2.0

// Package audit defines Slotline's append-only audit log entries and their
// hash chain: each entry's hash covers its own fields and the previous
// entry's hash, so editing, removing or reordering any entry breaks the chain
// from that entry on. Storage appends entries; Verify checks a chain.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Outcomes of an audited action.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
)

// Entry is one audit record: who did what to which target, and how it ended.
type Entry struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`   // API client id, "genesys" or "system"
	Action  string    `json:"action"`  // for example "reservation.create"
	Target  string    `json:"target"`  // reservation id, queue id or client id
	Outcome string    `json:"outcome"` // OutcomeOK, OutcomeRefused
	// Detail is a JSON object with the particulars (reason, slot, request
	// id). Phone numbers in it are masked.
	Detail   string `json:"detail"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// ComputeHash returns the hash of e's fields chained to e.PrevHash. At is
// taken at microsecond precision, which is what storage keeps.
func (e *Entry) ComputeHash() string {
	sum := sha256.Sum256(e.hashInput(e.Seq, e.PrevHash))
	return hex.EncodeToString(sum[:])
}

// HashMiddle returns the part of what ComputeHash hashes that lies between
// the sequence number and the previous hash: the hash of e is the SHA-256
// of `{"seq":` + the decimal Seq + HashMiddle() + PrevHash + `"}`. A
// database that hands out the sequence numbers can so extend the chain
// itself, in the statement that takes its head, without a round trip.
func (e *Entry) HashMiddle() string {
	b := e.hashInput(0, "")
	return string(b[len(`{"seq":0`) : len(b)-len(`"}`)])
}

func (e *Entry) hashInput(seq int64, prev string) []byte {
	b, _ := json.Marshal(struct {
		Seq     int64  `json:"seq"`
		At      int64  `json:"at"`
		Actor   string `json:"actor"`
		Action  string `json:"action"`
		Target  string `json:"target"`
		Outcome string `json:"outcome"`
		Detail  string `json:"detail"`
		Prev    string `json:"prev"`
	}{seq, e.At.UnixMicro(), e.Actor, e.Action, e.Target, e.Outcome, e.Detail, prev})
	return b
}

// Seal sets e's sequence number, previous hash and hash, following prev
// (the chain's last entry's sequence and hash; 0 and "" for the first).
func (e *Entry) Seal(prevSeq int64, prevHash string) {
	e.Seq = prevSeq + 1
	e.PrevHash = prevHash
	e.Hash = e.ComputeHash()
}

// Head is the chain's last sequence number and hash, kept apart from the
// entries so that removing entries at the end is detected too.
type Head struct {
	Seq  int64
	Hash string
}

// BrokenError says where a chain stops being valid.
type BrokenError struct {
	Seq    int64 // the first entry (or expected entry) that is wrong
	Reason string
}

// Error implements error.
func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit chain broken at entry %d: %s", e.Seq, e.Reason)
}

// Verifier checks entries one by one, in the order they are stored.
type Verifier struct {
	seq   int64
	hash  string
	count int64
}

// Add checks the next entry. It returns a *BrokenError for the first entry
// that was edited, removed or reordered.
func (v *Verifier) Add(e Entry) error {
	want := v.seq + 1
	switch {
	case e.Seq != want:
		if e.Seq > want {
			return &BrokenError{want, fmt.Sprintf("entry missing (next stored entry is %d)", e.Seq)}
		}
		return &BrokenError{e.Seq, fmt.Sprintf("out of order (after entry %d)", v.seq)}
	case e.PrevHash != v.hash:
		return &BrokenError{e.Seq, "does not follow the previous entry (removed, reordered or edited before it)"}
	case e.ComputeHash() != e.Hash:
		return &BrokenError{e.Seq, "contents do not match its hash (edited)"}
	}
	v.seq, v.hash = e.Seq, e.Hash
	v.count++
	return nil
}

// Finish checks the chain's end against the stored head.
func (v *Verifier) Finish(h Head) error {
	if h.Seq != v.seq {
		if h.Seq > v.seq {
			return &BrokenError{v.seq + 1, fmt.Sprintf("entries %d to %d are missing", v.seq+1, h.Seq)}
		}
		return &BrokenError{h.Seq + 1, "entries beyond the recorded head were added"}
	}
	if h.Hash != v.hash {
		return &BrokenError{v.seq, "last entry does not match the recorded head"}
	}
	return nil
}

// StartAt returns a verifier of a chain whose entries up to seq were
// pruned, the last of them with hash: the next entry must be seq+1 and
// follow hash.
func StartAt(seq int64, hash string) Verifier { return Verifier{seq: seq, hash: hash} }

// Count returns how many entries have been checked.
func (v *Verifier) Count() int64 { return v.count }
