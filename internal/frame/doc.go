// SPDX-License-Identifier: Apache-2.0

// Package frame encodes and decodes the binary frames of the callback event
// stream (GET /api/v2/callbacks/websocket), the wire format of the seed's
// client.
//
// # Wire format
//
// One WebSocket message holds exactly one frame:
//
//	length  4 bytes, big-endian uint32 N
//	body    N bytes of msgpack: {"Type": int, "Payload": bin, "Timestamp": int}
//
// Type is the frame type ([TypeUpdate], [TypeAck], [TypeNotice]), Payload is
// opaque bytes (JSON for every type we define) and Timestamp is the sender's
// clock in Unix milliseconds. This is what the seed's client sends:
// msgpack.Marshal (github.com/vmihailenco/msgpack/v5) of
// struct{Type int32; Payload []byte; Timestamp int64}, with the length
// prepended. The bytes may arrive in binary or text WebSocket messages; the
// codec does not care which.
//
// # Encoding
//
// [Append] writes a fixmap of three entries with fixstr keys in the order Type,
// Payload, Timestamp. Type and Timestamp use the shortest msgpack integer
// encoding that holds the value (positive or negative fixint, uint8..uint64,
// int8..int64); Payload is bin8, bin16 or bin32 by length. The seed's encoder
// writes Type as int32 and Timestamp as int64 whatever their values; both
// forms decode the same everywhere.
//
// # Decoding rules
//
// [Decode] is strict about framing and lenient about msgpack spelling:
//
//   - The message must be at least 4 bytes and the length prefix must equal
//     the number of bytes after it ([KindTruncated] when the message is
//     shorter, [KindLength] when longer). A prefix above the caller's maximum
//     is [KindTooLarge], checked before anything else is read.
//   - The body must be exactly one msgpack map (fixmap, map16 or map32) and
//     nothing after it. Map keys must be strings (fixstr, str8, str16, str32),
//     matched case-sensitively; the entries may come in any order.
//   - Type is required. Type and Timestamp accept every msgpack integer
//     encoding; a uint64 above math.MaxInt64 is refused. Timestamp may be
//     missing or nil, which reads as 0.
//   - Payload accepts bin8/16/32, str (fixstr, str8/16/32: some clients send
//     strings) or nil. A missing, nil or empty payload decodes as a nil slice.
//   - A key seen twice among Type, Payload and Timestamp is refused.
//   - Any other key is ignored together with its value, which may be any
//     well-formed msgpack value (scalars, strings, binary, extensions, arrays
//     and maps) nested at most 8 containers deep. This lets clients add fields
//     without breaking older servers; a value nested deeper is refused.
//   - Every other violation (not a map, wrong value type, a value that runs
//     past the end of the body, the never-used byte 0xc1, trailing bytes) is
//     [KindMsgpack].
//
// Decode never panics, does no allocation on success, and never sizes
// anything by a claimed length: every length is checked against the bytes
// actually present before it is used, so its work is linear in the message
// size.
package frame
