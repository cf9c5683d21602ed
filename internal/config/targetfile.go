package config

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// TargetFile is one file named by target_files, as read: the targets it
// lists, each with the line it starts on.
type TargetFile struct {
	// Path is the file's path, as the glob matched it.
	Path string
	// Targets are the file's targets in file order, each starting from
	// the config's defaults section.
	Targets []Target
	// Lines holds the line each target starts on, index for index.
	Lines []int
}

// Place names where target i is written: "path:line".
func (f *TargetFile) Place(i int) string {
	return fmt.Sprintf("%s:%d", f.Path, f.Lines[i])
}

// LoadTargetFile reads the target file at path: a YAML (or JSON) list of
// targets with the keys of the config's targets, each starting from
// defaults, relative *_file paths taken from the file's folder. It checks
// it as Load checks a config, strictly and with every problem's field path
// and line, in a *ValidationError whose Source is "target file"; an empty
// file lists no targets. Whether the names clash with other files' is the
// caller's business (discovery knows every file).
func LoadTargetFile(path string, defaults Settings, getenv func(string) string) (*TargetFile, error) {
	data, dir, err := readSource(path, SourceTargetFile)
	if err != nil {
		return nil, err
	}
	return ParseTargetFile(data, path, defaults, ParseOptions{Getenv: getenv, BaseDir: dir, Filename: path})
}

// ParseTargetFile parses a target file's content (see LoadTargetFile);
// path is what TargetFile.Path says.
func ParseTargetFile(data []byte, path string, defaults Settings, opts ParseOptions) (*TargetFile, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	fail := func(ps []Problem) error {
		return &ValidationError{File: opts.Filename, Source: SourceTargetFile, Problems: sortProblems(ps)}
	}
	root, syntax := parseDocument(data)
	if syntax != nil {
		return nil, fail([]Problem{*syntax})
	}
	f := &TargetFile{Path: path}
	if root == nil {
		return f, nil
	}
	d := newDecoder(opts.Getenv, opts.BaseDir)
	if root.Kind != yaml.SequenceNode {
		d.addf(root, "", "a target file is a list of targets (- name: …, api_url: …), not %s; write [] for none", describeNode(root))
		return nil, fail(d.problems)
	}
	f.Targets = d.decodeTargets(root, "", defaults, nil)
	for _, e := range root.Content {
		f.Lines = append(f.Lines, e.Line)
	}
	problems := d.problems
	if d.visits <= maxVisits {
		failed := map[string]bool{}
		for _, p := range d.problems {
			failed[p.Path] = true
		}
		for _, fd := range validateTargets(f.Targets, "", nil, opts.Getenv) {
			if fd.warn || underFailedPath(failed, fd.Path) {
				continue
			}
			p := fd.Problem
			p.Line, p.Column = d.position(p.Path)
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, fail(problems)
	}
	return f, nil
}
