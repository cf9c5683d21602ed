package monitor

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/textwrap"
)

// WriteTable writes the report for a terminal width columns wide: a header
// naming the target, one row per check in the order they ran (#, check,
// result, duration, what was observed), the reason wrapped under its check
// (and, for a check that did not pass, what was expected), then the
// verdict line as the checklist writes it ("DEPLOYMENT SUCCESSFUL (10/10
// passed)"). Skipped checks appear with their reason and are not counted.
// No line is wider than width, save a single word longer than its column.
func (r Report) WriteTable(w io.Writer, width int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Target %s", r.Target)
	if r.APIURL != "" {
		fmt.Fprintf(&b, " (%s)", r.APIURL)
	}
	b.WriteString("\n\n")

	// Column widths: each the widest cell, header included, plus 2 spaces.
	head := [4]string{"#", "CHECK", "RESULT", "TIME"}
	var cols [4]int
	rows := make([][4]string, len(r.Results))
	for i, c := range r.Results {
		rows[i] = [4]string{fmt.Sprint(c.Check.Number()), tableCell(string(c.Check)), tableResult(c.Status), formatCheckDuration(c.Duration)}
	}
	for _, row := range append([][4]string{head}, rows...) {
		for i, cell := range row {
			cols[i] = max(cols[i], utf8.RuneCountInString(cell)+2)
		}
	}
	observedAt := cols[0] + cols[1] + cols[2] + cols[3]
	reasonAt := cols[0]
	line := func(cells [4]string, observed string) {
		var l strings.Builder
		for i, cell := range cells {
			l.WriteString(cell + strings.Repeat(" ", cols[i]-utf8.RuneCountInString(cell)))
		}
		for i, part := range textwrap.Lines(observed, width-observedAt) {
			if i > 0 {
				l.WriteString("\n" + strings.Repeat(" ", observedAt))
			}
			l.WriteString(part)
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	under := func(text string) {
		for _, part := range textwrap.Lines(text, width-reasonAt) {
			b.WriteString(strings.Repeat(" ", reasonAt) + part + "\n")
		}
	}
	line(head, "OBSERVED")
	for i, c := range r.Results {
		line(rows[i], tableCell(c.Observed))
		under(tableCell(c.Reason))
		if c.Status != CheckPass && c.Expected != "" {
			under("expected: " + tableCell(c.Expected))
		}
	}
	b.WriteString("\n" + r.Summary.Line() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// tableResult is the RESULT column: upper case, so that a failure stands out.
func tableResult(s CheckStatus) string {
	if s == "" {
		return "-"
	}
	return strings.ToUpper(string(s))
}

// tableCell keeps a value on one line and in its column: tabs and line
// breaks (an error body may carry them) become spaces; empty shows "-".
func tableCell(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r', '\v', '\f':
			return ' '
		}
		return r
	}, s)
	if s = strings.TrimSpace(s); s == "" {
		return "-"
	}
	return s
}
