package testkit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// printVerbs are the fmt verbs a log line, an error message or a debug
// print might use on a value.
var printVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"}

// Shown is one text a value shows when printed, and what shows it.
type Shown struct {
	What, Text string
}

// Printed returns every text v shows when printed: v in each fmt verb and,
// when v is an error, the text of each error in its chain. Tests that
// prove a secret never shows scan them all.
func Printed(v any) []Shown {
	var out []Shown
	for _, verb := range printVerbs {
		out = append(out, Shown{fmt.Sprintf("%T as %s", v, verb), fmt.Sprintf(verb, v)})
	}
	if err, ok := v.(error); ok {
		for e := err; e != nil; e = errors.Unwrap(e) {
			out = append(out, Shown{fmt.Sprintf("error in the chain (%T)", e), e.Error()})
		}
	}
	return out
}

// AssertHidden fails tb for each text of Printed(v) in which leaks finds a
// secret, and when v is nil (nothing was checked).
func AssertHidden(tb testing.TB, v any, leaks func(text string) bool) {
	tb.Helper()
	if v == nil {
		tb.Fatal("AssertHidden: nothing to check (nil)")
	}
	for _, s := range Printed(v) {
		if leaks(s.Text) {
			tb.Errorf("%s leaks a secret: %s", s.What, s.Text)
		}
	}
}

// SecretForms returns a leaks function for AssertHidden that finds any of
// secrets in a text as a redactor must hide it: in any letter case, URL
// escaped (query and path forms), and base64 (standard and URL alphabets,
// with or without padding).
func SecretForms(secrets ...string) func(text string) bool {
	var folded, exact []string
	for _, s := range secrets {
		folded = append(folded, strings.ToLower(s), strings.ToLower(url.QueryEscape(s)), strings.ToLower(url.PathEscape(s)))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			exact = append(exact, enc.EncodeToString([]byte(s)))
		}
	}
	return func(text string) bool {
		lower := strings.ToLower(text)
		for _, f := range folded {
			if strings.Contains(lower, f) {
				return true
			}
		}
		for _, e := range exact {
			if strings.Contains(text, e) {
				return true
			}
		}
		return false
	}
}
