package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseOptions are the inputs to Parse besides the file's bytes.
type ParseOptions struct {
	// Getenv looks up the variables named by *_file paths and *_env fields.
	// Default: os.Getenv.
	Getenv func(string) string
	// BaseDir is the folder relative *_file paths are taken from. Default:
	// "", which leaves relative paths relative to the working directory.
	BaseDir string
	// Filename names the file in errors. Default: "" ("config: …").
	Filename string
	// Known are the alert names (and extra targets) inhibit rule matchers
	// may name. Default: zero, which leaves alert names unchecked.
	Known Known
}

// Load reads and parses the config file at path, taking relative *_file
// paths from the file's folder and variables from the process environment;
// known are the alert names its inhibit rules may name (daemon.LoadConfig
// gives the monitor's).
// It returns a complete, valid *Config, or an error and no config: a
// *ValidationError listing every problem when the content is wrong,
// another error when the file cannot be read. On SIGHUP the daemon calls
// Load and swaps the result in only when err is nil.
func Load(path string, known Known) (*Config, error) {
	data, dir, err := readSource(path, SourceConfigFile)
	if err != nil {
		return nil, err
	}
	return Parse(data, ParseOptions{Getenv: os.Getenv, BaseDir: dir, Filename: path, Known: known})
}

// readSource reads the file at path and returns its content and its folder,
// absolute (where relative *_file paths are taken from); what names the
// file in errors.
func readSource(path, what string) (data []byte, dir string, err error) {
	if data, err = os.ReadFile(path); err != nil {
		return nil, "", fmt.Errorf("read %s: %w", what, err)
	}
	if dir, err = filepath.Abs(filepath.Dir(path)); err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	return data, dir, nil
}

// Parse parses a config file's content: strictly (unknown keys, wrong types
// and impossible values are all errors, reported together as a
// *ValidationError sorted by position), with every default filled in. An
// empty document yields Default().
func Parse(data []byte, opts ParseOptions) (*Config, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	fail := func(ps []Problem) error {
		return &ValidationError{File: opts.Filename, Problems: sortProblems(ps)}
	}

	root, syntax := parseDocument(data)
	if syntax != nil {
		return nil, fail([]Problem{*syntax})
	}
	d := newDecoder(opts.Getenv, opts.BaseDir)
	cfg := d.decodeConfig(root)
	problems := d.problems
	var warnings []Problem
	if d.visits <= maxVisits {
		failed := map[string]bool{}
		for _, p := range d.problems {
			failed[p.Path] = true
		}
		for _, f := range validate(cfg, opts.Getenv, opts.Known) {
			if _, setHere := d.pos[f.Path]; (f.inherited && !setHere) || underFailedPath(failed, f.Path) {
				continue
			}
			p := f.Problem
			p.Line, p.Column = d.position(p.Path)
			if f.warn {
				warnings = append(warnings, p)
			} else {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		return nil, fail(problems)
	}
	warnings = append(warnings, d.localTelemetryWarnings(cfg)...)
	for _, w := range sortProblems(warnings) {
		cfg.Warnings = append(cfg.Warnings, Warning(w))
	}
	return cfg, nil
}

// parseDocument returns the root node of the single YAML document in data,
// nil for an empty file, or the problem that stops parsing.
func parseDocument(data []byte) (*yaml.Node, *Problem) {
	docs, err := decodeDocuments(data, 2)
	switch {
	case err != nil:
		return nil, syntaxProblem(data, err)
	case len(docs) > 1:
		return nil, &Problem{Line: docs[1].Line, Column: docs[1].Column,
			Message: "the file holds more than one YAML document (---); keep one"}
	case len(docs) == 0 || len(docs[0].Content) == 0:
		return nil, nil
	}
	return docs[0].Content[0], nil
}

// decodeDocuments parses up to max documents from data.
func decodeDocuments(data []byte, max int) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for len(docs) < max {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		docs = append(docs, &doc)
	}
	return docs, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns yaml.v3's "yaml: line 3: did not find expected key"
// into a Problem. yaml.v3 reports the line where the enclosing block
// starts, which for a mis-indented key can be far above the mistake, so
// the line is the later of that and the first line at which a growing
// prefix of the file stops parsing.
func syntaxProblem(data []byte, err error) *Problem {
	p := &Problem{Message: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = "YAML syntax: " + m[2]
	}
	if line := firstBadLine(data); line > p.Line {
		p.Line = line
	}
	return p
}

// firstBadLine returns the smallest n such that the first n lines of data do
// not parse, by bisection (a few parses, since YAML cut at a line boundary
// usually stays valid), or 0 when that cannot be told.
func firstBadLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	bad := func(n int) bool {
		_, err := decodeDocuments(bytes.Join(lines[:n], nil), 2)
		return err != nil
	}
	lo, hi := 1, len(lines)
	if !bad(hi) {
		return 0
	}
	for lo < hi {
		if mid := (lo + hi) / 2; bad(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// decodeConfig decodes the root mapping. Targets are decoded last, whatever
// their place in the file, because each starts from the merged defaults.
func (d *decoder) decodeConfig(root *yaml.Node) *Config {
	cfg := &Config{Defaults: defaultSettings(), Alerting: defaultAlerting()}
	var targets *yaml.Node
	if root != nil {
		root = d.visit(root, "")
		if root != nil && root.Kind != yaml.MappingNode && root.ShortTag() != "!!null" {
			d.addf(root, "", "the file must be a mapping with the keys defaults, targets and alerting, not %s", describeNode(root))
		} else if root != nil {
			d.decodeStruct(root, "", reflect.ValueOf(cfg).Elem(), func(key string, v *yaml.Node) bool {
				if key == "targets" {
					targets = v
					return true
				}
				return false
			})
		}
	}
	// With target_files, the targets come from there: no implicit local one.
	var implicit []Target
	if len(cfg.TargetFiles) == 0 {
		implicit = []Target{newTarget(DefaultTargetName, cfg.Defaults)}
	}
	cfg.Targets = d.decodeTargets(targets, "targets", cfg.Defaults, implicit)
	return cfg
}

// decodeTargets decodes the list of targets n at path, each starting from
// defaults; implicit stands in for a missing or empty list.
func (d *decoder) decodeTargets(n *yaml.Node, path string, defaults Settings, implicit []Target) []Target {
	if n != nil {
		n = d.visit(n, path)
	}
	if n == nil {
		return implicit
	}
	if n.Kind != yaml.SequenceNode {
		fix := "write [] for none"
		if len(implicit) > 0 {
			fix = "write [] for the default local target"
		}
		d.addf(n, path, "must be a list of targets (%s), not %s", fix, describeNode(n))
		return implicit
	}
	if len(n.Content) == 0 {
		return implicit
	}
	out := make([]Target, len(n.Content))
	for i, e := range n.Content {
		out[i] = newTarget("", defaults) // the name is required in the file
		out[i].APIURL = nil              // and so is api_url
		d.decodeValue(e, fmt.Sprintf("%s[%d]", path, i), reflect.ValueOf(&out[i]).Elem())
	}
	return out
}

// localTelemetryWarnings warns about each listed target whose API is on
// another host while its telemetry_urls, left out, default to this host's
// ws://127.0.0.1:8081/: most likely the stream was forgotten, and the
// watcher would report the wrong instance's telemetry, or none.
func (d *decoder) localTelemetryWarnings(cfg *Config) []Problem {
	var out []Problem
	for i, t := range cfg.Targets {
		prefix := fmt.Sprintf("targets[%d]", i)
		if _, listed := d.pos[prefix]; !listed || t.APIURL == nil || isLocalHost(t.APIURL.Hostname()) {
			continue
		}
		if _, set := d.pos[prefix+".telemetry_urls"]; set {
			continue
		}
		p := Problem{Path: prefix + ".telemetry_urls", Message: fmt.Sprintf(
			"not set, so the telemetry stream is looked for on this host (%s) while api_url is on %s; "+
				"give the instance's stream, e.g. ws://%s/, or [] when it runs no telemetry server",
			t.TelemetryURLs[0].Redacted(), t.APIURL.Hostname(), net.JoinHostPort(t.APIURL.Hostname(), "8081"))}
		p.Line, p.Column = d.position(p.Path)
		out = append(out, p)
	}
	return out
}

// isLocalHost reports whether host names this machine: localhost or a
// loopback address.
func isLocalHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// position returns where the value at path is written, or failing that
// where its nearest written ancestor is: a value inherited from defaults is
// best shown at the target that inherits it.
func (d *decoder) position(path string) (line, column int) {
	for ; path != ""; path = parentPath(path) {
		if p, ok := d.pos[path]; ok {
			return p.line, p.column
		}
	}
	return 0, 0
}

// parentPath drops the last element of a field path:
// "targets[0].fps" → "targets[0]" → "targets" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// underFailedPath reports whether the decoder already reported path or one
// of its ancestors: a value that failed to decode gets one message, not a
// second one about the default left in its place.
func underFailedPath(failed map[string]bool, path string) bool {
	for ; path != ""; path = parentPath(path) {
		if failed[path] {
			return true
		}
	}
	return false
}
