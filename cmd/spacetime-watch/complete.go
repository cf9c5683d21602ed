package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"
)

// completionFlag is the hidden flag through which the scripts that
// --completion-script-bash and --completion-script-zsh print ask for
// completions: `spacetime-watch --completion-bash WORD... CURRENT`.
const completionFlag = "--completion-bash"

// completionWords returns the words to complete when args is a completion
// query, without the query flag.
func completionWords(args []string) ([]string, bool) {
	i := slices.Index(args, completionFlag)
	if i < 0 {
		return nil, false
	}
	return slices.Delete(slices.Clone(args), i, i+1), true
}

// completer is what kingpin's Application and CmdClause share for
// completion: the flags of one level, and the commands or arguments after it.
type completer interface {
	FlagCompletion(flagName, flagValue string) (choices []string, flagMatch, optionMatch bool)
	CmdCompletion(context *kingpin.ParseContext) []string
}

// complete writes, one per line, the words that may follow words (whose
// last one is the word being completed, possibly empty). It answers as
// kingpin's own --completion-bash does, with two differences:
//
//   - a flag word offers the flags of every command on the line, not only
//     the innermost one's and the application's: `silence add --` offers
//     --daemon.url, which belongs to `silence`;
//   - a line that names no command offers the commands (and the default
//     command's flags), where kingpin selects the default command, run,
//     and then offers nothing.
func complete(app *kingpin.Application, defaultCmd *kingpin.CmdClause, words []string, w io.Writer) {
	// A half-typed line seldom parses; the context still holds the
	// commands matched before the error.
	pc, _ := app.ParseContext(words)
	var cur, prev string
	if n := len(words); n > 0 {
		cur = words[n-1]
		if n > 1 {
			prev = words[n-2]
		}
	}
	// The levels whose flags apply, innermost first; the application last.
	var levels []completer
	typed := false // the line names a command itself
	for _, el := range pc.Elements {
		if c, ok := el.Clause.(*kingpin.CmdClause); ok {
			levels = append([]completer{c}, levels...)
			if c != defaultCmd || slices.Contains(words, c.FullCommand()) {
				typed = true
			}
		}
	}
	innermost := completer(app)
	if len(levels) > 0 && typed {
		innermost = levels[0]
	}
	levels = append(levels, app)

	var options []string
	if strings.HasPrefix(cur, "--") || strings.HasPrefix(prev, "--") {
		options = completeFlag(levels, innermost, pc, cur, prev)
	} else {
		options = innermost.CmdCompletion(pc)
	}
	slices.Sort(options)
	for _, o := range slices.Compact(options) {
		fmt.Fprintln(w, o)
	}
}

// completeFlag completes a flag's name, or the value after it, against
// every level's flags.
func completeFlag(levels []completer, innermost completer, pc *kingpin.ParseContext, cur, prev string) []string {
	name, value := strings.TrimPrefix(cur, "--"), ""
	if !strings.HasPrefix(cur, "--") { // --flag <value being typed>
		name, value = strings.TrimPrefix(prev, "--"), cur
	}
	var all []string
	for _, l := range levels {
		options, flagMatch, valueMatch := l.FlagCompletion(name, value)
		switch {
		case valueMatch: // the flag is complete with its value: what comes next
			return innermost.CmdCompletion(pc)
		case flagMatch: // the flag's values
			return options
		}
		all = append(all, options...)
	}
	return all
}
