package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
)

// The fake Slack's messages, read back into notices. An alerts message's
// plain text is its header and then one line per alert:
// "<mark> fps_low on sim-0 (warning)", the mark ✅ for a resolved alert; a
// review is a text message whose header reads "<mark> Review minute-2 of
// sim-0 (1.0.0): PASS" and whose body names the deployment.
var (
	alertLine      = regexp.MustCompile(`^(\S+) (\S+) on (\S*) \((\S+)\)$`)
	reviewTitle    = regexp.MustCompile(`Review (\S+) of (\S+)`)
	reviewDeployed = regexp.MustCompile(`Deployment (\S+) started`)
)

// resolvedMark starts the line of a resolved alert.
const resolvedMark = "✅"

// readSlack turns the fake Slack's messages into alert notices and review
// notices. A message it cannot account for in full (cut short, unknown
// shape) is a problem: a notice it cannot see could hide a loss.
func readSlack(msgs []slackfake.Message) (notices []Notice, reviews []ReviewNotice, problems []string) {
	for _, m := range msgs {
		lines := strings.Split(m.Text, "\n")
		if t := reviewTitle.FindStringSubmatch(lines[0]); t != nil && len(lines) == 1 {
			r := ReviewNotice{Review: t[1], Target: t[2], At: m.Received}
			blocks, err := m.DecodeBlocks()
			if err != nil {
				problems = append(problems, err.Error())
			}
			for _, b := range blocks {
				for _, text := range b.Texts {
					if d := reviewDeployed.FindStringSubmatch(text); d != nil && r.Deployment == "" {
						r.Deployment = d[1]
					}
				}
			}
			if r.Deployment == "" {
				problems = append(problems, fmt.Sprintf("review message %s names no deployment", m.TS))
			}
			reviews = append(reviews, r)
			continue
		}
		if len(lines) < 2 {
			problems = append(problems, fmt.Sprintf("message %s is neither alerts nor a review: %q", m.TS, lines[0]))
			continue
		}
		for _, line := range lines[1:] {
			a := alertLine.FindStringSubmatch(line)
			if a == nil {
				problems = append(problems, fmt.Sprintf("message %s: cannot read the line %q", m.TS, line))
				continue
			}
			state := stateFiring
			if a[1] == resolvedMark {
				state = stateResolved
			}
			notices = append(notices, Notice{Alert: a[2], Target: a[3], State: state, At: m.Received})
		}
	}
	return notices, reviews, problems
}
