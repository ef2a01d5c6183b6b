package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/coder/websocket"
)

// TestStreamEndLevel: the ways a client ends a stream, and the shutdown,
// are Debug; a failure is a Warn.
func TestStreamEndLevel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want slog.Level
	}{
		{websocket.CloseError{Code: websocket.StatusNormalClosure}, slog.LevelDebug},
		{fmt.Errorf("failed to read: %w", websocket.CloseError{Code: websocket.StatusGoingAway}), slog.LevelDebug},
		{websocket.CloseError{Code: websocket.StatusNoStatusRcvd}, slog.LevelDebug},
		{context.Canceled, slog.LevelDebug},
		{fmt.Errorf("failed to write msg: %w", io.EOF), slog.LevelDebug},
		{&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, slog.LevelDebug},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, slog.LevelDebug},
		{fmt.Errorf("write: %w", net.ErrClosed), slog.LevelDebug},
		{websocket.CloseError{Code: websocket.StatusProtocolError}, slog.LevelWarn},
		{errors.New("read stream cursor: sql: database is closed"), slog.LevelWarn},
		{context.DeadlineExceeded, slog.LevelWarn},
	} {
		if got := streamEndLevel(tt.err); got != tt.want {
			t.Errorf("streamEndLevel(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}
