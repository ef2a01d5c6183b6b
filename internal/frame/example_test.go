package frame_test

import (
	"fmt"

	"github.com/slotline/slotline/internal/frame"
)

func ExampleAppend() {
	buf := make([]byte, 0, 256) // reuse across frames: no allocation per frame
	buf = frame.Append(buf[:0], frame.Frame{
		Type:      frame.TypeAck,
		Payload:   []byte(`{"status":"ack","id":"e1"}`),
		Timestamp: 1767225600123,
	})
	fmt.Printf("%d bytes, prefix % x, map header %x\n", len(buf), buf[:4], buf[4])
	// Output: 66 bytes, prefix 00 00 00 3e, map header 83
}

func ExampleDecode() {
	msg := frame.Append(nil, frame.Frame{Type: frame.TypeAck, Payload: []byte(`{"status":"ack","id":"e1"}`)})
	f, err := frame.Decode(msg, 64<<10)
	if err != nil {
		// A server picks its close code from frame.ErrorKind(err).
		fmt.Println(frame.ErrorKind(err), err)
		return
	}
	fmt.Printf("type %d payload %s\n", f.Type, f.Payload)

	_, err = frame.Decode(msg[:len(msg)-1], 64<<10)
	fmt.Println(frame.ErrorKind(err), err)
	// Output:
	// type 2 payload {"status":"ack","id":"e1"}
	// truncated frame: truncated: length prefix says 54 bytes, message holds 53 after it
}
