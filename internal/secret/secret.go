// Package secret owns the daemon's credentials: API tokens, Slack webhook
// URLs and bot tokens, webhook URLs with a token in them and HMAC secrets.
//
// A Value never prints. A Source reads one from where the config says it
// lives (a file, re-read on every use so that creating or rotating it needs
// no restart; an environment variable; a literal, for tests) and registers
// every value it ever read with the process-wide redactor, which Clean and
// CleanBytes apply to any text leaving the process: errors, log lines,
// dead-letter reasons, API answers, messages to other sinks.
package secret

import (
	"fmt"
	"io"
)

// Redacted is what a Value prints as, and what Clean puts in place of a
// secret found in text.
const Redacted = "<secret>"

// Value is a credential. Every printed, encoded and logged form of it is
// "<secret>"; Reveal gives the value itself, for the wire only.
type Value string

// Reveal returns the credential itself, for a request header or URL.
func (v Value) Reveal() string { return string(v) }

// String implements fmt.Stringer without revealing the value.
func (Value) String() string { return Redacted }

// GoString keeps %#v from revealing the value.
func (Value) GoString() string { return Redacted }

// MarshalText keeps text, YAML and zap encoders from revealing the value.
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON keeps encoding/json from revealing the value.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// Format implements fmt.Formatter so that every verb prints "<secret>":
// without it, a verb that does not suit a string (%d, %t) makes fmt print
// the raw value inside its %!d(...) error text.
func (Value) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", Redacted)
		return
	}
	_, _ = io.WriteString(f, Redacted)
}
