package cli

import (
	"io"
	"os"
	"strconv"
)

// DefaultWidth is the width tables fit when stdout is not a terminal (a
// pipe, a file, a test's buffer), and when a terminal's cannot be read.
const DefaultWidth = 80

// minWidth is the narrowest a table is laid out for: below it the
// verdict line would not fit.
const minWidth = 50

// Terminal is what a command knows of where its output is shown.
type Terminal struct {
	// Width is stdout's width in columns; 0 means DefaultWidth.
	Width int
	// Progress is set when stderr is a terminal: progress lines go there
	// for a person watching, never into a pipe or a log.
	Progress bool
}

// DetectTerminal reads stdout's width (the terminal's, else $COLUMNS,
// else DefaultWidth; DefaultWidth whenever stdout is not a terminal) and
// whether stderr is a terminal.
func DetectTerminal(stdout, stderr io.Writer) Terminal {
	var t Terminal
	if w, ok := terminalWidth(stdout); ok {
		t.Width = w
		if t.Width <= 0 {
			t.Width, _ = strconv.Atoi(os.Getenv("COLUMNS"))
		}
	}
	_, t.Progress = terminalWidth(stderr)
	return t
}

// width is the width to lay a table out for.
func (t Terminal) width() int {
	switch {
	case t.Width <= 0:
		return DefaultWidth
	case t.Width < minWidth:
		return minWidth
	}
	return t.Width
}

// terminalWidth reports whether w is a terminal and, if it is, its width
// in columns (0 when the terminal does not say).
func terminalWidth(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	return fileWidth(f)
}
