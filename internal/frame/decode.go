package frame

import (
	"encoding/binary"
	"math"
)

// maxSkipDepth is how many containers deep the value of an unknown key may
// nest.
const maxSkipDepth = 8

// Decode parses msg, one whole WebSocket message holding exactly one frame
// (length prefix and msgpack map), following the rules in the package
// documentation. maxSize bounds the length prefix (the msgpack body size);
// zero or less means no bound beyond the message itself.
//
// The returned Frame's Payload aliases msg. Decode makes no allocation when
// it succeeds. On failure it returns the zero Frame and an *Error whose Kind
// is KindTruncated, KindLength, KindTooLarge or KindMsgpack.
func Decode(msg []byte, maxSize int) (Frame, error) {
	if len(msg) < PrefixLen {
		return Frame{}, errorf(KindTruncated, "message is %d bytes, shorter than the %d-byte length prefix", len(msg), PrefixLen)
	}
	n := uint64(binary.BigEndian.Uint32(msg))
	have := uint64(len(msg) - PrefixLen)
	switch {
	case maxSize > 0 && n > uint64(maxSize):
		return Frame{}, errorf(KindTooLarge, "length prefix %d exceeds the maximum frame size %d", n, maxSize)
	case n > have:
		return Frame{}, errorf(KindTruncated, "length prefix says %d bytes, message holds %d after it", n, have)
	case n < have:
		return Frame{}, errorf(KindLength, "length prefix says %d bytes, message holds %d after it", n, have)
	}
	d := decoder{b: msg[PrefixLen:]}
	return d.frame()
}

// decoder reads the msgpack body b; i is the read offset.
type decoder struct {
	b []byte
	i int
}

// left returns the number of unread bytes.
func (d *decoder) left() int { return len(d.b) - d.i }

// fail returns a KindMsgpack error; offsets in messages count from the start
// of the WebSocket message, prefix included.
func (d *decoder) fail(format string, args ...any) error {
	return errorf(KindMsgpack, format, args...)
}

// short reports a value at offset at that needs more bytes than remain.
func (d *decoder) short(at int, what string) error {
	return d.fail("%s at offset %d runs past the end of the body", what, PrefixLen+at)
}

// Bits for the keys seen.
const (
	seenType = 1 << iota
	seenPayload
	seenTimestamp
)

func (d *decoder) frame() (Frame, error) {
	if len(d.b) == 0 {
		return Frame{}, d.fail("body is empty, want a msgpack map")
	}
	c := d.b[0]
	var n uint64
	switch {
	case c >= 0x80 && c <= 0x8f: // fixmap
		n, d.i = uint64(c&0x0f), 1
	case c == 0xde: // map16
		if d.left() < 3 {
			return Frame{}, d.short(0, "map header")
		}
		n, d.i = uint64(binary.BigEndian.Uint16(d.b[1:])), 3
	case c == 0xdf: // map32
		if d.left() < 5 {
			return Frame{}, d.short(0, "map header")
		}
		n, d.i = uint64(binary.BigEndian.Uint32(d.b[1:])), 5
	default:
		return Frame{}, d.fail("body starts with 0x%02x, want a msgpack map", c)
	}
	if n*2 > uint64(d.left()) {
		return Frame{}, d.fail("map claims %d entries, only %d bytes follow", n, d.left())
	}
	var (
		f    Frame
		seen uint8
	)
	for range n {
		at := d.i
		key, err := d.key()
		if err != nil {
			return Frame{}, err
		}
		var bit uint8
		switch string(key) {
		case "Type":
			bit = seenType
			f.Type, err = d.int("Type", false)
		case "Payload":
			bit = seenPayload
			f.Payload, err = d.payload()
		case "Timestamp":
			bit = seenTimestamp
			f.Timestamp, err = d.int("Timestamp", true)
		default:
			err = d.skip(0)
		}
		if err != nil {
			return Frame{}, err
		}
		if seen&bit != 0 {
			return Frame{}, d.fail("duplicate key %q at offset %d", key, PrefixLen+at)
		}
		seen |= bit
	}
	if seen&seenType == 0 {
		return Frame{}, d.fail("missing key \"Type\"")
	}
	if d.left() != 0 {
		return Frame{}, d.fail("%d trailing bytes after the map at offset %d", d.left(), PrefixLen+d.i)
	}
	return f, nil
}

// strLen reads a str or bin header (bin only if bin is set) and returns the
// length of the data, checked against the remaining bytes. ok is false when
// the byte at d.i is not such a header.
func (d *decoder) strLen(bin bool) (n int, ok bool, err error) {
	at := d.i
	if d.left() == 0 {
		return 0, true, d.short(at, "string")
	}
	c := d.b[at]
	var hdr int
	var size uint64
	switch {
	case c >= 0xa0 && c <= 0xbf: // fixstr
		hdr, size = 1, uint64(c&0x1f)
	case c == 0xd9 || (bin && c == 0xc4): // str8, bin8
		hdr = 2
	case c == 0xda || (bin && c == 0xc5): // str16, bin16
		hdr = 3
	case c == 0xdb || (bin && c == 0xc6): // str32, bin32
		hdr = 5
	default:
		return 0, false, nil
	}
	if d.left() < hdr {
		return 0, true, d.short(at, "string header")
	}
	switch hdr {
	case 2:
		size = uint64(d.b[at+1])
	case 3:
		size = uint64(binary.BigEndian.Uint16(d.b[at+1:]))
	case 5:
		size = uint64(binary.BigEndian.Uint32(d.b[at+1:]))
	}
	if size > uint64(d.left()-hdr) {
		return 0, true, d.fail("string or binary of %d bytes at offset %d runs past the end of the body (%d bytes left)", size, PrefixLen+at, d.left()-hdr)
	}
	d.i += hdr
	return int(size), true, nil
}

// key reads a map key, which must be a msgpack string.
func (d *decoder) key() ([]byte, error) {
	at := d.i
	n, ok, err := d.strLen(false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, d.fail("map key at offset %d is 0x%02x, want a string", PrefixLen+at, d.b[at])
	}
	k := d.b[d.i : d.i+n]
	d.i += n
	return k, nil
}

// payload reads the Payload value: bin, str or nil.
func (d *decoder) payload() ([]byte, error) {
	at := d.i
	if d.left() == 0 {
		return nil, d.short(at, "value of \"Payload\"")
	}
	if d.b[at] == 0xc0 { // nil
		d.i++
		return nil, nil
	}
	n, ok, err := d.strLen(true)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, d.fail("value of \"Payload\" at offset %d is 0x%02x, want bin, str or nil", PrefixLen+at, d.b[at])
	}
	if n == 0 {
		return nil, nil
	}
	p := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return p, nil
}

// int reads an integer in any msgpack encoding; nil reads as 0 when
// nilOK is set.
func (d *decoder) int(name string, nilOK bool) (int64, error) {
	at := d.i
	if d.left() == 0 {
		return 0, d.short(at, "value of \""+name+"\"")
	}
	c := d.b[at]
	switch {
	case c <= 0x7f: // positive fixint
		d.i++
		return int64(c), nil
	case c >= 0xe0: // negative fixint
		d.i++
		return int64(int8(c)), nil
	case c == 0xc0 && nilOK:
		d.i++
		return 0, nil
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	default:
		return 0, d.fail("value of %q at offset %d is 0x%02x, want an integer", name, PrefixLen+at, c)
	}
	if d.left() < 1+size {
		return 0, d.short(at, "value of \""+name+"\"")
	}
	v := d.b[at+1 : at+1+size]
	d.i += 1 + size
	switch c {
	case 0xcc:
		return int64(v[0]), nil
	case 0xcd:
		return int64(binary.BigEndian.Uint16(v)), nil
	case 0xce:
		return int64(binary.BigEndian.Uint32(v)), nil
	case 0xcf:
		u := binary.BigEndian.Uint64(v)
		if u > math.MaxInt64 {
			return 0, d.fail("value of %q at offset %d is %d, above the int64 range", name, PrefixLen+at, u)
		}
		return int64(u), nil
	case 0xd0:
		return int64(int8(v[0])), nil
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(v))), nil
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(v))), nil
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// skip steps over one msgpack value of any kind; depth counts the
// containers around it within the ignored value.
func (d *decoder) skip(depth int) error {
	at := d.i
	if d.left() == 0 {
		return d.short(at, "value")
	}
	c := d.b[at]
	var (
		hdr   int    // header bytes, including c
		lenSz int    // bytes of length field after c (0: length is in hdr or data)
		data  uint64 // fixed data bytes after the header
		items uint64 // values that follow, for containers
		cont  bool
	)
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixints, nil, bool
		hdr = 1
	case c <= 0x8f: // fixmap
		hdr, items, cont = 1, 2*uint64(c&0x0f), true
	case c <= 0x9f: // fixarray
		hdr, items, cont = 1, uint64(c&0x0f), true
	case c <= 0xbf: // fixstr
		hdr, data = 1, uint64(c&0x1f)
	default:
		switch c {
		case 0xc4, 0xd9: // bin8, str8
			hdr, lenSz = 2, 1
		case 0xc5, 0xda: // bin16, str16
			hdr, lenSz = 3, 2
		case 0xc6, 0xdb: // bin32, str32
			hdr, lenSz = 5, 4
		case 0xc7: // ext8: length, type
			hdr, lenSz = 3, 1
		case 0xc8: // ext16
			hdr, lenSz = 4, 2
		case 0xc9: // ext32
			hdr, lenSz = 6, 4
		case 0xca: // float32
			hdr, data = 1, 4
		case 0xcb: // float64
			hdr, data = 1, 8
		case 0xcc, 0xd0:
			hdr, data = 1, 1
		case 0xcd, 0xd1:
			hdr, data = 1, 2
		case 0xce, 0xd2:
			hdr, data = 1, 4
		case 0xcf, 0xd3:
			hdr, data = 1, 8
		case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type + data
			hdr, data = 2, 1<<(c-0xd4)
		case 0xdc: // array16
			hdr, lenSz, cont = 3, 2, true
		case 0xdd: // array32
			hdr, lenSz, cont = 5, 4, true
		case 0xde: // map16
			hdr, lenSz, cont = 3, 2, true
		case 0xdf: // map32
			hdr, lenSz, cont = 5, 4, true
		default: // 0xc1, never used
			return d.fail("byte 0xc1 at offset %d is not a msgpack value", PrefixLen+at)
		}
	}
	if d.left() < hdr {
		return d.short(at, "value header")
	}
	if lenSz > 0 {
		var l uint64
		switch lenSz {
		case 1:
			l = uint64(d.b[at+1])
		case 2:
			l = uint64(binary.BigEndian.Uint16(d.b[at+1:]))
		case 4:
			l = uint64(binary.BigEndian.Uint32(d.b[at+1:]))
		}
		switch {
		case !cont:
			data = l
		case c == 0xde || c == 0xdf:
			items = 2 * l
		default:
			items = l
		}
	}
	left := uint64(d.left() - hdr)
	if data > left {
		return d.short(at, "value")
	}
	if !cont {
		d.i += hdr + int(data)
		return nil
	}
	if depth >= maxSkipDepth {
		return d.fail("value of an unknown key nests deeper than %d containers at offset %d", maxSkipDepth, PrefixLen+at)
	}
	if items > left { // every value takes at least one byte
		return d.fail("container at offset %d claims %d values, only %d bytes follow", PrefixLen+at, items, left)
	}
	d.i += hdr
	for range items {
		if err := d.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
