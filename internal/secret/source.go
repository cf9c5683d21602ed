package secret

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxFileBytes bounds a secret file read: a token, a URL or an HMAC key
// is well under 1 KiB.
const maxFileBytes = 64 << 10

// Source is where one secret lives. Its zero value names none.
type Source struct {
	file, env string
	getenv    func(string) string
	literal   string
}

// File is a secret kept in the file at path, trimmed of surrounding white
// space, read again at every Read.
func File(path string) Source { return Source{file: path} }

// Env is a secret kept in the environment variable name, looked up with
// getenv (os.Getenv when nil) at every Read.
func Env(name string, getenv func(string) string) Source {
	if getenv == nil {
		getenv = os.Getenv
	}
	return Source{env: name, getenv: getenv}
}

// Literal is a secret given as is (tests, and values already read).
func Literal(v string) Source { return Source{literal: v} }

// IsZero reports whether s names no source.
func (s Source) IsZero() bool { return s.file == "" && s.env == "" && s.literal == "" }

// Path is the file a File source reads, "" for the others.
func (s Source) Path() string { return s.file }

// Describe names the source, never the value: "file /run/credentials/x",
// "env SLACK_WEBHOOK_URL", "literal" or "none".
func (s Source) Describe() string {
	switch {
	case s.file != "":
		return "file " + s.file
	case s.env != "":
		return "env " + s.env
	case s.literal != "":
		return "literal"
	}
	return "none"
}

// UnavailableError says a secret cannot be read now: its file is missing,
// unreadable or empty, or its variable unset. Fix says what to do.
type UnavailableError struct {
	// Source is where the secret was looked for.
	Source Source
	// Problem is what is wrong: "does not exist", "is empty", ...
	Problem string
	// Fix is the operator's next step.
	Fix string
	// Err is the underlying error, if any (never carries the value).
	Err error
}

func (e *UnavailableError) Error() string {
	return "secret " + e.Source.Describe() + " " + e.Problem + ": " + e.Fix
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Read returns the secret's current value and registers it with the
// redactor. An error is an *UnavailableError naming the source and the fix.
func (s Source) Read() (Value, error) {
	var v string
	switch {
	case s.file != "":
		b, err := readFile(s.file)
		if err != nil {
			return "", err
		}
		v = strings.TrimSpace(string(b))
		if v == "" {
			return "", &UnavailableError{Source: s, Problem: "is empty", Fix: "write the secret into it"}
		}
	case s.env != "":
		v = strings.TrimSpace(s.getenv(s.env))
		if v == "" {
			return "", &UnavailableError{Source: s, Problem: "is not set or empty", Fix: "set it in the daemon's environment, or use a *_file (systemd: LoadCredential=)"}
		}
	case s.literal != "":
		v = s.literal
	default:
		return "", &UnavailableError{Source: s, Problem: "is not configured", Fix: "set the *_file or *_env field"}
	}
	Register(v)
	return Value(v), nil
}

func readFile(path string) ([]byte, error) {
	src := File(path)
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &UnavailableError{Source: src, Problem: "does not exist", Fix: "create it holding the secret (read again at the next attempt, no restart needed)", Err: err}
	case err != nil:
		return nil, &UnavailableError{Source: src, Problem: "cannot be read", Fix: "let the daemon's user read it", Err: unwrapPath(err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	switch {
	case err != nil:
		return nil, &UnavailableError{Source: src, Problem: "cannot be read", Fix: "give a regular file holding the secret", Err: unwrapPath(err)}
	case len(b) > maxFileBytes:
		return nil, &UnavailableError{Source: src, Problem: fmt.Sprintf("is larger than %d bytes", maxFileBytes), Fix: "give a file holding only the secret"}
	}
	return b, nil
}

// unwrapPath drops *fs.PathError's path (the message names it already).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
