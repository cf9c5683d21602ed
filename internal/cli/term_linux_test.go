package cli

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDetectTerminal: a terminal's width is its window's, $COLUMNS when
// the window has none; a pipe is no terminal (DefaultWidth, no progress),
// whatever $COLUMNS says.
func TestDetectTerminal(t *testing.T) {
	t.Setenv("COLUMNS", "132")
	tty := openPTY(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 101, Row: 40}); err != nil {
		t.Fatal(err)
	}
	if got := DetectTerminal(tty, tty); got != (Terminal{Width: 101, Progress: true}) {
		t.Errorf("terminal 101 columns wide: %+v", got)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{}); err != nil {
		t.Fatal(err)
	}
	if got := DetectTerminal(tty, tty); got != (Terminal{Width: 132, Progress: true}) {
		t.Errorf("terminal without a size, COLUMNS=132: %+v", got)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	got := DetectTerminal(w, w)
	if got != (Terminal{}) || got.width() != DefaultWidth {
		t.Errorf("a pipe: %+v (width %d), want no terminal, width %d", got, got.width(), DefaultWidth)
	}
	if got := DetectTerminal(w, tty); got != (Terminal{Progress: true}) {
		t.Errorf("stdout a pipe, stderr a terminal: %+v", got)
	}
}

// openPTY opens a pseudo-terminal and returns its terminal side.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}
