package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/mdlayher/vsock"
	"github.com/prometheus/exporter-toolkit/web"
)

// vsockScheme marks a --web.listen-address on vsock, as exporter-toolkit
// spells it: vsock://:PORT.
const vsockScheme = "vsock://"

// listen opens the listeners exporter-toolkit's web.ListenAndServe would:
// systemd's activated sockets with --web.systemd-socket, else each
// --web.listen-address, on vsock for vsock://:PORT and on TCP otherwise.
// The daemon opens them itself, and serves them with web.ServeMultiple,
// so that READY=1 follows a successful bind and each failure names its
// address: a *ConfigError for what no restart fixes in the flags (a
// malformed address, socket activation without sockets), a *ListenError
// for the rest. On error, no listener is left open.
func listen(flags *web.FlagConfig) ([]net.Listener, error) {
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		return activated()
	}
	var ls []net.Listener
	for _, addr := range *flags.WebListenAddresses {
		l, err := listenOn(addr)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, err
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return nil, &ConfigError{Err: errors.New("--web.listen-address: no address given; give one (default :9850) or --web.systemd-socket")}
	}
	return ls, nil
}

// activated returns the sockets systemd passed (LISTEN_FDS, LISTEN_PID).
func activated() ([]net.Listener, error) {
	ls, err := activation.Listeners()
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("--web.systemd-socket: %w", err)}
	}
	var open []net.Listener
	for _, l := range ls {
		if l != nil { // a passed fd that is not a listening socket
			open = append(open, l)
		}
	}
	if len(open) == 0 {
		return nil, &ConfigError{Err: errors.New("--web.systemd-socket: systemd passed no listening socket (LISTEN_FDS unset or not for this process); start the daemon through spacetime-watch.socket, or drop the flag and use --web.listen-address")}
	}
	return open, nil
}

// listenOn opens one --web.listen-address.
func listenOn(addr string) (net.Listener, error) {
	if !strings.HasPrefix(addr, vsockScheme) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			le := &ListenError{Addr: addr, Err: err}
			if _, malformed := errors.AsType[*net.AddrError](err); malformed {
				return nil, &ConfigError{Err: le} // a bad flag: no restart fixes it
			}
			return nil, le
		}
		return l, nil
	}
	port, err := vsockPort(addr)
	if err != nil {
		return nil, &ConfigError{Err: &ListenError{Addr: addr, Err: err}}
	}
	l, err := vsock.Listen(port, nil)
	if err != nil {
		if errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EADDRNOTAVAIL) {
			err = fmt.Errorf("%w (this host has no usable vsock: it needs a VM with a virtio-vsock device, or the vsock_loopback module)", err)
		}
		return nil, &ListenError{Addr: addr, Err: err}
	}
	return l, nil
}

// vsockPort reads PORT from vsock://:PORT; the context ID is always the
// local one.
func vsockPort(addr string) (uint32, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return 0, fmt.Errorf("want vsock://:PORT: %w", err)
	}
	_, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		return 0, fmt.Errorf("want vsock://:PORT: %w", err)
	}
	port, err := strconv.ParseUint(p, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("want vsock://:PORT with a numeric port, got %q", p)
	}
	return uint32(port), nil
}
