//go:build race

package testkit

// RaceEnabled is true when the tests run with -race. An allocation count
// is then meaningless: the race detector makes sync.Pool drop items at
// random, so pooled buffers (encoding/json's scanners) are allocated anew.
const RaceEnabled = true
