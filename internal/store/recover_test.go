package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	bolt "go.etcd.io/bbolt"
)

// buildState writes a state dir worth damaging: a deployment and ~300 KB
// of check history taken into a backup, then a second deployment after the
// backup, so that a restore is visible. It returns the dir.
func buildState(t *testing.T, clk *testkit.Clock) string {
	t.Helper()
	dir := t.TempDir()
	s := openT(t, dir, Options{Now: clk.Now})
	if _, err := s.StartDeployment(Deployment{ID: "before-backup", Target: "vr", Version: "1", Source: SourceConfig}); err != nil {
		t.Fatal(err)
	}
	recs := make([]CheckRecord, 300)
	for i := range recs {
		recs[i] = CheckRecord{Check: "health", Result: ResultPass, Reason: strings.Repeat("x", 1000)}
	}
	mustDo(t, s.RecordCheck("vr", recs...))
	mustDo(t, s.Backup())
	if _, err := s.StartDeployment(Deployment{ID: "after-backup", Target: "vr", Version: "2", Source: SourceAPI}); err != nil {
		t.Fatal(err)
	}
	mustDo(t, s.Close())
	return dir
}

// copyDir copies the regular files of src into a new temp dir.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	mustDo(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		mustDo(t, err)
		mustDo(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
	return dst
}

// Ways to damage a state file.
func truncateHalf(t *testing.T, path string) {
	fi, err := os.Stat(path)
	mustDo(t, err)
	mustDo(t, os.Truncate(path, fi.Size()/2))
}

func randomBytes(t *testing.T, path string) {
	b := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	mustDo(t, os.WriteFile(path, b, 0o600))
}

func zeroLength(t *testing.T, path string) { mustDo(t, os.WriteFile(path, nil, 0o600)) }

// garbleDataPages keeps the two meta pages and the size, and overwrites
// every other page with random bytes: bbolt opens the file, then panics or
// faults when it follows the garbage.
func garbleDataPages(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	mustDo(t, err)
	r := rand.New(rand.NewPCG(3, 4))
	page := os.Getpagesize()
	for i := 2 * page; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	mustDo(t, os.WriteFile(path, b, 0o600))
}

// editFile changes a healthy file with bbolt directly, as another program
// (or a newer spacetime-watch) would.
func editFile(fn func(tx *bolt.Tx) error) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		mustDo(t, err)
		mustDo(t, db.Update(fn))
		mustDo(t, db.Close())
	}
}

func setSchemaVersion(v string) func(t *testing.T, path string) {
	return editFile(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(v)) })
}

func TestDamagedStateIsSetAsideAndRecovered(t *testing.T) {
	clk := testkit.NewClock(t)
	template := buildState(t, clk)

	damages := []struct {
		name   string
		damage func(t *testing.T, path string)
		reason string // in OpenReport.Reason
	}{
		{"truncated", truncateHalf, "truncated"},
		{"random bytes", randomBytes, "invalid database"},
		{"zero length", zeroLength, "empty"},
		{"garbled data pages", garbleDataPages, ""},
		{"newer schema version", setSchemaVersion("99"), "schema version 99 is newer"},
		{"unreadable schema version", setSchemaVersion("one"), `schema version "one" is not a positive integer`},
		{"no schema version", editFile(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketMeta) }), "schema version is missing"},
		{"bad record", editFile(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketDeployments).Bucket([]byte("vr")).Put(seqKey(1), []byte("{not json"))
		}), "is not valid JSON"},
	}
	backups := []struct {
		name       string
		prepare    func(t *testing.T, bak string)
		fromBackup bool
	}{
		{"good backup", func(*testing.T, string) {}, true},
		{"no backup", func(t *testing.T, bak string) { mustDo(t, os.Remove(bak)) }, false},
		{"damaged backup", truncateHalf, false},
	}
	for _, d := range damages {
		for _, b := range backups {
			t.Run(d.name+"/"+b.name, func(t *testing.T) {
				dir := copyDir(t, template)
				path := filepath.Join(dir, "state.db")
				d.damage(t, path)
				b.prepare(t, path+".bak")
				damaged, err := os.ReadFile(path)
				mustDo(t, err)

				s := openT(t, dir, Options{Now: clk.Now})
				rep := s.Report()
				if !rep.Recovered || !rep.SafeMode || rep.Created || rep.FromBackup != b.fromBackup {
					t.Errorf("Report() = %+v, want Recovered, SafeMode, FromBackup=%v", rep, b.fromBackup)
				}
				if !strings.Contains(rep.Reason, d.reason) {
					t.Errorf("Reason = %q, want it to contain %q", rep.Reason, d.reason)
				}
				t.Logf("report: %s", rep)

				// The damaged file is kept, byte for byte.
				if kept, err := os.ReadFile(rep.CorruptPath); err != nil || !bytes.Equal(kept, damaged) {
					t.Errorf("CorruptPath %q does not hold the damaged file (%v)", rep.CorruptPath, err)
				}
				if want := path + ".corrupt-" + strconv.FormatInt(clk.Now().Unix(), 10); rep.CorruptPath != want {
					t.Errorf("CorruptPath = %q, want %q", rep.CorruptPath, want)
				}

				// The state is the backup's (the deployment after it is gone), or empty.
				ds, err := s.Deployments("")
				mustDo(t, err)
				var ids []string
				for _, d := range ds {
					ids = append(ids, d.ID)
				}
				want := ""
				if b.fromBackup {
					want = "before-backup"
				}
				if strings.Join(ids, ",") != want {
					t.Errorf("deployments after recovery = %v, want [%s]", ids, want)
				}
				if b.name == "damaged backup" {
					if !strings.Contains(rep.BackupProblem, "truncated") {
						t.Errorf("BackupProblem = %q, want it to say the backup is truncated", rep.BackupProblem)
					}
					if _, err := os.Stat(path + ".bak.corrupt-" + strconv.FormatInt(clk.Now().Unix(), 10)); err != nil {
						t.Errorf("damaged backup not kept aside: %v", err)
					}
				}

				// The store works, and the next start is a clean one.
				_, err = s.StartDeployment(Deployment{Target: "vr", Source: SourceAPI})
				mustDo(t, err)
				checkInvariants(t, s)
				mustDo(t, s.Close())
				s = openT(t, dir, Options{Now: clk.Now})
				if rep := s.Report(); rep.Recovered || rep.Created {
					t.Errorf("Report() on the next start = %+v, want a clean load", rep)
				}
			})
		}
	}
}

func TestMissingStateIsRestoredFromBackup(t *testing.T) {
	clk := testkit.NewClock(t)
	dir := buildState(t, clk)
	mustDo(t, os.Remove(filepath.Join(dir, "state.db")))

	s := openT(t, dir, Options{Now: clk.Now})
	if rep := s.Report(); !rep.Recovered || !rep.FromBackup || !rep.SafeMode || rep.CorruptPath != "" {
		t.Errorf("Report() = %+v, want Recovered from backup in safe mode", rep)
	}
	if d, ok, err := s.DeploymentByID("before-backup"); err != nil || !ok || d.Version != "1" {
		t.Errorf("DeploymentByID(before-backup) = %+v, %v, %v", d, ok, err)
	}
}

func TestSecondCorruptionOnTheSameSecondIsKeptToo(t *testing.T) {
	clk := testkit.NewClock(t)
	dir := buildState(t, clk)
	path := filepath.Join(dir, "state.db")
	var aside []string
	for range 2 {
		zeroLength(t, path)
		s := openT(t, dir, Options{Now: clk.Now})
		aside = append(aside, s.Report().CorruptPath)
		mustDo(t, s.Close())
	}
	if aside[0] == aside[1] {
		t.Fatalf("both damaged files set aside as %s", aside[0])
	}
	for _, p := range aside {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

func TestBackup(t *testing.T) {
	clk := testkit.NewClock(t)
	dir := t.TempDir()
	s := openT(t, dir, Options{Now: clk.Now})
	_, err := s.StartDeployment(Deployment{ID: "one", Target: "vr", Source: SourceConfig})
	mustDo(t, err)
	mustDo(t, s.Backup())
	_, err = s.StartDeployment(Deployment{ID: "two", Target: "vr", Source: SourceConfig})
	mustDo(t, err)
	mustDo(t, s.Backup()) // replaces the first

	if _, err := os.Stat(filepath.Join(dir, "state.db.bak.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file left behind: %v", err)
	}
	// The backup is a working state file holding what was there when it was taken.
	restored := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir, "state.db.bak"))
	mustDo(t, err)
	mustDo(t, os.WriteFile(filepath.Join(restored, "state.db"), b, 0o600))
	r := openT(t, restored, Options{Now: clk.Now})
	if rep := r.Report(); rep.Recovered || rep.Created {
		t.Errorf("opening the backup: Report() = %+v, want a clean load", rep)
	}
	ds, err := r.Deployments("vr")
	if err != nil || len(ds) != 2 || ds[0].ID != "two" {
		t.Errorf("backup holds %+v, %v; want deployments two and one", ds, err)
	}
}

func TestLeftoverTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"state.db.tmp", "state.db.bak.tmp"} {
		mustDo(t, os.WriteFile(filepath.Join(dir, name), []byte("half"), 0o600))
	}
	openT(t, dir, Options{})
	for _, name := range []string{"state.db.tmp", "state.db.bak.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", name, err)
		}
	}
}
