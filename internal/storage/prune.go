package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/audit"
)

// Retention of the event log and the audit log (retention.events and
// retention.audit): old rows are deleted in batches, each its own short
// transaction, so that the writer is never held for long.

// pruneBatch is how many rows one pruning transaction deletes.
const pruneBatch = 5000

// PruneEvents deletes the events that occurred before before, but never
// one that a durable stream cursor updated since cursorsSince has not
// acknowledged, nor one that a pending webhook delivery still has to send
// (their rows read the event). A cursor that has not moved since
// cursorsSince is abandoned and holds nothing back. It returns how many
// events it deleted and the sequence number below which none is left.
func (s *Store) PruneEvents(ctx context.Context, before, cursorsSince time.Time) (deleted, upTo int64, err error) {
	var limit sql.NullInt64
	if err := s.reader().queryRow(ctx, "SELECT max(seq) FROM events WHERE occurred_at < $1", micros(before)).Scan(&limit); err != nil {
		return 0, 0, fmt.Errorf("prune events: %w", err)
	}
	if !limit.Valid {
		return 0, 0, nil
	}
	upTo = limit.Int64
	var cursor, pending sql.NullInt64
	if err := s.reader().queryRow(ctx, "SELECT min(seq) FROM stream_cursors WHERE updated_at >= $1", micros(cursorsSince)).Scan(&cursor); err != nil {
		return 0, 0, fmt.Errorf("prune events: read cursors: %w", err)
	}
	if cursor.Valid && cursor.Int64 < upTo {
		upTo = cursor.Int64 // acknowledged up to and including it
	}
	if err := s.reader().queryRow(ctx, "SELECT min(event_seq) FROM webhook_deliveries WHERE status = $1", DeliveryPending).Scan(&pending); err != nil {
		return 0, 0, fmt.Errorf("prune events: read deliveries: %w", err)
	}
	if pending.Valid && pending.Int64-1 < upTo {
		upTo = pending.Int64 - 1
	}
	for {
		var n int64
		err := s.inTx(ctx, func(tx *Tx) error {
			var first sql.NullInt64
			if err := tx.queryRow(ctx, "SELECT min(seq) FROM events").Scan(&first); err != nil || !first.Valid {
				return err
			}
			var err error
			n, err = tx.exec(ctx, "DELETE FROM events WHERE seq >= $1 AND seq < $2 AND seq <= $3", first.Int64, first.Int64+pruneBatch, upTo)
			return err
		})
		if err != nil {
			return deleted, upTo, fmt.Errorf("prune events: %w", err)
		}
		deleted += n
		if n == 0 {
			return deleted, upTo, nil
		}
	}
}

// SetAuditKey sets the key that signs the audit log's checkpoints (derived
// from the deployment's secret) and checks them in VerifyAudit.
func (s *Store) SetAuditKey(key []byte) {
	k := append([]byte(nil), key...)
	s.auditKey.Store(&k)
}

// AuditCheckpoint is the newest pruned prefix of the audit chain: its last
// entry's sequence number, hash and time, when it was pruned, how many
// entries the pruning deleted, and the MAC over the first three.
type AuditCheckpoint struct {
	Seq       int64
	Hash      string
	EntryAt   time.Time
	CreatedAt time.Time
	Pruned    int64
	MAC       string
}

func (s *Store) checkpointMAC(cp *AuditCheckpoint) (string, error) {
	k := s.auditKey.Load()
	if k == nil || len(*k) == 0 {
		return "", errors.New("the audit log's checkpoints need the deployment's key (the self-service secret): run with the server's configuration")
	}
	m := hmac.New(sha256.New, *k)
	m.Write([]byte("slotline audit checkpoint v1\n" + strconv.FormatInt(cp.Seq, 10) + "\n" + cp.Hash + "\n" +
		strconv.FormatInt(cp.EntryAt.UnixMicro(), 10)))
	return hex.EncodeToString(m.Sum(nil)), nil
}

func (s *Store) checkCheckpoint(cp *AuditCheckpoint) error {
	want, err := s.checkpointMAC(cp)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(cp.MAC)) {
		return &audit.BrokenError{Seq: cp.Seq, Reason: "the checkpoint of the pruned entries up to it is not signed with this deployment's key (forged or edited)"}
	}
	return nil
}

// auditCheckpoint reads the newest checkpoint (nil without one).
func (s *Store) auditCheckpoint(ctx context.Context) (*AuditCheckpoint, error) {
	var cp AuditCheckpoint
	var at, created int64
	err := s.reader().queryRow(ctx, "SELECT seq, hash, entry_at, created_at, pruned, mac FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").
		Scan(&cp.Seq, &cp.Hash, &at, &created, &cp.Pruned, &cp.MAC)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, errNoRows) {
		return nil, nil
	}
	// A database from before migration 0022 has no checkpoints table, and
	// so no checkpoint (audit verify of an older database).
	if err != nil && (strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "42P01")) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit checkpoint: %w", err)
	}
	cp.EntryAt, cp.CreatedAt = instant(at), instant(created)
	return &cp, nil
}

// AuditCheckpoint returns the newest checkpoint of the audit log (nil
// when nothing was pruned).
func (s *Store) AuditCheckpoint(ctx context.Context) (*AuditCheckpoint, error) {
	return s.auditCheckpoint(ctx)
}

// PruneAudit deletes the audit entries recorded before before, after
// checking the chain up to the last of them, and leaves a signed
// checkpoint of that entry in the same transaction as the first batch,
// so that the rest of the chain stays verifiable (VerifyAudit starts
// from it). It returns how many entries it deleted.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, now time.Time) (int64, error) {
	var last sql.NullInt64
	if err := s.reader().queryRow(ctx, "SELECT max(seq) FROM audit_log WHERE at < $1", micros(before)).Scan(&last); err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	if !last.Valid {
		return 0, nil
	}
	prev, err := s.auditCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	// Only an intact chain is pruned: a break found later could no longer
	// be shown.
	if _, err := s.VerifyAudit(ctx); err != nil {
		return 0, fmt.Errorf("prune audit log: the chain does not verify, nothing pruned: %w", err)
	}
	cp, first := prev, false
	if prev == nil || prev.Seq < last.Int64 {
		cp, first = &AuditCheckpoint{Seq: last.Int64, CreatedAt: now}, true
		var at int64
		if err := s.reader().queryRow(ctx, "SELECT hash, at FROM audit_log WHERE seq = $1", cp.Seq).Scan(&cp.Hash, &at); err != nil {
			return 0, fmt.Errorf("prune audit log: %w", err)
		}
		cp.EntryAt = instant(at)
		if err := s.reader().queryRow(ctx, "SELECT count(*) FROM audit_log WHERE seq <= $1", cp.Seq).Scan(&cp.Pruned); err != nil {
			return 0, fmt.Errorf("prune audit log: %w", err)
		}
		if cp.MAC, err = s.checkpointMAC(cp); err != nil {
			return 0, err
		}
	}
	// The rows up to the checkpoint go (those a pruning stopped before
	// deleting too).
	var deleted int64
	for {
		var n int64
		err := s.inTx(ctx, func(tx *Tx) error {
			if first {
				if _, err := tx.exec(ctx, "INSERT INTO audit_checkpoints (seq, hash, entry_at, created_at, pruned, mac) VALUES ($1, $2, $3, $4, $5, $6)",
					cp.Seq, cp.Hash, micros(cp.EntryAt), micros(cp.CreatedAt), cp.Pruned, cp.MAC); err != nil {
					return err
				}
			}
			var lo sql.NullInt64
			if err := tx.queryRow(ctx, "SELECT min(seq) FROM audit_log").Scan(&lo); err != nil || !lo.Valid {
				return err
			}
			var err error
			n, err = tx.exec(ctx, "DELETE FROM audit_log WHERE seq >= $1 AND seq < $2 AND seq <= $3", lo.Int64, lo.Int64+pruneBatch, cp.Seq)
			return err
		})
		if err != nil {
			return deleted, fmt.Errorf("prune audit log: %w", err)
		}
		first = false
		deleted += n
		if n == 0 {
			return deleted, nil
		}
	}
}
