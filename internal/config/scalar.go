package config

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scalar decoding: each kind of value the file may hold, with messages that
// quote what was written and say what to write instead.

// scalar returns the text of scalar n, or reports that n is not one. want
// names the expected kind of value for the message.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		return n.Value, true
	}
	if n.Kind == yaml.ScalarNode {
		d.addf(n, path, "no value; set %s or remove the key to keep the default", want)
		return "", false
	}
	d.addf(n, path, "must be %s, not %s", want, describeNode(n))
	return "", false
}

func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.scalar(n, path, "a duration such as 5m")
	if !ok {
		return 0, false
	}
	if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" {
		d.addf(n, path, "%s is not a duration: it has no unit; write e.g. %ss or 5m", s, s)
		return 0, false
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.addf(n, path, "%q is not a duration (e.g. 5m, 90s, 1h30m)", s)
		return 0, false
	}
	return dur, true
}

func (d *decoder) time(n *yaml.Node, path string) (time.Time, bool) {
	s, ok := d.scalar(n, path, "a time such as 2026-11-27T10:00:00Z")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.addf(n, path, "%q is not an RFC 3339 time (e.g. 2026-11-27T10:00:00Z)", s)
		return time.Time{}, false
	}
	return t.UTC(), true
}

func (d *decoder) bool(n *yaml.Node, path string) (bool, bool) {
	s, ok := d.scalar(n, path, "true or false")
	if !ok {
		return false, false
	}
	if n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(s)); err == nil {
			return b, true
		}
	}
	d.addf(n, path, "%s is not a boolean; write true or false", quoteIfString(n))
	return false, false
}

func (d *decoder) int(n *yaml.Node, path string) (int64, bool) {
	s, ok := d.scalar(n, path, "a whole number")
	if !ok {
		return 0, false
	}
	if n.ShortTag() == "!!int" {
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i, true
		}
	}
	d.addf(n, path, "%s is not a whole number%s", quoteIfString(n), unquoteHint(n))
	return 0, false
}

func (d *decoder) float(n *yaml.Node, path string) (float64, bool) {
	s, ok := d.scalar(n, path, "a number")
	if !ok {
		return 0, false
	}
	var f float64
	var err error
	switch n.ShortTag() {
	case "!!int":
		var i int64
		i, err = strconv.ParseInt(s, 0, 64)
		f = float64(i)
	case "!!float":
		f, err = strconv.ParseFloat(s, 64)
	default:
		d.addf(n, path, "%s is not a number%s", quoteIfString(n), unquoteHint(n))
		return 0, false
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.addf(n, path, "%s is not a finite number", s)
		return 0, false
	}
	return f, true
}

// quoteIfString shows a string value quoted, and a number or boolean bare,
// as the file would write them.
func quoteIfString(n *yaml.Node) string {
	if n.ShortTag() == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// unquoteHint helps with "85" written in quotes: YAML reads it as a string.
func unquoteHint(n *yaml.Node) string {
	if n.ShortTag() != "!!str" {
		return ""
	}
	if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
		return "; remove the quotes"
	}
	return ""
}

// describeNode names the kind of a node for messages: "a mapping", "a list",
// "the string \"x\"".
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!null":
		return "an empty value"
	case "!!str":
		return "the string " + strconv.Quote(truncate(n.Value, 40))
	}
	return "the value " + truncate(n.Value, 40)
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// redactURLText hides the user-info part of a URL that failed to parse, so
// an error message cannot echo a password written into it.
func redactURLText(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return truncate(s, 100)
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return truncate(s[:start]+"<secret>"+s[at:], 100)
}

// unwrapURLError drops url.Error's "parse \"…\":" prefix, which repeats the value.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
