//go:build unix

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// fileWidth asks the terminal f is, if it is one, for its window size.
func fileWidth(f *os.File) (int, bool) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, false
	}
	return int(ws.Col), true
}
