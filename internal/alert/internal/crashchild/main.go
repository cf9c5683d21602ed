// Command crashchild is the process the outbox crash test
// (internal/alert/crash_test.go) kills. Built with -tags failpoints, it
// kills itself at the cut point named by SPACETIME_WATCH_FAILPOINT.
//
// It opens the state dir, enqueues -enqueue messages named <prefix>-NNN
// while delivering, prints "enqueued <id>" as each Enqueue returns (the
// messages the outbox owes), waits until its queue is empty, and prints
// "drained". Its one sink POSTs each message's ID to -url; any answer but
// 200 is a failure to retry.
//
// With -alerts N it drives the alert manager instead: it raises the N
// alerts <prefix>-NNN (one group each), waits until every one is notified
// and the queue is empty, and prints "drained". Its sink then POSTs the
// name of each firing alert a message carries, so that the test counts
// notifications per alert, whatever the message IDs. A restarted child
// raises the same alerts again, as the daemon replays the monitor's
// conditions; an alert whose notification is already queued or sent must
// not be notified again.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// sinkName is the name of the child's one sink.
const sinkName = "crash"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashchild:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "state dir")
	url := flag.String("url", "", "receiver URL")
	enqueue := flag.Int("enqueue", 0, "messages to enqueue")
	prefix := flag.String("prefix", "m", "message ID prefix")
	alerts := flag.Int("alerts", 0, "alerts to raise through the alert manager (instead of -enqueue)")
	flag.Parse()
	if *dir == "" || *url == "" {
		return errors.New("-dir and -url are required")
	}

	// NoSync: the test kills the process, not the machine, and the page
	// cache survives a process; it keeps each run at tens of milliseconds.
	s, err := store.Open(*dir, storetest.Options(store.Options{NoSync: true, LockTimeout: 5 * time.Second}))
	if err != nil {
		return err
	}
	defer s.Close()

	delivered := make(chan struct{}, 1)
	opts := alert.OutboxOptionsFrom(config.Default().Alerting.Outbox)
	opts.Store = s
	opts.Sinks = []alert.Notifier{post(*url, *alerts > 0)}
	opts.BackoffInitial, opts.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	opts.OnDelivered = func(string, alert.Message) {
		select {
		case delivered <- struct{}{}:
		default:
		}
	}
	ob, err := alert.NewOutbox(opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	managed := make(chan error, 1)
	if *alerts > 0 {
		m, err := raiseAlerts(s, ob, *alerts, *prefix)
		if err != nil {
			return err
		}
		go func() { managed <- m.Run(ctx) }()
		// Deliver only once every alert is queued: a kill at the manager's
		// cut point then finds no message in flight at the sink, whose
		// redelivery (the after-confirm cut) would blur the count.
		for !notified(m, *prefix, *alerts) {
			time.Sleep(10 * time.Millisecond)
		}
	} else {
		managed <- nil
	}
	ran := make(chan error, 1)
	go func() { ran <- ob.Run(ctx) }()

	for i := range *enqueue {
		id := fmt.Sprintf("%s-%03d", *prefix, i)
		if err := ob.Enqueue(alert.Message{ID: id, Kind: alert.KindText, Text: id}); err != nil {
			return err
		}
		fmt.Println("enqueued", id)
	}
	for {
		p, err := ob.Pending()
		if err != nil {
			return err
		}
		if p[sinkName] == 0 {
			break
		}
		select {
		case <-delivered:
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := errors.Join(<-ran, <-managed); err != nil {
		return err
	}
	fmt.Println("drained")
	return nil
}

// notified reports whether the n alerts <prefix>-NNN are notified (their
// message queued); earlier runs' alerts share the state dir.
func notified(m *alert.Manager, prefix string, n int) bool {
	seen := 0
	for _, a := range m.Alerts() {
		if strings.HasPrefix(a.Name, prefix+"-") {
			if a.State != alert.StateFiring {
				return false
			}
			seen++
		}
	}
	return seen == n
}

// raiseAlerts builds an alert manager on s that notifies through ob, one
// group per alert and without waiting, and raises n alerts for its Run.
func raiseAlerts(s *store.Store, ob *alert.Outbox, n int, prefix string) (*alert.Manager, error) {
	settings := alert.SettingsFrom(config.Default().Alerting)
	settings.GroupBy = []string{alert.LabelAlert}
	settings.GroupWait = 0
	settings.StormFoldGroups = 0 // one message per alert: each is a cut point of its own
	m, err := alert.NewManager(alert.ManagerOptions{Store: s, Out: ob, Settings: settings})
	if err != nil {
		return nil, err
	}
	for i := range n {
		m.RaiseInternal(fmt.Sprintf("%s-%03d", prefix, i), alert.SeverityWarning, "crash test", true)
	}
	return m, nil
}

// post is a sink that POSTs to url the message ID or, with byAlert, the
// names of the message's firing alerts, one per line.
func post(url string, byAlert bool) alert.Notifier {
	client := &http.Client{Timeout: 5 * time.Second}
	return alert.NotifierFunc{SinkName: sinkName, Fn: func(ctx context.Context, m alert.Message) (bool, error) {
		body := m.ID
		if byAlert {
			var names []string
			for _, a := range m.Firing() {
				names = append(names, a.Name)
			}
			body = strings.Join(names, "\n")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return true, &alert.DeliveryError{Sink: sinkName, Code: resp.StatusCode}
		}
		return false, nil
	}}
}
