package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// EraseNumbers erases the phone number and customer name of every finished
// reservation (completed, missed, canceled, failed) last changed before t,
// from the reservation, its events and its stored idempotent responses. It
// returns how many reservations it erased, and records one audit entry per
// batch.
func (s *Store) EraseNumbers(ctx context.Context, before time.Time) (int, error) {
	final := []string{}
	for _, st := range reservation.Statuses {
		if st.Final() {
			final = append(final, "'"+string(st)+"'")
		}
	}
	total := 0
	for {
		var n int
		err := s.inTx(ctx, func(tx *Tx) error {
			rs, err := tx.query(ctx, `SELECT id FROM reservations WHERE status IN (`+strings.Join(final, ", ")+`)
				AND updated_at < $1 AND (callback_number <> '' OR customer_name <> '') ORDER BY pk LIMIT 100`, micros(before))
			if err != nil {
				return fmt.Errorf("find reservations to erase: %w", err)
			}
			var ids []string
			for rs.Next() {
				var id string
				if err := rs.Scan(&id); err != nil {
					rs.Close()
					return err
				}
				ids = append(ids, id)
			}
			rs.Close()
			if err := rs.Err(); err != nil {
				return err
			}
			for _, id := range ids {
				if err := eraseOne(ctx, tx, id); err != nil {
					return err
				}
			}
			n = len(ids)
			if n == 0 {
				return nil
			}
			return s.appendLog(ctx, tx, nil, &audit.Entry{
				At: time.Now().UTC(), Actor: "system", Action: "retention.erase_numbers", Target: "reservations",
				Outcome: audit.OutcomeOK, Detail: auditDetail("count", n, "before", before.UTC().Format(time.RFC3339)),
			})
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < 100 {
			return total, nil
		}
	}
}

func eraseOne(ctx context.Context, tx *Tx, id string) error {
	if _, err := tx.exec(ctx, "UPDATE reservations SET callback_number = '', customer_name = '' WHERE id = $1", id); err != nil {
		return fmt.Errorf("erase reservation %s: %w", id, err)
	}
	// Rewrite the stored snapshots, keyed by their text form.
	for _, t := range []struct{ sel, upd string }{
		{"SELECT CAST(seq AS TEXT), data FROM events WHERE reservation_id = $1",
			"UPDATE events SET data = $3 WHERE reservation_id = $1 AND CAST(seq AS TEXT) = $2"},
		{"SELECT idem_key, body FROM idempotency_keys WHERE reservation_id = $1 AND body <> ''",
			"UPDATE idempotency_keys SET body = $3 WHERE reservation_id = $1 AND idem_key = $2"},
	} {
		rs, err := tx.query(ctx, t.sel, id)
		if err != nil {
			return fmt.Errorf("erase %s: %w", id, err)
		}
		var keys, docs []string
		for rs.Next() {
			var key, data string
			if err := rs.Scan(&key, &data); err != nil {
				rs.Close()
				return err
			}
			keys, docs = append(keys, key), append(docs, data)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		for i, data := range docs {
			var r reservation.Reservation
			if err := json.Unmarshal([]byte(data), &r); err != nil {
				return fmt.Errorf("erase %s: decode: %w", id, err)
			}
			r.CallbackNumber, r.CustomerName = "", ""
			b, _ := json.Marshal(&r)
			if _, err := tx.exec(ctx, t.upd, id, keys[i], string(b)); err != nil {
				return fmt.Errorf("erase %s: %w", id, err)
			}
		}
	}
	return nil
}
