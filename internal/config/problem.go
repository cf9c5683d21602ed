package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	// Path is the field path, such as targets[1].thresholds.fps.min; empty for
	// a problem with the file as a whole (a YAML syntax error).
	Path string
	// Line and Column locate the problem in the file, from 1; 0 when unknown.
	Line, Column int
	// Message says what is wrong and how to fix it.
	Message string
}

// String formats the problem as "line 12: targets[1].thresholds.fps.min:
// must be below max (95), got 99; set min < max".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Warning is something in a config file that is valid but will not do what
// it says as written: a value the daemon caps, a default that is likely not
// meant. Load and Parse return the warnings in Config.Warnings, sorted by
// position; check-config prints them (and still exits 0) and the daemon
// logs them at start and on reload, so that nothing is changed silently.
type Warning struct {
	// Path is the field path, such as alerting.sinks[0].timeout.
	Path string
	// Line and Column locate the value (or its nearest written parent) in
	// the file, from 1; 0 when unknown.
	Line, Column int
	// Message says what the daemon will do instead and how to say it.
	Message string
}

// String formats the warning as Problem.String does a problem.
func (w Warning) String() string { return Problem(w).String() }

// ValidationError lists every problem found in a config file, in file order.
// Load and Parse return it (test with errors.As) whenever the content is
// wrong; they never return a partial Config alongside it.
type ValidationError struct {
	// File is the file's path as given to Load, or ParseOptions.Filename.
	File string
	// Source says what File is, for the message: SourceConfigFile (the
	// default, when empty) or SourceTargetFile.
	Source string
	// Problems are sorted by position in the file; never empty.
	Problems []Problem
}

// What a ValidationError's File is.
const (
	SourceConfigFile = "config file"
	SourceTargetFile = "target file"
)

// maxListed bounds the problems Error lists; a file that broken needs
// fixing from the top anyway.
const maxListed = 100

// Error lists the problems, one per line after the first when there are
// several, up to maxListed of them.
func (e *ValidationError) Error() string {
	prefix := "config"
	if e.Source == SourceTargetFile {
		prefix = "target file"
	}
	if e.File != "" {
		prefix = cmp.Or(e.Source, SourceConfigFile) + " " + e.File
	}
	if len(e.Problems) == 1 {
		return prefix + ": " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", prefix, len(e.Problems))
	for i, p := range e.Problems {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-maxListed)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// sortProblems orders problems by position, those without one last, and
// drops exact duplicates (an anchor merged into several places can report
// the same key twice).
func sortProblems(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			strings.Compare(a.Path, b.Path),
			strings.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(ps)
}
