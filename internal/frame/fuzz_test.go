package frame_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/slotline/slotline/internal/frame"
)

// FuzzDecode checks that Decode never panics, that what it accepts
// re-encodes to an equal frame, and that vmihailenco/msgpack (the seed's
// library) reads every body Decode accepts the same way. The committed
// corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(frame.Append(nil, frame.Frame{Type: 1, Payload: []byte(`{"seq":1}`), Timestamp: 1767225600123}))
	f.Add(seedEncode(f, seedFrame{Type: 2, Payload: []byte(`{"status":"ack","id":"e1"}`), Timestamp: 1767225600123}))
	f.Add(withPrefix(cat(b(0x84), fixstr("x"), b(0x91, 0x81, 0xa1, 'k', 0xd4, 1, 2), kTimestamp, b(0xc0), kPayload, str8("s"), kType, b(0xff))))
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := frame.Decode(msg, 1<<16)
		if err != nil {
			if frame.ErrorKind(err) == 0 {
				t.Fatalf("Decode error %v is not a *frame.Error", err)
			}
			return
		}
		again, err := frame.Decode(frame.Append(nil, got), 0)
		if err != nil {
			t.Fatalf("Decode(Append(%+v)): %v", got, err)
		}
		if diff := cmp.Diff(got, again, bytesEqual); diff != "" {
			t.Fatalf("re-encoded frame differs (-first +second):\n%s", diff)
		}
		var w wideFrame
		if err := msgpack.Unmarshal(msg[frame.PrefixLen:], &w); err != nil {
			t.Fatalf("Decode accepted %x but msgpack.Unmarshal: %v", msg, err)
		}
		if diff := cmp.Diff(wideFrame(got), w, bytesEqual); diff != "" {
			t.Fatalf("Decode and msgpack.Unmarshal disagree on %x (-ours +msgpack):\n%s", msg, diff)
		}
	})
}

// FuzzRoundTrip checks that every frame survives Append and Decode, that
// Append's output is what it would write again, and that msgpack reads it.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(1), []byte(`{"seq":1}`), int64(1767225600123))
	f.Add(int64(-33), []byte{}, int64(-1))
	f.Add(int64(1<<40), bytes.Repeat([]byte("z"), 300), int64(-1<<40))
	f.Fuzz(func(t *testing.T, typ int64, payload []byte, ts int64) {
		want := frame.Frame{Type: typ, Payload: payload, Timestamp: ts}
		msg := frame.Append(nil, want)
		got, err := frame.Decode(msg, 0)
		if err != nil {
			t.Fatalf("Decode(Append(%+v)): %v", want, err)
		}
		if diff := cmp.Diff(want, got, bytesEqual); diff != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s", diff)
		}
		if again := frame.Append(nil, got); !bytes.Equal(msg, again) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, msg)
		}
		var w wideFrame
		if err := msgpack.Unmarshal(msg[frame.PrefixLen:], &w); err != nil {
			t.Fatalf("msgpack.Unmarshal(Append(%+v)): %v", want, err)
		}
		if diff := cmp.Diff(wideFrame(want), w, bytesEqual); diff != "" {
			t.Fatalf("msgpack reads Append's output differently (-want +got):\n%s", diff)
		}
	})
}
