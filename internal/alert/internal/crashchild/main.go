// Command crashchild is the process the outbox crash test
// (internal/alert/crash_test.go) kills. Built with -tags failpoints, it
// kills itself at the cut point named by SPACETIME_WATCH_FAILPOINT.
//
// It opens the state dir, enqueues -enqueue messages named <prefix>-NNN
// while delivering, prints "enqueued <id>" as each Enqueue returns (the
// messages the outbox owes), waits until its queue is empty, and prints
// "drained". Its one sink POSTs each message's ID to -url; any answer but
// 200 is a failure to retry.
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
	"github.com/spacetime-vr/spacetime-watch/internal/store"
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
	flag.Parse()
	if *dir == "" || *url == "" {
		return errors.New("-dir and -url are required")
	}

	// NoSync: the test kills the process, not the machine, and the page
	// cache survives a process; it keeps each run at tens of milliseconds.
	s, err := store.Open(*dir, store.Options{NoSync: true, LockTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()

	delivered := make(chan struct{}, 1)
	ob, err := alert.NewOutbox(alert.OutboxOptions{
		Store:          s,
		Sinks:          []alert.Notifier{postID(*url)},
		BackoffInitial: 5 * time.Millisecond,
		BackoffMax:     50 * time.Millisecond,
		OnDelivered: func(string, alert.Message) {
			select {
			case delivered <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	if err := <-ran; err != nil {
		return err
	}
	fmt.Println("drained")
	return nil
}

// postID is a sink that POSTs the message ID to url.
func postID(url string) alert.Notifier {
	client := &http.Client{Timeout: 5 * time.Second}
	return alert.NotifierFunc{SinkName: sinkName, Fn: func(ctx context.Context, m alert.Message) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(m.ID))
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
