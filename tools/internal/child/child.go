// Package child starts and stops the processes the repository's tools
// drive (make chaos, make bench-fleet): each with its output appended to a
// log file, killed when the tool dies (parent-death signal), and stopped
// by a signal with a grace before SIGKILL.
package child

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is one child process.
type Process struct {
	// Name names the process in errors.
	Name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // why it exited; set before done closes
}

// Start starts bin with args, its stderr (and stdout, unless pipeStdout)
// appended to logPath. With pipeStdout, the caller reads the returned
// stdout and must keep reading it until the process exits.
func Start(name, logPath string, pipeStdout bool, bin string, args ...string) (*Process, *bufio.Reader, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = log.Close() }() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = log
	var out *bufio.Reader
	if pipeStdout {
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		out = bufio.NewReader(pipe)
	} else {
		cmd.Stdout = log
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, out, nil
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Alive returns an error saying how the process ended, if it has; nil
// while it runs.
func (p *Process) Alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v (see its log)", p.Name, p.err)
	default:
		return nil
	}
}

// Err is how the process exited (nil for status 0); call it once it has.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig without waiting.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// SignalWait sends sig and waits for the exit; after grace it kills the
// process and says so.
func (p *Process) SignalWait(sig syscall.Signal, grace time.Duration) error {
	if err := p.Signal(sig); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of %v", p.Name, grace, sig)
	}
}

// Stop ends the process with SIGTERM, and SIGKILL after grace. A nil
// Process is already stopped.
func (p *Process) Stop(grace time.Duration) {
	if p != nil {
		_ = p.SignalWait(syscall.SIGTERM, grace)
	}
}

// FreeAddr returns a loopback address with a port free a moment ago, for
// a child that must be told its port.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}
