package testkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestPipeServerDial: a Dial the server takes returns a working
// connection; a Dial whose context has ended, or whose server has closed,
// returns why, with both ends of its pipe closed.
func TestPipeServerDial(t *testing.T) {
	ok := StartPipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") }))
	c, err := ok.Dial(context.Background(), "tcp", "ignored:80")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := io.ReadAll(c)
	if err != nil || !bytes.HasSuffix(resp, []byte("hi")) {
		t.Errorf("response %q, %v; want one ending in hi", resp, err)
	}
	c.Close()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	closed := newPipeListener()
	closed.Close()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		ln      *pipeListener
		wantErr error
	}{
		{"context ended", cancelled, newPipeListener(), context.Canceled}, // nobody accepts
		{"server closed", context.Background(), closed, net.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ends []net.Conn
			ps := &PipeServer{ln: tc.ln, pipe: func() (net.Conn, net.Conn) {
				c, s := net.Pipe()
				ends = append(ends, c, s)
				return c, s
			}}
			if c, err := ps.Dial(tc.ctx, "tcp", "x:1"); c != nil || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Dial = %v, %v; want nil, %v", c, err, tc.wantErr)
			}
			if len(ends) != 2 {
				t.Fatalf("Dial made %d pipe ends, want 2", len(ends))
			}
			for i, end := range ends {
				_ = end.SetWriteDeadline(time.Unix(1, 0)) // an open end fails at once too, not blocks
				if _, err := end.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
					t.Errorf("end %d of the pipe: Write = %v, want io.ErrClosedPipe (closed)", i, err)
				}
			}
		})
	}
}
