package spacetime

import (
	"fmt"
	"io"
)

// Secret is a credential (API token, /performance token) that never prints:
// its String, GoString, JSON, text and zap forms are all "<secret>". Use
// Reveal only where the value goes on the wire.
type Secret string

const redacted = "<secret>"

// Reveal returns the credential itself, for an Authorization header.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string { return redacted }

// GoString keeps %#v from revealing the value.
func (s Secret) GoString() string { return redacted }

// MarshalText keeps JSON, YAML and text encoders from revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Format implements fmt.Formatter so that every verb prints "<secret>":
// without it, a verb that does not suit a string (%d, %t) makes fmt print
// the raw value inside its %!d(...) error text.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", redacted)
		return
	}
	io.WriteString(f, redacted)
}
