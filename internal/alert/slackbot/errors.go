package slackbot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// transientWords are the Web API's ok:false errors worth another try;
// every other word is permanent (invalid_auth, not_authed,
// account_inactive, token_revoked, missing_scope, channel_not_found,
// not_in_channel, is_archived, invalid_blocks, msg_too_long, …).
var transientWords = map[string]bool{
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
	"ratelimited":         true,
	"rate_limited":        true,
	"team_added_to_org":   true, // a workspace migration in progress
}

// hints say what to do about the permanent errors an operator can fix.
var hints = map[string]string{
	"invalid_auth":     "the bot token is wrong: check bot_token_file or bot_token_env",
	"not_authed":       "no bot token was sent: check bot_token_file or bot_token_env",
	"account_inactive": "the bot's user or workspace was deactivated: install the app again",
	"token_revoked":    "the bot token was revoked: install the app again and update the token",
	"token_expired":    "the bot token expired: rotate it and update the token file",
	"missing_scope":    "the bot token lacks the chat:write scope: add it and reinstall the app",
	"channel_not_found": "the channel does not exist or the bot cannot see it: check the sink's channel " +
		"(a channel ID such as C0123456789 is safest)",
	"not_in_channel":      "the bot is not a member of the channel: /invite the bot there",
	"is_archived":         "the channel is archived: unarchive it or configure another channel",
	"restricted_action":   "the workspace forbids the bot to post there",
	"invalid_blocks":      "Slack refused the message's blocks",
	"msg_too_long":        "the message is longer than Slack accepts",
	"msg_blocks_too_long": "the message's blocks are longer than Slack accepts",
}

// deliveryError maps a slack-go error from method to (retry, error),
// the error an *alert.DeliveryError whose text never contains the token.
func (n *Notifier) deliveryError(method string, err error) (bool, error) {
	de := &alert.DeliveryError{Sink: n.name}
	retry := true
	var (
		rl     *slack.RateLimitedError
		status slack.StatusCodeError
		api    slack.SlackErrorResponse
		numErr *strconv.NumError
	)
	switch {
	case errors.As(err, &rl):
		de.Code, de.Reason, de.RetryAfter = http.StatusTooManyRequests, "ratelimited", rl.RetryAfter
		de.Err = fmt.Errorf("slack bot: %s: rate limited", method)
	case errors.As(err, &status):
		de.Code = status.Code
		de.Reason = strings.ReplaceAll(strings.ToLower(http.StatusText(status.Code)), " ", "_")
		if status.Code == http.StatusTooManyRequests { // a 429 without Retry-After
			de.Reason = "ratelimited"
		}
		retry = status.Retryable() || status.Code == http.StatusRequestTimeout
		de.Err = fmt.Errorf("slack bot: %s: HTTP %d", method, status.Code)
	case errors.As(err, &api):
		// The word comes from the server: should a broken one echo the
		// request, it would carry the token.
		word := n.clean(api.Err)
		de.Code, de.Reason = http.StatusOK, word
		retry = transientWords[word]
		msg := fmt.Sprintf("slack bot: %s: %s", method, word)
		if h := hints[word]; h != "" {
			msg += " (" + h + ")"
		}
		de.Err = errors.New(msg)
	case errors.As(err, &numErr):
		// slack-go could not read a 429's Retry-After: still a rate limit.
		de.Code, de.Reason = http.StatusTooManyRequests, "ratelimited"
		de.Err = fmt.Errorf("slack bot: %s: rate limited (Retry-After unreadable)", method)
	case isTransport(err):
		de.Reason = alert.TransportReason(err)
		de.Err = n.sanitize(method, err)
	default:
		// An answer slack-go could not decode (a proxy's page, a cut
		// body): most likely passing, so retried; the backoff is capped.
		de.Reason = "invalid_response"
		de.Err = n.sanitize(method, err)
	}
	return retry, de
}

// isTransport reports whether err is a failure without an HTTP answer.
func isTransport(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// sanitize wraps err for method, dropping its text for a redacted copy
// should it ever carry the token (slack-go sends the token in the form
// body, so its errors should not; this makes sure).
func (n *Notifier) sanitize(method string, err error) error {
	msg := err.Error()
	if clean := n.clean(msg); clean != msg {
		return fmt.Errorf("slack bot: %s: %s", method, clean)
	}
	return fmt.Errorf("slack bot: %s: %w", method, err)
}

// clean replaces the token in s, in any form the redactor knows (as it
// is, any case, URL-encoded as in a form body, base64).
func (n *Notifier) clean(s string) string { return secret.Clean(s) }
