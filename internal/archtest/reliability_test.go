package archtest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// reliabilityDoc is the fault scenario list, with its table of tests.
const reliabilityDoc = "docs/reliability.md"

// reliabilityScenarios is how many scenarios the list numbers.
const reliabilityScenarios = 20

// scenarioRow matches a row of the table: "| 8 | `dir.TestA`, ... | full |".
var scenarioRow = regexp.MustCompile(`^\| *([0-9]+) *\|(.*)\|(.*)\| *$`)

// namedTest matches one `dir.TestName` reference.
var namedTest = regexp.MustCompile("`([a-z0-9_/-]+)\\.(Test[A-Za-z0-9_]+)`")

// TestReliabilityScenariosNameTheirTests keeps docs/reliability.md's table
// true: every scenario has a row naming at least one test, and every test
// named exists in its package directory.
func TestReliabilityScenariosNameTheirTests(t *testing.T) {
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, reliabilityDoc))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		m := scenarioRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > reliabilityScenarios || rows[n] {
			t.Errorf("%s: row %d is out of 1..%d or repeated", reliabilityDoc, n, reliabilityScenarios)
			continue
		}
		rows[n] = true
		tests := namedTest.FindAllStringSubmatch(m[2], -1)
		if len(tests) == 0 {
			t.Errorf("%s: scenario %d names no test", reliabilityDoc, n)
		}
		for _, nt := range tests {
			if !testExists(t, filepath.Join(root, nt[1]), nt[2]) {
				t.Errorf("%s: scenario %d names %s.%s, which does not exist", reliabilityDoc, n, nt[1], nt[2])
			}
		}
		if cov := strings.TrimSpace(m[3]); cov != "full" && !strings.HasPrefix(cov, "full: ") && !strings.HasPrefix(cov, "partial: ") {
			t.Errorf("%s: scenario %d coverage %q, want \"full\" (or \"full: figures\") or \"partial: what is missing\"", reliabilityDoc, n, cov)
		}
	}
	for n := 1; n <= reliabilityScenarios; n++ {
		if !rows[n] {
			t.Errorf("%s: scenario %d has no row in the table of tests", reliabilityDoc, n)
		}
	}
}

// testExists reports whether a _test.go file in dir declares func name.
func testExists(t *testing.T, dir, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	decl := []byte("func " + name + "(")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(src, decl) {
			return true
		}
	}
	return false
}
