package review

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ReviewsDir is the folder, under the state dir, that holds one Markdown
// and one JSON report per delivered review:
// reviews/<deployment-id>-<review>.md and .json.
const ReviewsDir = "reviews"

// maxFileBase keeps file names well inside NAME_MAX (255 bytes).
const maxFileBase = 160

// FileBase is the name, without extension, of a review's files: the
// deployment ID and the review name. Deployment IDs from the API may hold
// anything; characters other than letters, digits, '.', '_' and '-' become
// '_' and a leading '.' does too, and a changed or shortened ID gets a hash
// of the original so that two IDs never share files.
func FileBase(deploymentID, review string) string {
	var b strings.Builder
	for i, r := range deploymentID {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		if !ok || (i == 0 && r == '.') {
			r = '_'
		}
		b.WriteRune(r)
	}
	id := b.String()
	if id != deploymentID || len(id) > maxFileBase {
		sum := sha256.Sum256([]byte(deploymentID))
		id = id[:min(len(id), maxFileBase)] + "-" + hex.EncodeToString(sum[:4])
	}
	return id + "-" + review
}

// writeReviewFiles writes r's Markdown and JSON reports into dir/reviews,
// each atomically (a reader sees the old file or the new, never half), and
// returns the JSON file's path.
func writeReviewFiles(dir string, r Review) (string, error) {
	js, err := JSON(r)
	if err != nil {
		return "", fmt.Errorf("render %s of %s as JSON: %w", r.Name, r.DeploymentID, err)
	}
	md := Markdown(r)
	rd := filepath.Join(dir, ReviewsDir)
	if err := os.MkdirAll(rd, 0o750); err != nil {
		return "", fmt.Errorf("create the reviews dir: %w", err)
	}
	base := FileBase(r.DeploymentID, r.Name)
	if err := writeFileAtomic(rd, base+".md", []byte(md)); err != nil {
		return "", err
	}
	if err := writeFileAtomic(rd, base+".json", js); err != nil {
		return "", err
	}
	return filepath.Join(rd, base+".json"), nil
}

// writeFileAtomic writes data to dir/name through a synced temporary file
// renamed over it, then syncs dir so the rename survives a power cut.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
		}
	}()
	if err := f.Chmod(0o640); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename durable. File systems that cannot fsync a
// directory answer EINVAL; the rename stands there too, as the store's own
// syncDir also accepts.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// readReviewFile reads a review's JSON report back; ok is false when the
// file does not exist.
func readReviewFile(dir, deploymentID, review string) (r Review, ok bool, err error) {
	path := filepath.Join(dir, ReviewsDir, FileBase(deploymentID, review)+".json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Review{}, false, nil
	}
	if err != nil {
		return Review{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Review{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	return r, true, nil
}
