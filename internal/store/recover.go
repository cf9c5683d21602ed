package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OpenReport says what Open found in the state dir. The daemon logs it,
// counts spacetime_watch_state_load_errors_total and raises an operator
// alert when Recovered is set.
type OpenReport struct {
	// Created is set when the state dir held no state: a first start.
	Created bool
	// Recovered is set when the state was damaged or missing while a backup
	// existed; Reason says why, and the store holds the backup's state
	// (FromBackup) or nothing.
	Recovered bool
	// Reason is the damage found, in words, e.g. "the file is truncated:
	// 16384 bytes long, its meta page needs 98304". Empty unless Recovered.
	Reason string
	// CorruptPath is where the damaged state.db was moved, or "".
	CorruptPath string
	// BackupProblem says why state.db.bak could not be restored when it
	// exists but is damaged too (it is then kept aside as well), or "".
	BackupProblem string
	// FromBackup is set when state.db.bak was restored.
	FromBackup bool
	// BackupTime is when the restored backup was written (its mtime).
	BackupTime time.Time
	// SafeMode is set whenever state was lost (Recovered): whatever happened
	// since the restored backup, or ever, is unknown, so the daemon should
	// take its first observations silently rather than re-announce alerts
	// and deployments it may already have announced.
	SafeMode bool
	// WhileRunning is set in the report OnRecovered gives: the damage was
	// found while the store was open, and the store continued on a fresh
	// state holding the queued messages it could read (KeptMessages).
	WhileRunning bool
	// KeptMessages is how many queued outbox messages were carried over
	// from the damaged file (WhileRunning only).
	KeptMessages int
}

// String is one line for the log and the operator alert.
func (r OpenReport) String() string {
	switch {
	case r.Created:
		return "new state dir: no state to load"
	case !r.Recovered:
		return "state loaded"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "state damaged: %s", r.Reason)
	if r.CorruptPath != "" {
		fmt.Fprintf(&b, "; kept as %s", r.CorruptPath)
	}
	if r.BackupProblem != "" {
		fmt.Fprintf(&b, "; backup unusable: %s", r.BackupProblem)
	}
	switch {
	case r.WhileRunning:
		fmt.Fprintf(&b, "; found while running, continued on a fresh state with the %d queued message(s) it could read", r.KeptMessages)
	case r.FromBackup:
		fmt.Fprintf(&b, "; restored the backup of %s", r.BackupTime.UTC().Format(time.RFC3339))
	default:
		b.WriteString("; started empty")
	}
	if r.SafeMode {
		b.WriteString("; safe mode")
	}
	return b.String()
}

// File names in the state dir.
const (
	dbFile   = "state.db"
	lockFile = "state.lock"
)

// openState verifies state.db, sets a damaged one aside, restores the
// backup when it is good, and opens the result for writing. It runs with
// the dir lock held. Only environment errors come back as errors.
func openState(dir string, o Options) (*bolt.DB, *os.File, OpenReport, error) {
	path := filepath.Join(dir, dbFile)
	bak := path + ".bak"
	var rep OpenReport

	// Left behind by a crash during a restore or a backup; never live data.
	for _, tmp := range []string{path + ".tmp", bak + ".tmp"} {
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, rep, classify(dir, err)
		}
	}

	exists, reason, err := verifyFile(dir, path, o.LockTimeout)
	if err != nil {
		return nil, nil, rep, err
	}
	switch {
	case reason != "":
		aside, err := moveAside(dir, path, o.Now())
		if err != nil {
			return nil, nil, rep, err
		}
		rep = OpenReport{Recovered: true, SafeMode: true, Reason: reason, CorruptPath: aside}
		if err := restoreBackup(dir, path, bak, o, &rep); err != nil {
			return nil, nil, rep, err
		}
	case !exists:
		// No state.db but a backup: the state was lost (deleted, or a crash
		// between setting a damaged file aside and restoring the backup).
		if _, err := os.Stat(bak); err == nil {
			rep = OpenReport{Recovered: true, SafeMode: true, Reason: "state.db is missing but a backup exists"}
			if err := restoreBackup(dir, path, bak, o, &rep); err != nil {
				return nil, nil, rep, err
			}
		} else {
			rep.Created = true
		}
	}

	db, file, reason, err := openBolt(dir, path, &bolt.Options{Timeout: o.LockTimeout})
	if err == nil && reason != "" {
		// Verified a moment ago, so this should not happen; if it does, do
		// not crash-loop on it: set it aside too and start empty.
		aside, merr := moveAside(dir, path, o.Now())
		if merr != nil {
			return nil, nil, rep, merr
		}
		rep = OpenReport{Recovered: true, SafeMode: true, Reason: reason, CorruptPath: aside}
		db, file, reason, err = openBolt(dir, path, &bolt.Options{Timeout: o.LockTimeout})
		if err == nil && reason != "" {
			err = fmt.Errorf("open new %s: %s", path, reason)
		}
	}
	if err != nil {
		return nil, nil, rep, err
	}
	if err := guard(func() error { return db.Update(initSchema) }); err != nil {
		db.Close()
		return nil, nil, rep, classify(dir, fmt.Errorf("initialise %s: %w", path, err))
	}
	return db, file, rep, nil
}

// restoreBackup copies a good backup over path, or records why it could not.
func restoreBackup(dir, path, bak string, o Options, rep *OpenReport) error {
	exists, reason, err := verifyFile(dir, bak, o.LockTimeout)
	switch {
	case err != nil:
		return err
	case !exists:
		return nil
	case reason != "":
		aside, err := moveAside(dir, bak, o.Now())
		if err != nil {
			return err
		}
		rep.BackupProblem = fmt.Sprintf("%s; kept as %s", reason, aside)
		return nil
	}
	fi, err := os.Stat(bak)
	if err != nil {
		return classify(dir, err)
	}
	if err := copyFile(dir, bak, path); err != nil {
		return err
	}
	rep.FromBackup = true
	rep.BackupTime = fi.ModTime()
	return nil
}

// moveAside renames a damaged file to <path>.corrupt-<unix>. The store
// never deletes these: they are evidence, and the operator decides.
func moveAside(dir, path string, now time.Time) (string, error) {
	base := fmt.Sprintf("%s.corrupt-%d", path, now.Unix())
	aside := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", classify(dir, fmt.Errorf("set damaged state aside: %w", err))
	}
	return aside, syncDir(dir)
}

// copyFile copies src to dst atomically: a temp file, fsync, rename, fsync
// of the dir. A crash leaves dst either as it was or complete.
func copyFile(dir, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return classify(dir, err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	err = writeSynced(dir, tmp, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	if err != nil {
		return err
	}
	return renameSync(dir, tmp, dst)
}

// writeSynced creates path, writes it through fill and fsyncs it. On error
// the partial file is removed.
func writeSynced(dir, path string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return classify(dir, err)
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return classify(dir, fmt.Errorf("write %s: %w", path, err))
	}
	return nil
}

// renameSync renames from to to and makes the rename durable.
func renameSync(dir, from, to string) error {
	if err := os.Rename(from, to); err != nil {
		os.Remove(from)
		return classify(dir, err)
	}
	return syncDir(dir)
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return classify(dir, err)
	}
	defer d.Close()
	// Some file systems cannot fsync a directory; the rename stands anyway.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return classify(dir, fmt.Errorf("fsync %s: %w", dir, err))
	}
	return nil
}
