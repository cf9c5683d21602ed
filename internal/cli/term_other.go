//go:build !unix

package cli

import "os"

// fileWidth: off unix, output is taken for a pipe (DefaultWidth, no
// progress lines).
func fileWidth(*os.File) (int, bool) { return 0, false }
