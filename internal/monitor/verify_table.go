package monitor

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report for a terminal: a header naming the target,
// an aligned table (#, check, result, observed, expected, reason,
// duration) in the order the checks ran, then the verdict line as the
// checklist writes it ("DEPLOYMENT SUCCESSFUL (10/10 passed)"). Skipped
// checks appear in the table with their reason and are not counted.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Target %s", r.Target)
	if r.APIURL != "" {
		fmt.Fprintf(&b, " (%s)", r.APIURL)
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tCHECK\tRESULT\tOBSERVED\tEXPECTED\tREASON\tDURATION")
	for _, c := range r.Results {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
			c.Check.Number(), tableCell(string(c.Check)), tableResult(c.Status),
			tableCell(c.Observed), tableCell(c.Expected), tableCell(c.Reason), formatCheckDuration(c.Duration))
	}
	if err := tw.Flush(); err != nil {
		return err
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
