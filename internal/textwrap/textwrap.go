// Package textwrap breaks prose into lines that fit a terminal: the verify
// table's reasons and the demo's narration.
package textwrap

import "strings"

// Lines breaks text into lines of at most width characters (runes) at
// spaces; a word longer than width is cut. Runs of white space become one
// space. Empty text is one empty line.
func Lines(text string, width int) []string {
	width = max(width, 1)
	var lines []string
	var cur []rune
	for _, word := range strings.Fields(text) {
		w := []rune(word)
		if len(cur) > 0 && len(cur)+1+len(w) <= width {
			cur = append(append(cur, ' '), w...)
			continue
		}
		if len(cur) > 0 {
			lines = append(lines, string(cur))
		}
		for len(w) > width {
			lines = append(lines, string(w[:width]))
			w = w[width:]
		}
		cur = w
	}
	return append(lines, string(cur))
}

// Indent wraps text to width with prefix before the first line and indent,
// as wide as prefix, before the others, and returns the lines joined,
// newline-terminated.
func Indent(text, prefix, indent string, width int) string {
	var b strings.Builder
	for i, line := range Lines(text, width-len([]rune(indent))) {
		if i == 0 {
			b.WriteString(prefix)
		} else {
			b.WriteString(indent)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
