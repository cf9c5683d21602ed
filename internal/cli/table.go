package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer) *table { return &table{tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)} }

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() int {
	if err := t.tw.Flush(); err != nil {
		return ExitError
	}
	return ExitOK
}
