package config

// DidYouMean returns " (did you mean X?)" for the known name closest to s, when
// it is close enough to be a likely typo (two edits at most), and "" otherwise.
// Config errors use it, and so does the daemon's API for the names a silence
// matcher gives.
func DidYouMean(s string, known []string) string {
	best, bestDist := "", 3 // suggest only within two edits
	for _, k := range known {
		if d := editDistance(s, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance between a and b, by bytes: config
// keys are ASCII. Inputs are cut at 64 bytes so a hostile key costs little.
func editDistance(a, b string) int {
	if len(a) > 64 {
		a = a[:64]
	}
	if len(b) > 64 {
		b = b[:64]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
