package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Message is a message the fake accepted: a webhook post, a
// chat.postMessage, or a chat.update (which records the message's new
// content under the updated ts).
type Message struct {
	// Kind is Webhook, PostMessage or Update.
	Kind Endpoint
	// Channel is the channel ID (WebhookChannel for webhooks).
	Channel string
	// TS is the message's timestamp: assigned by the fake for a post, the
	// updated message's for an update.
	TS string
	// ThreadTS is the thread parent's ts for a reply, "" otherwise.
	ThreadTS string
	// Text is the top-level text (the notification fallback).
	Text string
	// Blocks is the blocks array as it was received (raw JSON), or nil.
	Blocks json.RawMessage
	// Attachments is the legacy attachments array of a webhook post, as
	// received (raw JSON), or nil. Alertmanager's slack_configs send only
	// these.
	Attachments json.RawMessage
	// Received is when the fake accepted it.
	Received time.Time
}

// Request is one request the fake received, whatever its answer.
type Request struct {
	// Endpoint is what the request was for.
	Endpoint Endpoint
	// Code is the HTTP status answered, 0 for a reset or a hung request.
	Code int
	// Error is Slack's error word answered, "" when the request succeeded.
	Error string
	// Received is when the request arrived.
	Received time.Time
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// MessagesOf returns the accepted messages of one kind, in order.
func (s *Server) MessagesOf(kind Endpoint) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// Requests is how many requests the fake received, failed ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// RequestLog returns every request received so far, in order.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Lookup returns a posted message as it stands now (after any chat.update),
// by channel ID and ts.
func (s *Server) Lookup(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.stored[channel+"/"+ts]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// WaitMessages blocks until at least n messages were accepted and returns
// them all, or returns ctx's error with those accepted so far.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	return wait(ctx, s, func() bool { return len(s.messages) >= n }, s.Messages, n, "messages")
}

// WaitRequests blocks until at least n requests were received and returns
// the log, or returns ctx's error with the log so far.
func (s *Server) WaitRequests(ctx context.Context, n int) ([]Request, error) {
	return wait(ctx, s, func() bool { return len(s.requests) >= n }, s.RequestLog, n, "requests")
}

func wait[T any](ctx context.Context, s *Server, done func() bool, get func() []T, n int, what string) ([]T, error) {
	for {
		s.mu.Lock()
		ok, ch := done(), s.changed
		s.mu.Unlock()
		if ok {
			return get(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			got := get()
			return got, fmt.Errorf("slackfake: waiting for %d %s (have %d): %w", n, what, len(got), ctx.Err())
		}
	}
}

// recordRequest logs a request; the caller holds s.mu.
func (s *Server) recordRequest(r Request) {
	s.requests = append(s.requests, r)
	s.notify()
}

// recordMessage logs an accepted message; the caller holds s.mu.
func (s *Server) recordMessage(m Message) {
	s.messages = append(s.messages, m)
	stored := m
	s.stored[m.Channel+"/"+m.TS] = &stored
	s.notify()
}

func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// nextTS returns the next message timestamp, Slack-shaped and increasing:
// 1700000000.000100, 1700000000.000200, …; the caller holds s.mu.
func (s *Server) nextTS() string {
	s.seq++
	us := int64(s.seq) * 100
	return fmt.Sprintf("%d.%06d", 1700000000+us/1_000_000, us%1_000_000)
}

// Block is a received block as people read it: its type and its texts (a
// header's or a section's text, a context block's elements).
type Block struct {
	Type  string
	Texts []string
}

// DecodeBlocks decodes m's blocks; a message without blocks has none.
func (m Message) DecodeBlocks() ([]Block, error) {
	if len(m.Blocks) == 0 {
		return nil, nil
	}
	var raw []struct {
		Type string `json:"type"`
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &raw); err != nil {
		return nil, fmt.Errorf("message %s: blocks: %w", m.TS, err)
	}
	out := make([]Block, len(raw))
	for i, b := range raw {
		out[i].Type = b.Type
		if b.Text != nil {
			out[i].Texts = append(out[i].Texts, b.Text.Text)
		}
		for _, e := range b.Elements {
			out[i].Texts = append(out[i].Texts, e.Text)
		}
	}
	return out, nil
}
