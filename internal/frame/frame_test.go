package frame_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/slotline/slotline/internal/frame"
)

// seedFrame is the seed client's BinaryFrame.
type seedFrame struct {
	Type      int32
	Payload   []byte
	Timestamp int64
}

// wideFrame is the seed's struct with Type widened so every int64 fits.
type wideFrame struct {
	Type      int64
	Payload   []byte
	Timestamp int64
}

// seedEncode frames f the seed's way: msgpack.Marshal, then the big-endian
// length prepended.
func seedEncode(tb testing.TB, f seedFrame) []byte {
	tb.Helper()
	data, err := msgpack.Marshal(f)
	if err != nil {
		tb.Fatal(err)
	}
	length := make([]byte, 4)
	binary.BigEndian.PutUint32(length, uint32(len(data)))
	return append(length, data...)
}

// prefixed prepends the big-endian length of body.
func prefixed(body []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(body))) // len fits: bodies are small
}

func withPrefix(body []byte) []byte { return append(prefixed(body), body...) }

// cat concatenates msgpack fragments.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func b(bs ...byte) []byte { return bs }

func fixstr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }
func str8(s string) []byte   { return append([]byte{0xd9, byte(len(s))}, s...) }
func str16(s string) []byte  { return append([]byte{0xda, 0, byte(len(s))}, s...) }
func str32(s string) []byte  { return append([]byte{0xdb, 0, 0, 0, byte(len(s))}, s...) }
func bin8(s string) []byte   { return append([]byte{0xc4, byte(len(s))}, s...) }

var (
	kType      = fixstr("Type")
	kPayload   = fixstr("Payload")
	kTimestamp = fixstr("Timestamp")
)

// bytesEqual compares byte slices fast and treats nil and empty as equal.
var bytesEqual = cmp.Comparer(bytes.Equal)

var testInts = []int64{
	0, 1, 2, 3, 127, 128, 255, 256, 65535, 65536,
	math.MaxInt32, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
	-1, -32, -33, -128, -129, -32768, -32769,
	math.MinInt32, math.MinInt32 - 1, math.MinInt64,
	1767225600000,   // 2026-01-01 in Unix ms
	-62135596800000, // year 1 in Unix ms
}

var testPayloadLens = []int{0, 1, 31, 32, 255, 256, 65535, 65536, 200000}

// intSize is the length of the shortest msgpack encoding of v.
func intSize(v int64) int {
	switch {
	case v >= 0 && v <= 127, v < 0 && v >= -32:
		return 1
	case v >= math.MinInt8 && v <= math.MaxUint8:
		return 2
	case v >= math.MinInt16 && v <= math.MaxUint16:
		return 3
	case v >= math.MinInt32 && v <= math.MaxUint32:
		return 5
	}
	return 9
}

func testFrames() []frame.Frame {
	var fs []frame.Frame
	for _, v := range testInts {
		fs = append(fs,
			frame.Frame{Type: v, Payload: []byte(`{"status":"ack","id":"x"}`), Timestamp: 1767225600123},
			frame.Frame{Type: frame.TypeUpdate, Payload: []byte("p"), Timestamp: v},
			frame.Frame{Type: v, Timestamp: -v},
		)
	}
	for _, n := range testPayloadLens {
		p := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		fs = append(fs, frame.Frame{Type: frame.TypeNotice, Payload: p, Timestamp: math.MaxInt64})
	}
	return fs
}

func TestAppendDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range testFrames() {
		t.Run(fmt.Sprintf("type=%d/len=%d/ts=%d", f.Type, len(f.Payload), f.Timestamp), func(t *testing.T) {
			msg := frame.Append(nil, f)

			// The shortest encodings: fixmap, keys, ints, bin header.
			binHdr := 2
			if len(f.Payload) > 255 {
				binHdr = 3
			}
			if len(f.Payload) > 65535 {
				binHdr = 5
			}
			wantLen := 4 + 1 + 5 + 8 + 10 + intSize(f.Type) + intSize(f.Timestamp) + binHdr + len(f.Payload)
			if len(msg) != wantLen {
				t.Errorf("len(Append) = %d, want %d", len(msg), wantLen)
			}

			got, err := frame.Decode(msg, 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(f, got, bytesEqual); diff != "" {
				t.Errorf("Decode(Append(f)) mismatch (-want +got):\n%s", diff)
			}

			// vmihailenco/msgpack reads our bytes into the seed's struct.
			var w wideFrame
			if err := msgpack.Unmarshal(msg[4:], &w); err != nil {
				t.Fatalf("msgpack.Unmarshal: %v", err)
			}
			if diff := cmp.Diff(wideFrame(f), w, bytesEqual); diff != "" {
				t.Errorf("msgpack.Unmarshal(Append(f)) mismatch (-want +got):\n%s", diff)
			}
			if f.Type >= math.MinInt32 && f.Type <= math.MaxInt32 {
				var s seedFrame
				if err := msgpack.Unmarshal(msg[4:], &s); err != nil {
					t.Fatalf("msgpack.Unmarshal into the seed's struct: %v", err)
				}
				want := seedFrame{Type: int32(f.Type), Payload: f.Payload, Timestamp: f.Timestamp}
				if diff := cmp.Diff(want, s, bytesEqual); diff != "" {
					t.Errorf("seed struct mismatch (-want +got):\n%s", diff)
				}
			}

			// Byte for byte what vmihailenco/msgpack writes with compact
			// ints (it writes a nil slice as nil, we write an empty bin).
			if f.Payload != nil {
				var buf bytes.Buffer
				enc := msgpack.NewEncoder(&buf)
				enc.UseCompactInts(true)
				if err := enc.Encode(wideFrame(f)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(msg[4:], buf.Bytes()) {
					t.Errorf("body differs from msgpack's compact encoding:\n got %x\nwant %x", msg[4:], buf.Bytes())
				}
			}
		})
	}
}

func TestDecodeSeedBytes(t *testing.T) {
	t.Parallel()
	for _, f := range testFrames() {
		if f.Type < math.MinInt32 || f.Type > math.MaxInt32 {
			continue
		}
		s := seedFrame{Type: int32(f.Type), Payload: f.Payload, Timestamp: f.Timestamp}
		msg := seedEncode(t, s)
		got, err := frame.Decode(msg, 0)
		if err != nil {
			t.Fatalf("Decode(seed %+v): %v", f, err)
		}
		if diff := cmp.Diff(f, got, bytesEqual); diff != "" {
			t.Errorf("Decode(seed bytes) mismatch (-want +got):\n%s", diff)
		}
	}
}

func TestDecodeSeedAck(t *testing.T) {
	t.Parallel()
	// Exactly what the seed's SendAcknowledgment writes: Type as int32 (0xd2),
	// Timestamp as int64 (0xd3).
	payload := []byte(`{"status":"ack","correlation_id":"c-42"}`)
	msg := seedEncode(t, seedFrame{Type: 2, Payload: payload, Timestamp: 1767225600123})
	if msg[4+1+5] != 0xd2 {
		t.Fatalf("seed encoding changed: Type written as 0x%02x", msg[10])
	}
	got, err := frame.Decode(msg, 1024)
	if err != nil {
		t.Fatal(err)
	}
	want := frame.Frame{Type: frame.TypeAck, Payload: payload, Timestamp: 1767225600123}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestAppendToExisting(t *testing.T) {
	t.Parallel()
	f := frame.Frame{Type: frame.TypeUpdate, Payload: []byte(`{"seq":1}`), Timestamp: 5}
	one := frame.Append(nil, f)
	both := frame.Append(frame.Append([]byte("xy"), f), f)
	want := cat([]byte("xy"), one, one)
	if !bytes.Equal(both, want) {
		t.Errorf("Append onto a non-empty slice:\n got %x\nwant %x", both, want)
	}
}

func TestDecodePayloadAliasesInput(t *testing.T) {
	t.Parallel()
	msg := frame.Append(nil, frame.Frame{Type: 1, Payload: []byte("abc")})
	f, err := frame.Decode(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	msg[bytes.Index(msg, []byte("abc"))+2] = 'X'
	if got := string(f.Payload); got != "abX" {
		t.Errorf("Payload after editing msg = %q, want %q (aliasing)", got, "abX")
	}
	if cap(f.Payload) != len(f.Payload) {
		t.Errorf("cap(Payload) = %d, want %d so appends cannot clobber msg", cap(f.Payload), len(f.Payload))
	}
}

// TestDecodeLenient covers the spellings Decode accepts beyond its own.
func TestDecodeLenient(t *testing.T) {
	t.Parallel()
	nested := func(depth int) []byte { // depth nested fixarrays around 1
		return cat(bytes.Repeat(b(0x91), depth), b(0x01))
	}
	tests := []struct {
		name string
		body []byte
		want frame.Frame
	}{
		{"any key order",
			cat(b(0x83), kTimestamp, b(0x07), kPayload, bin8("hi"), kType, b(0x02)),
			frame.Frame{Type: 2, Payload: []byte("hi"), Timestamp: 7}},
		{"str8, str16 and str32 keys",
			cat(b(0x83), str8("Type"), b(0x01), str16("Payload"), bin8("x"), str32("Timestamp"), b(0x09)),
			frame.Frame{Type: 1, Payload: []byte("x"), Timestamp: 9}},
		{"map16 header",
			cat(b(0xde, 0, 2), kType, b(0x01), kPayload, bin8("x")),
			frame.Frame{Type: 1, Payload: []byte("x")}},
		{"map32 header",
			cat(b(0xdf, 0, 0, 0, 1), kType, b(0x03)),
			frame.Frame{Type: 3}},
		{"payload as fixstr",
			cat(b(0x82), kType, b(0x02), kPayload, fixstr(`{"id":"a"}`)),
			frame.Frame{Type: 2, Payload: []byte(`{"id":"a"}`)}},
		{"payload as str8", cat(b(0x82), kType, b(0x02), kPayload, str8("ab")),
			frame.Frame{Type: 2, Payload: []byte("ab")}},
		{"payload as str16", cat(b(0x82), kType, b(0x02), kPayload, str16("ab")),
			frame.Frame{Type: 2, Payload: []byte("ab")}},
		{"payload as str32", cat(b(0x82), kType, b(0x02), kPayload, str32("ab")),
			frame.Frame{Type: 2, Payload: []byte("ab")}},
		{"payload as bin16", cat(b(0x82), kType, b(0x02), kPayload, b(0xc5, 0, 2), []byte("ab")),
			frame.Frame{Type: 2, Payload: []byte("ab")}},
		{"payload as bin32", cat(b(0x82), kType, b(0x02), kPayload, b(0xc6, 0, 0, 0, 2), []byte("ab")),
			frame.Frame{Type: 2, Payload: []byte("ab")}},
		{"payload nil", cat(b(0x83), kType, b(0x01), kPayload, b(0xc0), kTimestamp, b(0x05)),
			frame.Frame{Type: 1, Timestamp: 5}},
		{"payload and timestamp missing", cat(b(0x81), kType, b(0x01)),
			frame.Frame{Type: 1}},
		{"timestamp nil", cat(b(0x82), kType, b(0x01), kTimestamp, b(0xc0)),
			frame.Frame{Type: 1}},
		{"uint8 type", cat(b(0x81), kType, b(0xcc, 0x02)), frame.Frame{Type: 2}},
		{"uint16 type", cat(b(0x81), kType, b(0xcd, 0, 0x02)), frame.Frame{Type: 2}},
		{"uint32 type", cat(b(0x81), kType, b(0xce, 0, 0, 0, 0x02)), frame.Frame{Type: 2}},
		{"uint64 type", cat(b(0x81), kType, b(0xcf, 0, 0, 0, 0, 0, 0, 0, 0x02)), frame.Frame{Type: 2}},
		{"int8 type", cat(b(0x81), kType, b(0xd0, 0x02)), frame.Frame{Type: 2}},
		{"int16 type", cat(b(0x81), kType, b(0xd1, 0, 0x02)), frame.Frame{Type: 2}},
		{"int32 type", cat(b(0x81), kType, b(0xd2, 0, 0, 0, 0x02)), frame.Frame{Type: 2}},
		{"int64 type", cat(b(0x81), kType, b(0xd3, 0, 0, 0, 0, 0, 0, 0, 0x02)), frame.Frame{Type: 2}},
		{"negative fixint timestamp", cat(b(0x82), kType, b(0x01), kTimestamp, b(0xff)),
			frame.Frame{Type: 1, Timestamp: -1}},
		{"int8 timestamp", cat(b(0x82), kType, b(0x01), kTimestamp, b(0xd0, 0x80)),
			frame.Frame{Type: 1, Timestamp: -128}},
		{"int16 timestamp", cat(b(0x82), kType, b(0x01), kTimestamp, b(0xd1, 0xff, 0x00)),
			frame.Frame{Type: 1, Timestamp: -256}},
		{"int32 timestamp", cat(b(0x82), kType, b(0x01), kTimestamp, b(0xd2, 0xff, 0xff, 0xff, 0xfe)),
			frame.Frame{Type: 1, Timestamp: -2}},
		{"uint64 timestamp at MaxInt64", cat(b(0x82), kType, b(0x01), kTimestamp, b(0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
			frame.Frame{Type: 1, Timestamp: math.MaxInt64}},
		{"int64 timestamp at MinInt64", cat(b(0x82), kType, b(0x01), kTimestamp, b(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0)),
			frame.Frame{Type: 1, Timestamp: math.MinInt64}},
		{"unknown scalar keys ignored",
			cat(b(0x89), fixstr("a"), b(0xc0), fixstr("b"), b(0xc3), fixstr("c"), b(0xcb, 1, 2, 3, 4, 5, 6, 7, 8),
				fixstr("d"), b(0xca, 1, 2, 3, 4), fixstr("e"), str8("text"), fixstr("f"), bin8("bin"),
				fixstr("g"), b(0xd3, 1, 2, 3, 4, 5, 6, 7, 8), fixstr("type"), b(0x07), kType, b(0x01)),
			frame.Frame{Type: 1}},
		{"unknown integers and long strings ignored",
			cat(b(0x88), fixstr("a"), b(0xcc, 1), fixstr("b"), b(0xd1, 1, 2), fixstr("c"), b(0xce, 1, 2, 3, 4),
				fixstr("d"), b(0xd0, 0x80), fixstr("e"), b(0xc6, 0, 0, 0, 1, 'x'), fixstr("f"), str32("yz"),
				fixstr("g"), str16("w"), kType, b(0x01)),
			frame.Frame{Type: 1}},
		{"unknown extension values ignored",
			cat(b(0x87), fixstr("a"), b(0xd4, 1, 0xaa), fixstr("b"), b(0xd6, 0xff, 1, 2, 3, 4), fixstr("c"), b(0xd8, 1), bytes.Repeat(b(0), 16),
				fixstr("d"), b(0xc7, 2, 5, 1, 2), fixstr("e"), b(0xc8, 0, 1, 5, 1), fixstr("f"), b(0xc9, 0, 0, 0, 0, 5),
				kType, b(0x01)),
			frame.Frame{Type: 1}},
		{"unknown containers ignored",
			cat(b(0x84), fixstr("meta"), b(0x82), fixstr("k"), b(0x92, 0x01, 0xa1, 'x'), fixstr("m"), b(0x80),
				fixstr("list"), b(0xdc, 0, 2, 0xc0, 0xdd, 0, 0, 0, 1, 0xde, 0, 1, 0x01, 0xdf, 0, 0, 0, 0),
				fixstr("n"), nested(8), kType, b(0x01)),
			frame.Frame{Type: 1}},
		{"unknown key repeated", cat(b(0x83), fixstr("x"), b(0x01), fixstr("x"), b(0x02), kType, b(0x01)),
			frame.Frame{Type: 1}},
		{"empty bin payload", cat(b(0x82), kType, b(0x01), kPayload, bin8("")),
			frame.Frame{Type: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := frame.Decode(withPrefix(tt.body), 1<<16)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	good := frame.Append(nil, frame.Frame{Type: 1, Payload: []byte("0123456789"), Timestamp: 1767225600123})
	nested := func(depth int) []byte { return cat(bytes.Repeat(b(0x91), depth), b(0x01)) }
	body := func(parts ...[]byte) []byte { return withPrefix(cat(parts...)) }

	tests := []struct {
		name    string
		msg     []byte
		maxSize int
		want    frame.Kind
	}{
		{"empty", nil, 0, frame.KindTruncated},
		{"3 bytes", b(0, 0, 0), 0, frame.KindTruncated},
		{"prefix larger than message", good[:len(good)-1], 0, frame.KindTruncated},
		{"prefix only", b(0, 0, 0, 9), 0, frame.KindTruncated},
		{"prefix smaller than message", append(bytes.Clone(good), 0x00), 0, frame.KindLength},
		{"two frames in one message", append(bytes.Clone(good), good...), 0, frame.KindLength},
		{"prefix over maxSize", good, len(good) - 5, frame.KindTooLarge},
		{"huge prefix over maxSize", b(0xff, 0xff, 0xff, 0xff, 0x80), 1 << 20, frame.KindTooLarge},
		{"huge prefix without maxSize", b(0xff, 0xff, 0xff, 0xff, 0x80), 0, frame.KindTruncated},
		{"empty body", b(0, 0, 0, 0), 0, frame.KindMsgpack},
		{"not a map: array", body(b(0x93, 0x01, 0xc4, 0x00, 0x02)), 0, frame.KindMsgpack},
		{"not a map: int", body(b(0x01)), 0, frame.KindMsgpack},
		{"not a map: 0xc1", body(b(0xc1)), 0, frame.KindMsgpack},
		{"map16 header cut", body(b(0xde, 0x00)), 0, frame.KindMsgpack},
		{"map32 header cut", body(b(0xdf, 0x00, 0x00)), 0, frame.KindMsgpack},
		{"map claims 4G entries", body(b(0xdf, 0xff, 0xff, 0xff, 0xff), kType, b(0x01)), 0, frame.KindMsgpack},
		{"map claims one entry more", body(b(0x82), kType, b(0x01)), 0, frame.KindMsgpack},
		{"empty map", body(b(0x80)), 0, frame.KindMsgpack},
		{"missing Type", body(b(0x82), kPayload, bin8("x"), kTimestamp, b(0x01)), 0, frame.KindMsgpack},
		{"lowercase type only", body(b(0x81), fixstr("type"), b(0x01)), 0, frame.KindMsgpack},
		{"Type as string", body(b(0x81), kType, fixstr("1")), 0, frame.KindMsgpack},
		{"Type as float", body(b(0x81), kType, b(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0)), 0, frame.KindMsgpack},
		{"Type nil", body(b(0x81), kType, b(0xc0)), 0, frame.KindMsgpack},
		{"Type bool", body(b(0x81), kType, b(0xc3)), 0, frame.KindMsgpack},
		{"Payload as int", body(b(0x82), kType, b(0x01), kPayload, b(0x05)), 0, frame.KindMsgpack},
		{"Payload as array", body(b(0x82), kType, b(0x01), kPayload, b(0x91, 0x05)), 0, frame.KindMsgpack},
		{"Payload as ext", body(b(0x82), kType, b(0x01), kPayload, b(0xd4, 0x01, 0x05)), 0, frame.KindMsgpack},
		{"Timestamp as string", body(b(0x82), kType, b(0x01), kTimestamp, fixstr("now")), 0, frame.KindMsgpack},
		{"Timestamp as msgpack time ext", body(b(0x82), kType, b(0x01), kTimestamp, b(0xd6, 0xff, 0, 0, 0, 1)), 0, frame.KindMsgpack},
		{"key not a string", body(b(0x82), b(0x01), b(0x01), kType, b(0x01)), 0, frame.KindMsgpack},
		{"key as bin", body(b(0x81), bin8("Type"), b(0x01)), 0, frame.KindMsgpack},
		{"key cut", body(b(0x81), b(0xa4, 'T', 'y')), 0, frame.KindMsgpack},
		{"str32 key claiming 4 GB", body(b(0x81, 0xdb, 0xff, 0xff, 0xff, 0xff), []byte("Type")), 0, frame.KindMsgpack},
		{"duplicate Type", body(b(0x82), kType, b(0x01), kType, b(0x02)), 0, frame.KindMsgpack},
		{"duplicate Payload", body(b(0x83), kType, b(0x01), kPayload, bin8("a"), kPayload, bin8("b")), 0, frame.KindMsgpack},
		{"duplicate Timestamp", body(b(0x83), kType, b(0x01), kTimestamp, b(0x01), kTimestamp, b(0x01)), 0, frame.KindMsgpack},
		{"Type value missing", body(b(0x81), kType), 0, frame.KindMsgpack},
		{"Type int64 cut", body(b(0x81), kType, b(0xd3, 0, 0)), 0, frame.KindMsgpack},
		{"Timestamp uint32 cut", body(b(0x82), kType, b(0x01), kTimestamp, b(0xce, 0)), 0, frame.KindMsgpack},
		{"Payload value missing", body(b(0x82), kType, b(0x01), kPayload), 0, frame.KindMsgpack},
		{"truncated inside the payload", body(b(0x82), kType, b(0x01), kPayload, b(0xc4, 10), []byte("01234")), 0, frame.KindMsgpack},
		{"bin16 header cut", body(b(0x82), kType, b(0x01), kPayload, b(0xc5, 0x01)), 0, frame.KindMsgpack},
		{"bin32 claiming 4 GB", body(b(0x82), kType, b(0x01), kPayload, b(0xc6, 0xff, 0xff, 0xff, 0xff), []byte("data")), 0, frame.KindMsgpack},
		{"str32 payload claiming 4 GB", body(b(0x82), kType, b(0x01), kPayload, b(0xdb, 0xff, 0xff, 0xff, 0xff), []byte("data")), 0, frame.KindMsgpack},
		{"uint64 Type over MaxInt64", body(b(0x81), kType, b(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0)), 0, frame.KindMsgpack},
		{"uint64 Timestamp over MaxInt64", body(b(0x82), kType, b(0x01), kTimestamp, b(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 0, frame.KindMsgpack},
		{"trailing bytes after the map", body(b(0x81), kType, b(0x01), b(0xc0)), 0, frame.KindMsgpack},
		{"deeply nested unknown value", body(b(0x82), fixstr("x"), nested(9), kType, b(0x01)), 0, frame.KindMsgpack},
		{"very deeply nested unknown value", body(b(0x82), fixstr("x"), nested(100000), kType, b(0x01)), 0, frame.KindMsgpack},
		{"unknown value 0xc1", body(b(0x82), fixstr("x"), b(0xc1), kType, b(0x01)), 0, frame.KindMsgpack},
		{"unknown value missing", body(b(0x81), fixstr("x")), 0, frame.KindMsgpack},
		{"unknown array32 claiming 4G items", body(b(0x82), fixstr("x"), b(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01), kType, b(0x01)), 0, frame.KindMsgpack},
		{"unknown map16 claiming too many items", body(b(0x82), fixstr("x"), b(0xde, 0x00, 0x03, 0x01, 0x01), kType, b(0x01)), 0, frame.KindMsgpack},
		{"unknown array cut", body(b(0x81), fixstr("x"), b(0x92, 0x01)), 0, frame.KindMsgpack},
		{"unknown ext32 claiming 4 GB", body(b(0x82), fixstr("x"), b(0xc9, 0xff, 0xff, 0xff, 0xff, 0x01), kType, b(0x01)), 0, frame.KindMsgpack},
		{"unknown fixext16 cut", body(b(0x81), fixstr("x"), b(0xd8, 0x01, 0x00)), 0, frame.KindMsgpack},
		{"unknown float64 cut", body(b(0x81), fixstr("x"), b(0xcb, 0x00)), 0, frame.KindMsgpack},
		{"unknown str16 header cut", body(b(0x81), fixstr("x"), b(0xda, 0x00)), 0, frame.KindMsgpack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := frame.Decode(tt.msg, tt.maxSize)
			if err == nil {
				t.Fatalf("Decode succeeded with %+v, want a %v error", f, tt.want)
			}
			if got := frame.ErrorKind(err); got != tt.want {
				t.Errorf("ErrorKind = %v, want %v (err: %v)", got, tt.want, err)
			}
			if diff := cmp.Diff(frame.Frame{}, f); diff != "" {
				t.Errorf("Decode returned a non-zero Frame on error:\n%s", diff)
			}
			if !strings.HasPrefix(err.Error(), "frame: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestDecodeMaxSizeBoundary(t *testing.T) {
	t.Parallel()
	msg := frame.Append(nil, frame.Frame{Type: 1, Payload: []byte("abc")})
	n := len(msg) - frame.PrefixLen
	if _, err := frame.Decode(msg, n); err != nil {
		t.Errorf("Decode with maxSize = body length: %v", err)
	}
	if _, err := frame.Decode(msg, n-1); frame.ErrorKind(err) != frame.KindTooLarge {
		t.Errorf("Decode with maxSize = body length - 1: err = %v, want KindTooLarge", err)
	}
}

func TestErrorKind(t *testing.T) {
	t.Parallel()
	_, err := frame.Decode(nil, 0)
	wrapped := fmt.Errorf("read frame: %w", err)
	if got := frame.ErrorKind(wrapped); got != frame.KindTruncated {
		t.Errorf("ErrorKind(wrapped) = %v, want %v", got, frame.KindTruncated)
	}
	var fe *frame.Error
	if !errors.As(wrapped, &fe) || fe.Msg == "" {
		t.Errorf("errors.As(%v) = %v, %+v", wrapped, fe != nil, fe)
	}
	if got := frame.ErrorKind(errors.New("other")); got != 0 {
		t.Errorf("ErrorKind(other) = %v, want 0", got)
	}
	if got := frame.ErrorKind(nil); got != 0 {
		t.Errorf("ErrorKind(nil) = %v, want 0", got)
	}
	for k, want := range map[frame.Kind]string{
		frame.KindTruncated: "truncated", frame.KindLength: "length mismatch",
		frame.KindTooLarge: "too large", frame.KindMsgpack: "bad msgpack", 9: "kind(9)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

// TestZeroAllocs checks the API contract: Append into a buffer with room and
// a successful Decode allocate nothing.
func TestZeroAllocs(t *testing.T) {
	f := frame.Frame{Type: frame.TypeUpdate, Payload: bytes.Repeat([]byte("x"), 700), Timestamp: 1767225600123}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = frame.Append(buf[:0], f) }); n != 0 {
		t.Errorf("Append into a reused buffer: %v allocs, want 0", n)
	}
	for name, msg := range map[string][]byte{
		"ours": frame.Append(nil, f),
		"seed": seedEncode(t, seedFrame{Type: int32(f.Type), Payload: f.Payload, Timestamp: f.Timestamp}),
		"unknown keys": withPrefix(cat(b(0x83), fixstr("meta"), b(0x92, 0x81, 0xa1, 'k', 0x01, 0xc0),
			fixstr("note"), str8("hello"), kType, b(0x01))),
	} {
		var err error
		if n := testing.AllocsPerRun(100, func() { _, err = frame.Decode(msg, 1<<16) }); n != 0 {
			t.Errorf("Decode(%s): %v allocs, want 0", name, n)
		}
		if err != nil {
			t.Errorf("Decode(%s): %v", name, err)
		}
	}
}
