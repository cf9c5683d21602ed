// Package testkit holds the helpers the tests of several packages share:
// the base date of tests with fixed dates, a simulated instance on loopback
// ports, files in a temp dir, and polling for a condition. Only tests import
// it (internal/archtest checks).
package testkit
