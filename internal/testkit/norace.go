//go:build !race

package testkit

// RaceEnabled is true when the tests run with -race (see race.go).
const RaceEnabled = false
