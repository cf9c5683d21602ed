#!/bin/sh
# clock-tests.sh prints "<package> <-run regex>" for every package whose
# tests take a fixed date from testkit (BaseTime, NewClock, NewClockAt):
# the Test functions that do so, or "." (every test) when a helper does,
# since the tests calling that helper cannot be told apart by name.
# make test-clock reruns exactly those with the base date moved.
set -eu
pattern='testkit\.(BaseTime|NewClock|NewClockAt)\b'
for dir in $(grep -rlE --include='*_test.go' "$pattern" cmd internal tools | xargs -n1 dirname | sort -u); do
	awk '
		/^func / {
			name = $2
			if (name ~ /^\(/) name = $4 # a method: func (r T) Name(
			sub(/\(.*/, "", name)
		}
		/testkit\.(BaseTime|NewClock|NewClockAt)[^A-Za-z0-9_]/ {
			if (name ~ /^Test[A-Z0-9_]/) tests[name] = 1
			else helper = 1
		}
		END {
			if (helper) { print "."; exit }
			out = ""
			for (t in tests) out = out (out == "" ? "" : "|") t
			print "^(" out ")$"
		}
	' "$dir"/*_test.go | sed "s|^|./$dir |"
done
