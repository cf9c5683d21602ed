package labels

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// MatchType is how a matcher compares a label's value, as Alertmanager's
// matchers do.
type MatchType string

// Match types.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// Matcher selects alerts by one label: alert=fps_low, target!=canary,
// alert=~"fps_.*". A regex is anchored at both ends, as in Alertmanager:
// alert=~fps matches fps, not fps_low. Build one with NewMatcher or
// ParseMatcher; its JSON form is the text ParseMatcher reads.
type Matcher struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp // the anchored regex, for MatchRegexp and MatchNotRegexp
}

// NewMatcher checks the label name and the type, and compiles the value
// when it is a regex.
func NewMatcher(name string, t MatchType, value string) (Matcher, error) {
	m := Matcher{Name: name, Type: t, Value: value}
	if !Known(name) {
		return Matcher{}, fmt.Errorf("unknown label %q: matchers take %s", name, List())
	}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		// Compiled alone first, so that an error quotes the user's text,
		// not the anchored wrapper.
		if _, err := regexp.Compile(value); err != nil {
			return Matcher{}, fmt.Errorf("bad regex %q: %w", value, unwrapRegexpError(err))
		}
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil { // \Q without \E swallows the anchor: `\Qfps`
			return Matcher{}, fmt.Errorf("bad regex %q: it cannot be anchored; close \\Q with \\E", value)
		}
		m.re = re
	default:
		return Matcher{}, fmt.Errorf("unknown match type %q: want =, !=, =~ or !~", t)
	}
	return m, nil
}

// ParseMatcher reads one matcher as amtool writes it: a label name, an
// operator (=, !=, =~, !~) and a value, quoted ("fps_.*", with Go's escapes)
// or not (taken as it is). Spaces around the operator are allowed.
func ParseMatcher(s string) (Matcher, error) {
	m, err := parseMatcher(strings.TrimSpace(s))
	if err != nil {
		return Matcher{}, fmt.Errorf("matcher %s: %w", quoteText(s), err)
	}
	return m, nil
}

func parseMatcher(s string) (Matcher, error) {
	switch {
	case s == "":
		return Matcher{}, errors.New("empty; want name=value, name!=value, name=~regex or name!~regex")
	case strings.HasPrefix(s, "{"):
		return Matcher{}, errors.New("the {...} form is not read; give one matcher per argument, e.g. alert=fps_low target=main")
	}
	i := strings.IndexFunc(s, func(r rune) bool { return !isLabelRune(r) })
	if i < 0 {
		return Matcher{}, errors.New("no operator; want name=value, name!=value, name=~regex or name!~regex")
	}
	name, rest := s[:i], strings.TrimLeft(s[i:], " ")
	if name == "" {
		return Matcher{}, fmt.Errorf("no label name before %q; matchers take %s", rest, List())
	}
	var t MatchType
	for _, op := range []MatchType{MatchRegexp, MatchNotRegexp, MatchNotEqual, MatchEqual} {
		if strings.HasPrefix(rest, string(op)) {
			t = op
			break
		}
	}
	if t == "" {
		return Matcher{}, fmt.Errorf("no operator after %q; want =, !=, =~ or !~", name)
	}
	value, err := parseValue(strings.TrimLeft(rest[len(t):], " "))
	if err != nil {
		return Matcher{}, err
	}
	return NewMatcher(name, t, value)
}

// parseValue unquotes a quoted value and takes an unquoted one as it is,
// refusing the characters that say the user meant something else: a comma
// (two matchers in one argument), a quote, or braces (amtool's {...} form).
func parseValue(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		if strings.HasPrefix(s, "=") || strings.HasPrefix(s, "~") {
			return "", fmt.Errorf("unquoted value %q starts with %q: the operators are =, !=, =~ and !~; quote a value that starts so", s, s[0])
		}
		if i := strings.IndexAny(s, `,"{}`); i >= 0 {
			return "", fmt.Errorf("unquoted value %q holds %q: give one matcher per argument, and quote a value that holds , \" { or }", s, s[i])
		}
		return s, nil
	}
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", fmt.Errorf("value %s: the quote is not closed, or an escape is invalid", s)
	}
	if tail := s[len(q):]; tail != "" {
		return "", fmt.Errorf("%q after the quoted value %s", tail, q)
	}
	v, err := strconv.Unquote(q)
	if err != nil { // QuotedPrefix accepted it: cannot happen
		return "", fmt.Errorf("value %s: %w", q, err)
	}
	return v, nil
}

// Matches reports whether the label value v satisfies m.
func (m Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re != nil && m.re.MatchString(v)
	case MatchNotRegexp:
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

// IsRegexp reports whether m compares with a regex.
func (m Matcher) IsRegexp() bool { return m.Type == MatchRegexp || m.Type == MatchNotRegexp }

// String returns m as ParseMatcher reads it: the value is quoted unless it
// is a plain word (letters, digits, _ . : -).
func (m Matcher) String() string {
	v := m.Value
	if v == "" || strings.IndexFunc(v, func(r rune) bool { return !isPlainRune(r) }) >= 0 {
		v = strconv.Quote(v)
	}
	return m.Name + string(m.Type) + v
}

// MarshalText writes m as String does.
func (m Matcher) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads m as ParseMatcher does.
func (m *Matcher) UnmarshalText(b []byte) error {
	p, err := ParseMatcher(string(b))
	if err != nil {
		return err
	}
	*m = p
	return nil
}

// Matchers are a silence's or an inhibit rule's matchers: an alert matches
// when every one does.
type Matchers []Matcher

// Matches reports whether every matcher matches l; false when there is none.
func (ms Matchers) Matches(l Getter) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return len(ms) > 0
}

// String returns the matchers as `alert=fps_low, target=main`.
func (ms Matchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

func isLabelRune(r rune) bool {
	return r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

func isPlainRune(r rune) bool { return isLabelRune(r) || r == '.' || r == ':' || r == '-' }

// quoteText quotes a user's text in an error: in backquotes, which leave
// the double quotes of a matcher readable, unless it cannot be.
func quoteText(s string) string {
	if s != "" && strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// unwrapRegexpError drops the "error parsing regexp: " prefix, which the
// message around it already says.
func unwrapRegexpError(err error) error {
	var se *syntax.Error
	if errors.As(err, &se) {
		return errors.New(string(se.Code) + ": `" + se.Expr + "`")
	}
	return err
}
