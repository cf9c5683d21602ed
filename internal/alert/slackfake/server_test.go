package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slack-go/slack"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// postJSON posts body to u and returns the status, the body and Retry-After.
func postJSON(t *testing.T, c *http.Client, u, body string) (int, string, string) {
	t.Helper()
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
}

// client is an http.Client of the test's own, whose idle connections are
// closed at the end so that goleak finds no keep-alive goroutine.
func client(t *testing.T, timeout time.Duration) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

func newAPI(t *testing.T, s *Server, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(client(t, 5*time.Second)))
}

func TestPostMessageAnswersLikeSlack(t *testing.T) {
	s := New(WithToken("xoxb-good"))
	defer s.Close()
	api := newAPI(t, s, "xoxb-good")
	ctx := context.Background()

	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*hi*", false, false), nil, nil))
	ch, ts, err := api.PostMessageContext(ctx, "#oncall", slack.MsgOptionText("hi", false), blocks)
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if !regexp.MustCompile(`^C[0-9A-F]{8}$`).MatchString(ch) {
		t.Errorf("channel = %q, want a channel ID for #oncall", ch)
	}
	if ts != "1700000000.000100" {
		t.Errorf("ts = %q, want the first Slack-shaped ts 1700000000.000100", ts)
	}
	ch2, reply, err := api.PostMessageContext(ctx, "oncall", slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatalf("PostMessage reply: %v", err)
	}
	if ch2 != ch {
		t.Errorf("#oncall and oncall got channels %q and %q, want the same ID", ch, ch2)
	}
	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(msgs))
	}
	first, second := msgs[0], msgs[1]
	if first.Kind != PostMessage || first.Channel != ch || first.TS != ts || first.Text != "hi" || first.ThreadTS != "" {
		t.Errorf("first message = %+v", first)
	}
	var bs []map[string]any
	if err := json.Unmarshal(first.Blocks, &bs); err != nil || len(bs) != 1 || bs[0]["type"] != "section" {
		t.Errorf("first message's blocks = %s (%v), want one section", first.Blocks, err)
	}
	if second.ThreadTS != ts || second.TS != reply || second.Blocks != nil {
		t.Errorf("reply = %+v, want thread_ts %s and no blocks", second, ts)
	}
	if first.Received.IsZero() {
		t.Error("Received is zero")
	}
	if got := s.Requests(); got != 2 {
		t.Errorf("Requests() = %d, want 2", got)
	}
}

func TestUpdate(t *testing.T) {
	s := New()
	defer s.Close()
	api := newAPI(t, s, "xoxb-any")
	ctx := context.Background()
	ch, ts, err := api.PostMessageContext(ctx, "C0123456789", slack.MsgOptionText("firing", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("resolved", false)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	got, ok := s.Lookup(ch, ts)
	if !ok || got.Text != "resolved" || got.Kind != Update {
		t.Errorf("Lookup after update = %+v, %v; want the resolved text", got, ok)
	}
	if ups := s.MessagesOf(Update); len(ups) != 1 || ups[0].TS != ts {
		t.Errorf("MessagesOf(Update) = %+v", ups)
	}

	tests := []struct {
		name, channel, ts, want string
	}{
		{"unknown ts", ch, "1700000000.999999", "message_not_found"},
		{"channel name instead of ID", "#oncall", ts, "channel_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := api.UpdateMessageContext(ctx, tc.channel, tc.ts, slack.MsgOptionText("x", false))
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	s := New(WithToken("xoxb-good"))
	defer s.Close()
	ctx := context.Background()
	if _, err := newAPI(t, s, "xoxb-good").AuthTestContext(ctx); err != nil {
		t.Errorf("auth.test with the right token: %v", err)
	}
	_, _, err := newAPI(t, s, "xoxb-bad").PostMessageContext(ctx, "C0123456789", slack.MsgOptionText("x", false))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "invalid_auth" {
		t.Errorf("wrong token: err = %v, want invalid_auth", err)
	}
	resp, err := client(t, 5*time.Second).PostForm(s.APIURL()+"chat.postMessage", url.Values{"channel": {"C0123456789"}, "text": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"not_authed"`) {
		t.Errorf("no token: body %s, want not_authed", b)
	}
	if len(s.Messages()) != 0 {
		t.Errorf("refused posts were recorded as messages: %+v", s.Messages())
	}
}

func TestWebhookFaultsInOrder(t *testing.T) {
	s := New()
	defer s.Close()
	s.Inject(Webhook,
		RateLimited(30*time.Second),
		ServerError(503),
		WebhookError(403, "invalid_token"),
		WebhookError(404, "channel_not_found"),
		WebhookError(410, "channel_is_archived"),
		WebhookError(400, "invalid_payload"),
	)
	s.FailNext(Webhook, 1, 404, "", nil)
	want := []struct {
		code       int
		body       string
		retryAfter string
	}{
		{429, "rate_limited", "30"},
		{503, "<html><body><h1>503 Service Unavailable</h1></body></html>", ""},
		{403, "invalid_token", ""},
		{404, "channel_not_found", ""},
		{410, "channel_is_archived", ""},
		{400, "invalid_payload", ""},
		{404, "no_service", ""},
		{200, "ok", ""},
	}
	for i, w := range want {
		code, body, ra := postJSON(t, client(t, 5*time.Second), s.WebhookURL(), `{"text":"hello"}`)
		if code != w.code || body != w.body || ra != w.retryAfter {
			t.Errorf("request %d: got %d %q Retry-After %q, want %d %q %q", i, code, body, ra, w.code, w.body, w.retryAfter)
		}
	}
	if got := s.Requests(); got != len(want) {
		t.Errorf("Requests() = %d, want %d (failed ones included)", got, len(want))
	}
	if got := s.MessagesOf(Webhook); len(got) != 1 || got[0].Text != "hello" || got[0].Channel != WebhookChannel {
		t.Errorf("messages = %+v, want only the last, accepted post", got)
	}
	log := s.RequestLog()
	if log[0].Code != 429 || log[0].Error != "rate_limited" || log[len(log)-1].Error != "" {
		t.Errorf("request log = %+v", log)
	}
}

func TestAPIFaults(t *testing.T) {
	s := New()
	defer s.Close()
	api := newAPI(t, s, "xoxb-any")
	ctx := context.Background()
	s.Inject(PostMessage, RateLimited(30*time.Second), APIError("not_in_channel"), ServerError(502))
	s.Inject(Update, APIError("cant_update_message"))

	_, _, err := api.PostMessageContext(ctx, "C0123456789", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Errorf("429: err = %v, want RateLimitedError 30s", err)
	}
	_, _, err = api.PostMessageContext(ctx, "C0123456789", slack.MsgOptionText("x", false))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "not_in_channel" {
		t.Errorf("ok:false: err = %v, want not_in_channel", err)
	}
	_, _, err = api.PostMessageContext(ctx, "C0123456789", slack.MsgOptionText("x", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 502 {
		t.Errorf("5xx: err = %v, want StatusCodeError 502", err)
	}
	ch, ts, err := api.PostMessageContext(ctx, "C0123456789", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	_, _, _, err = api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("y", false))
	if !errors.As(err, &se) || se.Err != "cant_update_message" {
		t.Errorf("update fault: err = %v", err)
	}
	if n := s.PendingFaults(PostMessage) + s.PendingFaults(Update); n != 0 {
		t.Errorf("%d faults left unused", n)
	}
}

func TestResetOverLoopback(t *testing.T) {
	s := New()
	defer s.Close()
	s.Inject(Webhook, Reset())
	_, err := client(t, 5*time.Second).Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`))
	if err == nil || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)) {
		t.Errorf("err = %v, want a connection reset", err)
	}
	if log := s.RequestLog(); len(log) != 1 || log[0].Error != "reset" {
		t.Errorf("request log = %+v, want the reset logged", log)
	}
}

func TestHangOverLoopback(t *testing.T) {
	s := New()
	s.Inject(Webhook, Hang(), Hang())
	c := client(t, 100*time.Millisecond)
	_, err := c.Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`))
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v, want a client timeout", err)
	}
	// A request still hanging when the fake closes must not hold Close up.
	c2 := client(t, 5*time.Second)
	hung := make(chan struct{})
	go func() {
		defer close(hung)
		if resp, err := c2.Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`)); err == nil {
			resp.Body.Close()
		}
	}()
	defer func() { <-hung }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.WaitRequests(ctx, 2); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hung request")
	}
}

func TestLimits(t *testing.T) {
	section := func(n int) string {
		return `{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("a", n) + `"}}`
	}
	many := func(n int, b string) string { return "[" + strings.TrimSuffix(strings.Repeat(b+",", n), ",") + "]" }
	tests := []struct {
		name   string
		text   string
		blocks string
		want   string // "" accepted
	}{
		{"50 blocks", "x", many(50, section(10)), ""},
		{"51 blocks", "x", many(51, section(10)), "invalid_blocks"},
		{"section of 3000", "x", many(1, section(3000)), ""},
		{"section of 3001", "x", many(1, section(3001)), "invalid_blocks"},
		{"header of 151", "x", `[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]`, "invalid_blocks"},
		{"header in mrkdwn", "x", `[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]`, "invalid_blocks"},
		{"empty section", "x", `[{"type":"section","text":{"type":"mrkdwn","text":""}}]`, "invalid_blocks"},
		{"11 context elements", "x", `[{"type":"context","elements":` + many(11, `{"type":"mrkdwn","text":"c"}`) + `}]`, "invalid_blocks"},
		{"8000 characters in all", "x", many(4, section(2000)), ""},
		{"8001 characters in all", "x", "[" + strings.Repeat(section(2000)+",", 3) + section(2001) + "]", "msg_blocks_too_long"},
		{"no text, no blocks", "", "", "no_text"},
		{"blocks not an array", "x", `{"type":"section"}`, "invalid_blocks_format"},
		{"text of 40001", strings.Repeat("t", 40001), "", "msg_too_long"},
	}
	s := New()
	defer s.Close()
	c := client(t, 5*time.Second)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := map[string]any{"text": tc.text}
			if tc.blocks != "" {
				payload["blocks"] = json.RawMessage(tc.blocks)
			}
			b, _ := json.Marshal(payload)
			code, body, _ := postJSON(t, c, s.WebhookURL(), string(b))
			wantCode, wantBody := 200, "ok"
			if tc.want != "" {
				wantCode, wantBody = 400, tc.want
			}
			if code != wantCode || body != wantBody {
				t.Errorf("webhook: %d %q, want %d %q", code, body, wantCode, wantBody)
			}

			// The Web API, as slack-go sends it (a form, blocks as a JSON string).
			form := url.Values{"token": {"xoxb-any"}, "channel": {"C0123456789"}, "text": {tc.text}}
			if tc.blocks != "" {
				form.Set("blocks", tc.blocks)
			}
			resp, err := c.PostForm(s.APIURL()+"chat.postMessage", form)
			if err != nil {
				t.Fatal(err)
			}
			var ans struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&ans)
			resp.Body.Close()
			if ans.OK != (tc.want == "") || ans.Error != tc.want {
				t.Errorf("chat.postMessage: ok=%v error=%q, want error %q", ans.OK, ans.Error, tc.want)
			}
		})
	}
}

// A webhook post with only legacy attachments (as Alertmanager's
// slack_configs send) is accepted, as Slack does, and kept; an empty
// attachments array is still no text.
func TestWebhookAttachmentsOnly(t *testing.T) {
	s := New()
	defer s.Close()
	c := client(t, 5*time.Second)
	if code, body, _ := postJSON(t, c, s.WebhookURL(), `{"attachments":[]}`); code != 400 || body != "no_text" {
		t.Errorf("empty attachments: %d %q, want 400 no_text", code, body)
	}
	att := `[{"title":"[FIRING:1] fps_low","text":"FPS 60"}]`
	if code, body, _ := postJSON(t, c, s.WebhookURL(), `{"channel":"#oncall","attachments":`+att+`}`); code != 200 || body != "ok" {
		t.Fatalf("attachments only: %d %q, want 200 ok", code, body)
	}
	if msgs := s.MessagesOf(Webhook); len(msgs) != 1 || string(msgs[0].Attachments) != att {
		t.Errorf("messages %+v, want one with the attachments", msgs)
	}
}

func TestMinInterval(t *testing.T) {
	now := testkit.BaseTime(t)
	s := New(WithMinInterval(time.Second), WithClock(func() time.Time { return now }))
	defer s.Close()
	if code, _, _ := postJSON(t, client(t, 5*time.Second), s.WebhookURL(), `{"text":"1"}`); code != 200 {
		t.Fatalf("first post: %d", code)
	}
	now = now.Add(300 * time.Millisecond)
	code, body, ra := postJSON(t, client(t, 5*time.Second), s.WebhookURL(), `{"text":"2"}`)
	if code != 429 || body != "rate_limited" || ra != "1" {
		t.Errorf("post 300ms later: %d %q Retry-After %q, want 429 rate_limited 1", code, body, ra)
	}
	now = now.Add(700 * time.Millisecond)
	if code, _, _ := postJSON(t, client(t, 5*time.Second), s.WebhookURL(), `{"text":"3"}`); code != 200 {
		t.Errorf("post 1s after the first: %d, want 200", code)
	}
}

// TestInMemoryInSynctest shows the in-memory mode working inside a
// synctest bubble: a hung request ends at the client's timeout in fake
// time, a reset comes back as ECONNRESET, and a post goes through.
func TestInMemoryInSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemory()
		defer s.Close()
		s.Inject(Webhook, Hang(), Reset())
		c := &http.Client{Transport: s.Transport(), Timeout: 10 * time.Second}
		start := time.Now()
		_, err := c.Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`))
		if err == nil {
			t.Fatal("hung request: no error")
		}
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("hung request ended after %s of fake time, want the 10s timeout", waited)
		}
		_, err = c.Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("reset: err = %v, want ECONNRESET", err)
		}
		code, body, _ := postJSON(t, c, s.WebhookURL(), `{"text":"x"}`)
		if code != 200 || body != "ok" {
			t.Errorf("post: %d %q", code, body)
		}
		api := slack.New("xoxb-any", slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(c))
		if _, _, err := api.PostMessageContext(t.Context(), "C0123456789", slack.MsgOptionText("x", false)); err != nil {
			t.Errorf("slack-go through Transport: %v", err)
		}
		if got := len(s.Messages()); got != 2 {
			t.Errorf("%d messages, want 2", got)
		}
	})
}

func TestWaitMessages(t *testing.T) {
	s := New()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := client(t, 5*time.Second)
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		if resp, err := c.Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`)); err == nil {
			resp.Body.Close()
		}
	}()
	defer func() { <-posted }()
	msgs, err := s.WaitMessages(ctx, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("WaitMessages: %v, %d messages", err, len(msgs))
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := s.WaitMessages(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitMessages past its deadline: %v", err)
	}
}
