package testkit

import (
	"fmt"
	"strings"
	"testing"
)

// TestPrintedReachesTheChain: a secret only deep in an error's chain, or
// only in %+v, is among the texts Printed returns.
func TestPrintedReachesTheChain(t *testing.T) {
	type detail struct{ Secret string }
	deep := fmt.Errorf("outer: %w", &hiddenErr{"inner with s3cret"})
	plus := detail{"s3cret"}
	for _, v := range []any{deep, plus} {
		found := false
		for _, s := range Printed(v) {
			found = found || strings.Contains(s.Text, "s3cret")
		}
		if !found {
			t.Errorf("Printed(%T) misses the secret", v)
		}
	}
}

// hiddenErr prints nothing of its text in fmt's verbs, only in Error.
type hiddenErr struct{ text string }

func (e *hiddenErr) Error() string                 { return e.text }
func (e *hiddenErr) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte("hidden")) }
