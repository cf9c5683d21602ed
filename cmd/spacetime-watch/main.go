// Command spacetime-watch watches SpaceTime VR deployments and tells on-call
// engineers, before users feel it, that something is wrong.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/spacetime-vr/spacetime-watch/internal/version"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit statuses shared by every command.
const (
	exitOK        = 0
	exitBadConfig = 3
)

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("spacetime-watch", "Watches SpaceTime VR deployments: post-deployment checks, telemetry thresholds, reviews and alerts.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')

	demoCmd := app.Command("demo", "Run against an embedded simulated SpaceTime VR instance.\n\nExample: spacetime-watch demo")
	versionCmd := app.Command("version", "Print the version and exit.")

	cmd, code, err := parse(app, args)
	if code >= 0 {
		return code
	}
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v (try --help)\n", err)
		return exitBadConfig
	}
	switch cmd {
	case versionCmd.FullCommand():
		fmt.Fprintln(stdout, version.Print("spacetime-watch"))
	case demoCmd.FullCommand():
		return runDemo(stdout)
	}
	return exitOK
}

// terminated carries the exit status kingpin asks for after --help.
type terminated int

// parse runs app.Parse without letting kingpin exit the process: after
// --help or --version it returns the status kingpin asked for (code >= 0),
// so that run stays testable and main alone calls os.Exit.
func parse(app *kingpin.Application, args []string) (cmd string, code int, err error) {
	app.Terminate(func(c int) { panic(terminated(c)) })
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = int(t)
		}
	}()
	cmd, err = app.Parse(args)
	return cmd, -1, err
}
