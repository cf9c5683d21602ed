// Package testkit holds the helpers the tests of several packages share:
// the base date of tests with fixed dates and a clock on it, golden files,
// files in a temp dir, polling for a condition, an in-memory KV, and the
// proof that a secret was never printed. A simulated instance for a test
// comes from internal/sim/simtest (the simulator's own tests use testkit).
// Only tests import either (internal/archtest checks).
package testkit
