package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The repository stands alone: no tracked file points to a document that
// lives outside it. What the code relies on about the instance is written
// down in docs/instance.md, and references into it name real headings.

// repoRoot is the top of the work tree.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git work tree: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// trackedFiles lists the files git tracks, relative to root.
func trackedFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// readTracked returns the tracked files' contents, skipping ones deleted in
// the work tree and binary ones.
func readTracked(t *testing.T) map[string]string {
	t.Helper()
	root := repoRoot(t)
	contents := map[string]string{}
	for _, f := range trackedFiles(t, root) {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // deleted or unreadable in the work tree
		}
		if strings.IndexByte(string(b), 0) >= 0 {
			continue // binary
		}
		contents[f] = string(b)
	}
	return contents
}

var (
	// mdRefRE matches a Markdown file's name or path in any text; not a
	// name built by a format ("%s.md", "{target}-hour-1.md").
	mdRefRE = regexp.MustCompile(`(?:^|[^%{}A-Za-z0-9_./-])([A-Za-z0-9.][A-Za-z0-9_./-]*\.md)\b`)
	// upRefRE matches a relative path that climbs: ../x, ../../x/y.
	upRefRE = regexp.MustCompile(`(?:\.\./)+[A-Za-z_][A-Za-z0-9_.-]*`)
)

// TestNoForeignDocReferences: every Markdown document a tracked file names
// is in the repository (by its path from the file or from the top, or by
// its name), and no relative path climbs out of the work tree. A document
// the code relies on is brought under docs/, in this project's words.
func TestNoForeignDocReferences(t *testing.T) {
	files := readTracked(t)
	mdNames := map[string]bool{}
	for f := range files {
		if strings.HasSuffix(f, ".md") {
			mdNames[f], mdNames[filepath.Base(f)] = true, true
		}
	}
	for f, s := range files {
		dir := filepath.Dir(f)
		for i, line := range strings.Split(s, "\n") {
			for _, m := range mdRefRE.FindAllStringSubmatch(line, -1) {
				ref := strings.TrimPrefix(m[1], "./")
				if !mdNames[ref] && !mdNames[filepath.Clean(filepath.Join(dir, ref))] && !mdNames[filepath.Base(ref)] {
					t.Errorf("%s:%d names %s, which is not in the repository; bring what it says under docs/", f, i+1, ref)
				}
			}
			for _, ref := range upRefRE.FindAllString(line, -1) {
				if p := filepath.Clean(filepath.Join(dir, ref)); p == ".." || strings.HasPrefix(p, "../") {
					t.Errorf("%s:%d points to %s, outside the repository", f, i+1, ref)
				}
			}
		}
	}
}

var (
	headingRE = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)
	anchorRE  = regexp.MustCompile(`docs/instance\.md#([A-Za-z0-9_-]+)`)
	quotedRE  = regexp.MustCompile(`docs/instance\.md,\s*(?://\s*)?"([^"]+)"`)
)

// slug is GitHub's heading anchor: lower case, punctuation other than
// hyphens and underscores dropped, spaces turned into hyphens.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestInstanceDocReferencesExist(t *testing.T) {
	files := readTracked(t)
	doc, ok := files["docs/instance.md"]
	if !ok {
		t.Fatal("docs/instance.md is missing")
	}
	headings, anchors := map[string]bool{}, map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(doc, -1) {
		headings[m[1]] = true
		anchors[slug(m[1])] = true
	}
	for f, s := range files {
		for _, m := range anchorRE.FindAllStringSubmatch(s, -1) {
			if !anchors[m[1]] {
				t.Errorf("%s: docs/instance.md#%s names no heading of docs/instance.md", f, m[1])
			}
		}
		for _, m := range quotedRE.FindAllStringSubmatch(s, -1) {
			// A comment may wrap inside the quotes.
			name := strings.Join(strings.Fields(strings.ReplaceAll(m[1], "//", " ")), " ")
			if !headings[name] {
				t.Errorf("%s: docs/instance.md, %q names no heading of docs/instance.md", f, name)
			}
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Tokens":                         "tokens",
		"Quirks of the shipped server":   "quirks-of-the-shipped-server",
		"Intervals and keep-alive":       "intervals-and-keep-alive",
		"What a SpaceTime VR instance …": "what-a-spacetime-vr-instance-…",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
