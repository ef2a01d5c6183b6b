package frame

import (
	"errors"
	"fmt"
)

// Kind classifies a decoding error so that the caller can pick a WebSocket
// close code without matching message text.
type Kind uint8

// The kinds of *Error that Decode returns. The zero Kind means "not a frame
// error" (see ErrorKind).
const (
	// KindTruncated: the message is shorter than the 4-byte length prefix,
	// or shorter than the length the prefix announces.
	KindTruncated Kind = iota + 1
	// KindLength: the message holds more bytes than the length prefix
	// announces (trailing bytes after the frame).
	KindLength
	// KindTooLarge: the length prefix exceeds the caller's maximum frame
	// size. A server would close with 1009 (message too big).
	KindTooLarge
	// KindMsgpack: the framing is right but the body is not a well-formed
	// frame map (see the package documentation for the rules).
	KindMsgpack
)

// String returns a short lowercase name for the kind.
func (k Kind) String() string {
	switch k {
	case KindTruncated:
		return "truncated"
	case KindLength:
		return "length mismatch"
	case KindTooLarge:
		return "too large"
	case KindMsgpack:
		return "bad msgpack"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is the error Decode returns for every malformed message.
type Error struct {
	Kind Kind
	Msg  string // what is wrong, lowercase, with offsets into the message
}

// Error implements the error interface.
func (e *Error) Error() string { return "frame: " + e.Kind.String() + ": " + e.Msg }

// ErrorKind returns the Kind of the *Error in err's chain, or 0 when err is
// nil or holds no *Error.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}
