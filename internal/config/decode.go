package config

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"gopkg.in/yaml.v3"
)

// The decoder walks the yaml.Node tree itself instead of calling
// yaml.Node.Decode with KnownFields(true): yaml.v3 stops at the first unknown
// key and reports type errors without the field path, while an operator
// fixing a file wants every problem, each with its path and line, at once.
//
// It decodes onto values that already hold their defaults and sets only the
// keys present in the file, which is what makes "defaults, then the defaults
// section, then the target" a field-by-field merge.

// maxVisits bounds the values one document may make the decoder visit.
// Aliases let a small file name the same large value many times over.
const maxVisits = 100_000

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	urlType      = reflect.TypeFor[*url.URL]()
	checkType    = reflect.TypeFor[CheckName]()
	sinkTypeType = reflect.TypeFor[SinkType]()
	knownGapType = reflect.TypeFor[KnownGap]()
	matcherType  = reflect.TypeFor[labels.Matcher]()
)

type position struct{ line, column int }

type decoder struct {
	getenv  func(string) string
	baseDir string

	problems []Problem
	// pos maps every field path decoded to where its value is written, so
	// that problems found later, on typed values, can name a line too.
	pos     map[string]position
	visits  int
	merging map[*yaml.Node]bool
}

func newDecoder(getenv func(string) string, baseDir string) *decoder {
	return &decoder{
		getenv:  getenv,
		baseDir: baseDir,
		pos:     map[string]position{},
		merging: map[*yaml.Node]bool{},
	}
}

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// visit counts a value and follows an alias to its anchor. It returns nil
// once the document has exceeded maxVisits, after reporting it once.
func (d *decoder) visit(n *yaml.Node, path string) *yaml.Node {
	d.visits++
	if d.visits == maxVisits+1 {
		d.addf(n, path, "the document is too large: more than %d values, aliases included", maxVisits)
	}
	if d.visits > maxVisits {
		return nil
	}
	if _, seen := d.pos[path]; !seen {
		d.pos[path] = position{n.Line, n.Column}
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// field is one YAML key of a struct, inline fields flattened.
type field struct {
	name   string
	index  []int
	omit   bool // omitempty: printed only when set
	expand bool // a *_file path: ${VAR} expanded at load, $ escaped on output
	env    bool // a name: ${VAR} expanded at load (the result is validated as a name)
}

// fields lists the YAML keys of struct type t in declaration order.
func fields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			for _, f := range fields(sf.Type) {
				f.index = append([]int{i}, f.index...)
				out = append(out, f)
			}
			continue
		}
		out = append(out, field{
			name:   name,
			index:  []int{i},
			omit:   strings.Contains(","+opts+",", ",omitempty,"),
			expand: strings.Contains(","+opts+",", ",expand,"),
			env:    strings.Contains(","+opts+",", ",env,"),
		})
	}
	return out
}

func fieldNames(fs []field) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}

// afterDecoder is implemented by types whose decoding depends on which keys
// the file set, not only on their values.
type afterDecoder interface {
	afterDecode(d *decoder, path string, set map[string]*yaml.Node)
}

// decodeStruct decodes mapping n onto struct v, setting only the keys
// present. intercept, when not nil, may claim a key (return true) to decode
// it later itself.
func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value, intercept func(key string, value *yaml.Node) bool) {
	switch {
	case n.Kind == yaml.MappingNode:
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return // "section:" with everything below commented out overrides nothing
	default:
		d.addf(n, path, "must be a mapping of keys to values, not %s", describeNode(n))
		return
	}
	fs := fields(v.Type())
	byName := make(map[string]field, len(fs))
	for _, f := range fs {
		byName[f.name] = f
	}
	set := map[string]*yaml.Node{}
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		fp := join(path, key)
		f, ok := byName[key]
		if !ok {
			names := fieldNames(fs)
			d.addf(p.key, fp, "unknown field%s; known fields: %s", DidYouMean(key, names), strings.Join(names, ", "))
			continue
		}
		set[key] = p.value
		if intercept != nil && intercept(key, p.value) {
			continue
		}
		fv := v.FieldByIndex(f.index)
		switch {
		case f.expand:
			d.decodePath(p.value, fp, fv)
			continue
		case f.env:
			d.decodeExpanded(p.value, fp, fv)
			continue
		}
		d.decodeValue(p.value, fp, fv)
	}
	if h, ok := v.Addr().Interface().(afterDecoder); ok {
		h.afterDecode(d, path, set)
	}
}

type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of mapping n: its own keys, then those
// brought in by merge keys (<<: *anchor) that it does not set itself.
// Duplicate and non-scalar keys are reported and dropped.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var own, merged []pair
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merged = append(merged, d.mergeSources(v, path)...)
		case k.Kind != yaml.ScalarNode:
			d.addf(k, path, "keys must be plain names, not %s", describeNode(k))
		case first[k.Value] != nil:
			d.addf(k, join(path, k.Value), "duplicate key (first set on line %d); keep one", first[k.Value].Line)
		default:
			first[k.Value] = k
			own = append(own, pair{k, v})
		}
	}
	for _, p := range merged {
		if first[p.key.Value] == nil {
			first[p.key.Value] = p.key
			own = append(own, p)
		}
	}
	return own
}

// mergeSources returns the pairs a merge key brings in: one mapping or a
// list of them, earlier ones winning.
func (d *decoder) mergeSources(v *yaml.Node, path string) []pair {
	if v = d.visit(v, path); v == nil {
		return nil
	}
	if d.merging[v] {
		d.addf(v, path, "merge key refers to a mapping that contains it")
		return nil
	}
	d.merging[v] = true
	defer delete(d.merging, v)
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, path)
	case yaml.SequenceNode:
		var out []pair
		seen := map[string]bool{}
		for _, s := range v.Content {
			for _, p := range d.mergeSources(s, path) {
				if !seen[p.key.Value] {
					seen[p.key.Value] = true
					out = append(out, p)
				}
			}
		}
		return out
	}
	d.addf(v, path, "merge key (<<) needs a mapping or a list of mappings, not %s", describeNode(v))
	return nil
}

// decodeValue decodes n into v according to v's type.
func (d *decoder) decodeValue(n *yaml.Node, path string, v reflect.Value) {
	if n = d.visit(n, path); n == nil {
		return
	}
	switch v.Type() {
	case durationType:
		if dur, ok := d.duration(n, path); ok {
			v.SetInt(int64(dur))
		}
		return
	case timeType:
		if t, ok := d.time(n, path); ok {
			v.Set(reflect.ValueOf(t))
		}
		return
	case urlType:
		if s, ok := d.scalar(n, path, "a URL"); ok {
			u, err := url.Parse(s)
			if err != nil {
				d.addf(n, path, "%q is not a URL: %v", redactURLText(s), unwrapURLError(err))
				return
			}
			v.Set(reflect.ValueOf(u))
		}
		return
	case checkType:
		if s, ok := d.scalar(n, path, "a check name"); ok {
			c, err := ParseCheckName(s)
			if err != nil {
				d.addf(n, path, "%v", err)
				return
			}
			v.SetString(string(c))
		}
		return
	case sinkTypeType:
		if s, ok := d.scalar(n, path, "a sink type"); ok {
			if !SinkType(s).Valid() {
				d.addf(n, path, "%q is not a sink type%s; valid types: %s",
					truncate(s, 40), DidYouMean(s, sinkTypeNames()), sinkTypeList())
				return
			}
			v.SetString(s)
		}
		return
	case knownGapType:
		d.knownGap(n, path, v)
		return
	case matcherType:
		if s, ok := d.scalar(n, path, `a matcher such as 'alert="check_instance_up"'`); ok {
			m, err := labels.ParseMatcher(s)
			if err != nil {
				d.addf(n, path, "%v", err)
				return
			}
			v.Set(reflect.ValueOf(m))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, path, v, nil)
	case reflect.Slice:
		d.decodeSlice(n, path, v, d.decodeValue)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if b, ok := d.bool(n, path); ok {
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int64:
		if i, ok := d.int(n, path); ok {
			v.SetInt(i)
		}
	case reflect.Float64:
		if f, ok := d.float(n, path); ok {
			v.SetFloat(f)
		}
	default:
		// A field type added without teaching the decoder: a bug, reported
		// rather than panicking so the daemon keeps its old config.
		d.addf(n, path, "internal error: cannot decode into %s", v.Type())
	}
}

// decodeSlice replaces v with the elements of sequence n, each decoded by
// elem: lists in the file replace inherited lists, they never append to them.
func (d *decoder) decodeSlice(n *yaml.Node, path string, v reflect.Value, elem func(*yaml.Node, string, reflect.Value)) {
	if n.Kind != yaml.SequenceNode {
		d.addf(n, path, "must be a list (write [] for an empty one), not %s", describeNode(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		elem(e, fmt.Sprintf("%s[%d]", path, i), out.Index(i))
	}
	v.Set(out)
}

// knownGap accepts the short form "- health" as well as {check, reason}.
func (d *decoder) knownGap(n *yaml.Node, path string, v reflect.Value) {
	g := KnownGap{Reason: DefaultKnownGapReason}
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		d.decodeValue(n, path+".check", reflect.ValueOf(&g.Check).Elem())
	} else {
		d.decodeStruct(n, path, reflect.ValueOf(&g).Elem(), nil)
	}
	v.Set(reflect.ValueOf(g))
}

// decodePath decodes a *_file path, expanding environment variables.
func (d *decoder) decodePath(n *yaml.Node, path string, v reflect.Value) {
	if n = d.visit(n, path); n == nil {
		return
	}
	if v.Kind() == reflect.Slice { // target_files: a list of paths
		d.decodeSlice(n, path, v, d.decodePath)
		return
	}
	s, ok := d.scalar(n, path, "a file path")
	if !ok {
		return
	}
	if looksLikeSecret(s) {
		// Never echo it: the value is the secret itself.
		key := path[strings.LastIndexByte(path, '.')+1:]
		key, _, _ = strings.Cut(key, "[")
		d.addf(n, path, "holds a secret value, not a file path; write the secret into a file and give the file's path here, or use %s",
			strings.TrimSuffix(key, "_file")+"_env")
		return
	}
	p, err := expandPath(s, d.getenv, d.baseDir)
	if err != nil {
		d.addf(n, path, "%v", err)
		return
	}
	v.SetString(p)
}

// decodeExpanded decodes a string whose ${VAR} and $VAR references are
// expanded at load, such as a target name taken from the pod's name.
func (d *decoder) decodeExpanded(n *yaml.Node, path string, v reflect.Value) {
	if n = d.visit(n, path); n == nil {
		return
	}
	s, ok := d.scalar(n, path, "a string")
	if !ok {
		return
	}
	e, err := expandVars(s, d.getenv, "name")
	if err != nil {
		d.addf(n, path, "%v", err)
		return
	}
	v.SetString(e)
}

// secretValueRE matches what a pasted secret starts with: a URL (a Slack
// webhook), a Slack token (xoxb-…) or a JWT (eyJ….). No file path does.
var secretValueRE = regexp.MustCompile(`://|^xox[a-z]-|^eyJ[A-Za-z0-9_-]*\.`)

func looksLikeSecret(s string) bool { return secretValueRE.MatchString(s) }

// join appends key to a field path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// afterDecode makes interval and cron exclusive per mapping: setting one in
// a target replaces the other inherited from defaults; setting both in the
// same mapping is a problem.
func (s *Schedule) afterDecode(d *decoder, path string, set map[string]*yaml.Node) {
	interval, cron := set["interval"], set["cron"]
	switch {
	case interval != nil && cron != nil:
		d.addf(cron, join(path, "cron"), "set either interval or cron, not both; remove one")
	case interval != nil:
		s.Cron = ""
	case cron != nil:
		s.Interval = 0
	}
}

// afterDecode applies token_from_status's default: true only when the
// target names no token file or variable.
func (t *Target) afterDecode(_ *decoder, _ string, set map[string]*yaml.Node) {
	if set["token_from_status"] == nil && (t.TokenFile != "" || t.TokenEnv != "") {
		t.TokenFromStatus = false
	}
}

// afterDecode applies a sink's type: a key that belongs to another type is
// a problem (its value would be silently ignored), and the keys left out
// take the type's defaults. Without a valid type the type's problem is
// reported alone.
func (s *Sink) afterDecode(d *decoder, path string, set map[string]*yaml.Node) {
	if s.Type.Valid() {
		for _, f := range fields(reflect.TypeFor[Sink]()) {
			if n := set[f.name]; n != nil && s.omitKey(f.name) {
				d.addf(n, join(path, f.name), "only for type %s; this sink is type %s, so remove it", sinkTypeKeys[f.name], s.Type)
			}
		}
	}
	def := reflect.ValueOf(defaultSink(s.Type))
	v := reflect.ValueOf(s).Elem()
	for _, f := range fields(v.Type()) {
		if set[f.name] == nil {
			v.FieldByIndex(f.index).Set(def.FieldByIndex(f.index))
		}
	}
}
