package frame

import (
	"encoding/binary"
	"math"
	"slices"
)

// Frame is one message of the event stream.
type Frame struct {
	// Type is the frame type: TypeUpdate, TypeAck, TypeNotice, or a value
	// the receiver does not know (which it decides how to treat).
	Type int64
	// Payload is the frame's content, JSON for every type defined here.
	// Decode returns a Payload that aliases the message it was given (no
	// copy): it is valid only as long as the caller does not reuse that
	// buffer. A missing, nil or empty payload decodes as nil.
	Payload []byte
	// Timestamp is the sender's clock when it built the frame, in Unix
	// milliseconds. It is 0 when the sender left it out.
	Timestamp int64
}

// The frame types.
const (
	// TypeUpdate (server → client): Payload is the JSON of one reservation
	// event.
	TypeUpdate = 1
	// TypeAck (client → server): Payload is the seed's acknowledgment JSON,
	// {"status":"ack","correlation_id":"…"} or {"status":"ack","id":"…"}.
	TypeAck = 2
	// TypeNotice (server → client): Payload is the JSON of a server notice
	// (resume gap, slow consumer, shutdown). Not part of the seed's protocol.
	TypeNotice = 3
)

// PrefixLen is the size in bytes of the big-endian length prefix that
// precedes the msgpack body.
const PrefixLen = 4

const (
	// fixedLen is the body size apart from the two integers, the payload
	// header and the payload: the map header and the three keys.
	fixedLen = 1 + 5 + 8 + 10 // len(keyType), len(keyPayload), len(keyTimestamp)
	// maxPayload is the longest payload whose frame length still fits the
	// uint32 prefix (both integers at 9 bytes, a bin32 header).
	maxPayload = math.MaxUint32 - fixedLen - 9 - 9 - 5

	// The encoded map header and keys (fixmap 3, fixstr keys).
	keyType      = "\xa4Type"
	keyPayload   = "\xa7Payload"
	keyTimestamp = "\xa9Timestamp"
)

// Append encodes f, length prefix and msgpack map, onto dst and returns the
// extended slice. It allocates only when dst lacks room for the frame, so
// encoding into a reused buffer (buf = frame.Append(buf[:0], f)) makes no
// allocation.
//
// A payload that cannot fit a frame (longer than 4 GiB less a few bytes) is
// a programming error and makes Append panic.
func Append(dst []byte, f Frame) []byte {
	p := f.Payload
	if uint64(len(p)) > maxPayload || len(p) > math.MaxInt-PrefixLen-fixedLen-23 {
		panic("frame: payload too long for a frame")
	}
	body := fixedLen + intLen(f.Type) + binHeaderLen(len(p)) + len(p) + intLen(f.Timestamp)
	n := len(dst)
	dst = slices.Grow(dst, PrefixLen+body)[:n+PrefixLen+body]
	b := dst[n:]
	binary.BigEndian.PutUint32(b, uint32(body))
	b[4] = 0x83 // fixmap, 3 entries
	i := 5
	i += copy(b[i:], keyType)
	i = putInt(b, i, f.Type)
	i += copy(b[i:], keyPayload)
	i = putBinHeader(b, i, len(p))
	i += copy(b[i:], p)
	i += copy(b[i:], keyTimestamp)
	putInt(b, i, f.Timestamp)
	return dst
}

// intLen returns the size of the shortest msgpack encoding of v.
func intLen(v int64) int {
	switch {
	case v >= 0:
		switch {
		case v <= math.MaxInt8: // positive fixint
			return 1
		case v <= math.MaxUint8:
			return 2
		case v <= math.MaxUint16:
			return 3
		case v <= math.MaxUint32:
			return 5
		}
		return 9
	case v >= -32: // negative fixint
		return 1
	case v >= math.MinInt8:
		return 2
	case v >= math.MinInt16:
		return 3
	case v >= math.MinInt32:
		return 5
	}
	return 9
}

// putInt writes the shortest msgpack encoding of v at b[i:] and returns the
// index after it. The caller has sized b with intLen.
func putInt(b []byte, i int, v int64) int {
	switch {
	case v >= 0:
		switch {
		case v <= math.MaxInt8:
			b[i] = byte(v)
			return i + 1
		case v <= math.MaxUint8:
			b[i], b[i+1] = 0xcc, byte(v)
			return i + 2
		case v <= math.MaxUint16:
			b[i] = 0xcd
			binary.BigEndian.PutUint16(b[i+1:], uint16(v))
			return i + 3
		case v <= math.MaxUint32:
			b[i] = 0xce
			binary.BigEndian.PutUint32(b[i+1:], uint32(v))
			return i + 5
		}
		b[i] = 0xcf
		binary.BigEndian.PutUint64(b[i+1:], uint64(v))
		return i + 9
	case v >= -32:
		b[i] = byte(v) // 0xe0..0xff
		return i + 1
	case v >= math.MinInt8:
		b[i], b[i+1] = 0xd0, byte(v)
		return i + 2
	case v >= math.MinInt16:
		b[i] = 0xd1
		binary.BigEndian.PutUint16(b[i+1:], uint16(v))
		return i + 3
	case v >= math.MinInt32:
		b[i] = 0xd2
		binary.BigEndian.PutUint32(b[i+1:], uint32(v))
		return i + 5
	}
	b[i] = 0xd3
	binary.BigEndian.PutUint64(b[i+1:], uint64(v))
	return i + 9
}

// binHeaderLen returns the size of the bin header for n bytes.
func binHeaderLen(n int) int {
	switch {
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}

// putBinHeader writes the bin8/16/32 header for n bytes at b[i:] and returns
// the index after it.
func putBinHeader(b []byte, i, n int) int {
	switch {
	case n <= math.MaxUint8:
		b[i], b[i+1] = 0xc4, byte(n)
		return i + 2
	case n <= math.MaxUint16:
		b[i] = 0xc5
		binary.BigEndian.PutUint16(b[i+1:], uint16(n))
		return i + 3
	}
	b[i] = 0xc6
	binary.BigEndian.PutUint32(b[i+1:], uint32(n))
	return i + 5
}

// Notice is the JSON payload of a Type 3 frame, a server notice: Notice
// names it ("subscribed", "slow_consumer", "shutdown", "taken_over",
// "resume_gap", "bad_ack"); the subscribed and resume_gap notices say where
// the stream starts (After) and the log's head (Head).
type Notice struct {
	Notice       string `json:"notice"`
	Detail       string `json:"detail,omitempty"`
	After        *int64 `json:"after,omitempty"`
	Head         *int64 `json:"head,omitempty"`
	Subscription string `json:"subscription,omitempty"`
	Window       int    `json:"window,omitempty"`
}
