package main

import (
	"fmt"
	"io"
)

func runDemo(stdout io.Writer) int {
	fmt.Fprintln(stdout, "spacetime-watch demo: the daemon is not built yet.")
	return exitOK
}
