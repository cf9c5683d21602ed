package config

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"gopkg.in/yaml.v3"
)

const effectiveHeader = `Effective configuration of spacetime-watch: every default filled in.
Secret fields (tokens, webhook URLs) name a file or an environment variable, never the secret.`

// Effective returns the configuration as YAML with every default filled in,
// for check-config. It parses back (with the same environment) to an equal
// Config. A Config holds no secret values (API tokens, Slack webhook URLs,
// bot tokens), only where to find them (a file path or a variable name,
// shown as they are), so nothing here needs to print as <secret>; a field
// added later that holds a secret must be a type the encoder redacts.
func (c *Config) Effective() ([]byte, error) {
	root, err := encodeValue(reflect.ValueOf(*c), false)
	if err != nil {
		return nil, err
	}
	root.HeadComment = effectiveHeader
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode effective config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode effective config: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeValue is the decoder's mirror: the same field names and order, the
// same value syntax. expand marks a *_file path, whose $ must be escaped.
func encodeValue(v reflect.Value, expand bool) (*yaml.Node, error) {
	switch v.Type() {
	case durationType:
		return str(formatDuration(time.Duration(v.Int()))), nil
	case timeType:
		return str(v.Interface().(time.Time).UTC().Format(time.RFC3339Nano)), nil
	case urlType:
		u := v.Interface().(*url.URL)
		if u == nil {
			return nil, fmt.Errorf("encode effective config: nil URL")
		}
		return str(u.Redacted()), nil
	case matcherType:
		return str(v.Interface().(labels.Matcher).String()), nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return encodeStruct(v)
	case reflect.Slice:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if e := v.Type().Elem(); e == durationType || e == matcherType || e.Kind() == reflect.String {
			seq.Style = yaml.FlowStyle // offsets: [1h, 4h, 24h], group_by: [target], source_matchers: [alert=x]
		}
		for i := range v.Len() {
			n, err := encodeValue(v.Index(i), expand)
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, n)
		}
		return seq, nil
	case reflect.String:
		if expand {
			return str(escapePath(v.String())), nil
		}
		return str(v.String()), nil
	case reflect.Bool:
		return plain(strconv.FormatBool(v.Bool())), nil
	case reflect.Int, reflect.Int64:
		return plain(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Float64:
		return plain(strconv.FormatFloat(v.Float(), 'g', -1, 64)), nil
	}
	return nil, fmt.Errorf("encode effective config: unsupported type %s", v.Type())
}

// keyOmitter is implemented by structs whose keys depend on their value:
// a sink prints only the keys of its type.
type keyOmitter interface{ omitKey(key string) bool }

func encodeStruct(v reflect.Value) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	omitter, _ := v.Interface().(keyOmitter)
	for _, f := range fields(v.Type()) {
		fv := v.FieldByIndex(f.index)
		if f.omit && fv.IsZero() || omitter != nil && omitter.omitKey(f.name) {
			continue
		}
		n, err := encodeValue(fv, f.expand)
		if err != nil {
			return nil, err
		}
		m.Content = append(m.Content, str(f.name), n)
	}
	return m, nil
}

// str is a string scalar; the encoder quotes it when it would otherwise
// read back as a number, a boolean or null.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// plain is a number or boolean, written bare.
func plain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// formatDuration writes d as a person would: 5m, 1h, 1h30m, 90s, 500ms
// (time.Duration.String writes 5m0s and 1h0m0s).
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
