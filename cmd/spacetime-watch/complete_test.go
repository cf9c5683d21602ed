package main

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// complete asks the command line for completions as the bash and zsh
// scripts do, and returns the words offered.
func completions(t *testing.T, words ...string) []string {
	t.Helper()
	r := invoke(context.Background(), append([]string{completionFlag}, words...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%s %q: %s", completionFlag, words, r)
	}
	return strings.Fields(r.stdout)
}

// leafCommands lists every command line the root --help shows (kingpin
// lists the leaves with their full path: "silence add", "review"), without
// kingpin's own help command.
func leafCommands(t *testing.T) [][]string {
	t.Helper()
	r := invoke(context.Background(), "--help")
	_, section, ok := strings.Cut(r.stdout, "\nCommands:\n")
	if r.code != 0 || !ok {
		t.Fatalf("--help has no Commands: section: %s", r)
	}
	var out [][]string
	for line := range strings.Lines(section) {
		if line == "" || line[0] < 'a' || line[0] > 'z' {
			continue // help text, examples, blank lines
		}
		var path []string
		for _, w := range strings.Fields(line) {
			if strings.ContainsAny(w[:1], "-[<") {
				break
			}
			path = append(path, strings.TrimSuffix(w, "*")) // run* is the default
		}
		if path[0] != "help" {
			out = append(out, path)
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %q in --help", out)
	}
	return out
}

// TestCompletionEveryCommandAndFlag: for every command --help lists, each
// word of its path is offered where it is typed (`spacetime-watch <TAB>`
// offers every top-level command although run is the default), and every
// flag its --help lists is offered after `--`, the parent commands' flags
// included (`silence add --<TAB>` offers --daemon.url).
func TestCompletionEveryCommandAndFlag(t *testing.T) {
	t.Parallel()
	for _, path := range leafCommands(t) {
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for i, w := range path {
				if offered := completions(t, append(slices.Clone(path[:i]), "")...); !slices.Contains(offered, w) {
					t.Errorf("spacetime-watch %s<TAB> offers %q, not %s", strings.Join(path[:i], " ")+" ", offered, w)
				}
			}
			r := invoke(context.Background(), append(slices.Clone(path), "--help")...)
			flags := helpFlags(r.stdout)
			if r.code != 0 || len(flags) == 0 {
				t.Fatalf("%s --help: %s", name, r)
			}
			offered := completions(t, append(slices.Clone(path), "--")...)
			for _, f := range flags {
				if !slices.Contains(offered, "--"+f.name) {
					t.Errorf("spacetime-watch %s --<TAB> offers %q, not --%s", name, offered, f.name)
				}
			}
		})
	}
}

// TestCompletionTopLevel covers what the walk over the commands does not:
// the flags at the top level (the application's and those of run, the
// default command, --version among them), prefixes, a flag's values, and
// the commands after a finished flag.
func TestCompletionTopLevel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		words []string
		want  []string
		not   []string
	}{
		{[]string{"--"}, []string{"--version", "--log.level", "--config.file", "--help"}, []string{"--daemon.url"}},
		{[]string{""}, []string{"run", "verify", "silence", "version", "demo"}, []string{"add", "--version"}},
		{[]string{"--log.level", ""}, []string{"debug", "info", "warn", "error"}, []string{"run"}},
		{[]string{"--log.level", "debug", ""}, []string{"run", "silence"}, []string{"debug"}},
		{[]string{"silence", ""}, []string{"add", "list", "expire"}, []string{"run"}},
		{[]string{"verify", "--output", ""}, []string{"table", "json"}, nil},
		{[]string{"deployment", "start", "--"}, []string{"--version", "--target", "--daemon.url"}, []string{"--config.file"}},
	} {
		got := completions(t, c.words...)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q offers %q, not %s", c.words, got, w)
			}
		}
		for _, w := range c.not {
			if slices.Contains(got, w) {
				t.Errorf("completing %q offers %s, which does not belong there (%q)", c.words, w, got)
			}
		}
	}
}
