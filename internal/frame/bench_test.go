package frame_test

import (
	"encoding/binary"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/slotline/slotline/internal/frame"
)

// benchPayload is a realistic type 1 payload: one reservation event as the
// stream sends it (about 700 bytes of JSON).
var benchPayload = []byte(`{"seq":184467,"event_id":"evt_01JH4Z8Q3W5V7K2M9N6P4R8T1Y","type":"reservation.rescheduled","occurred_at":"2026-03-14T09:30:12.345Z","origin":"api","reservation":{"id":"res_01JH4Z7Y2X4V6K1M8N5P3R7T0W","callback_id":"cb-2026-03-14-000917","callback_number":"+14155550123","callback_time":"2026-03-14T15:45:00-04:00","queue_id":"queue_12345","reason":"Follow-up on order #A-99812: customer asked for a call after work","status":"scheduled","time_slot_matrix":[{"start":"2026-03-14T15:45:00-04:00","end":"2026-03-14T16:00:00-04:00"},{"start":"2026-03-14T16:00:00-04:00","end":"2026-03-14T16:15:00-04:00"}],"channel_preferences":{"primary":"voice","fallback":"sms","allow_sms":true},"concurrency_limit":5,"version":3}}`)

var benchFrame = frame.Frame{Type: frame.TypeUpdate, Payload: benchPayload, Timestamp: 1767225600123}

// seedWrite is the seed's WriteBinaryFrame without the socket.
func seedWrite(f seedFrame) []byte {
	data, _ := msgpack.Marshal(f)
	length := make([]byte, 4)
	binary.BigEndian.PutUint32(length, uint32(len(data)))
	return append(length, data...)
}

var sink []byte

func BenchmarkEncode(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		b.SetBytes(int64(len(frame.Append(nil, benchFrame))))
		for b.Loop() {
			buf = frame.Append(buf[:0], benchFrame)
		}
		sink = buf
	})
	b.Run("seed", func(b *testing.B) {
		b.ReportAllocs()
		f := seedFrame{Type: int32(benchFrame.Type), Payload: benchFrame.Payload, Timestamp: benchFrame.Timestamp}
		b.SetBytes(int64(len(seedWrite(f))))
		for b.Loop() {
			sink = seedWrite(f)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	// Both decode the bytes a seed client sends.
	msg := seedEncode(b, seedFrame{Type: int32(benchFrame.Type), Payload: benchFrame.Payload, Timestamp: benchFrame.Timestamp})
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			f, err := frame.Decode(msg, 64<<10)
			if err != nil {
				b.Fatal(err)
			}
			sink = f.Payload
		}
	})
	b.Run("seed", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if len(msg) < 4 || int(binary.BigEndian.Uint32(msg)) != len(msg)-4 {
				b.Fatal("bad length")
			}
			var f seedFrame
			if err := msgpack.Unmarshal(msg[4:], &f); err != nil {
				b.Fatal(err)
			}
			sink = f.Payload
		}
	})
}
