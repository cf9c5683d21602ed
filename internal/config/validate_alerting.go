package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// Rules of the alerting section. Paths are relative to "alerting".

func validateAlerting(c *checker, a *Alerting, getenv func(string) string, known map[string][]string) {
	validateGroupBy(c, a.GroupBy)
	if a.GroupWait < 0 {
		c.addf(".group_wait", "must not be negative, got %s; 0 sends a new group at once", formatDuration(a.GroupWait))
	}
	positive(c, ".group_interval", a.GroupInterval, "5m")
	if a.StormFoldGroups < 0 {
		c.addf(".storm_fold_groups", "must not be negative, got %d; 0 never folds a storm into one message, e.g. 3", a.StormFoldGroups)
	}
	switch {
	case a.RepeatInterval < MinRepeatInterval:
		c.addf(".repeat_interval", "must be at least %s, got %s: a still-firing alert is never re-notified more often; e.g. 4h",
			formatDuration(MinRepeatInterval), formatDuration(a.RepeatInterval))
	case a.GroupInterval > 0 && a.RepeatInterval < a.GroupInterval:
		c.addf(".repeat_interval", "must be at least group_interval (%s), got %s",
			formatDuration(a.GroupInterval), formatDuration(a.RepeatInterval))
	}
	if a.GracePeriod < 0 {
		c.addf(".grace_period", "must not be negative, got %s; 0 turns the deployment grace off", formatDuration(a.GracePeriod))
	}
	if err := checkLinkTemplate(a.RunbookURL); err != nil {
		c.addf(".runbook_url", "%v", err)
	}
	if err := checkLinkTemplate(a.DashboardURL); err != nil {
		c.addf(".dashboard_url", "%v", err)
	}
	validateInhibitRules(c, a.InhibitRules, known)
	if a.InhibitRelease < 0 {
		c.addf(".inhibit_release", "must not be negative, got %s; 0 notifies a released alert at once, e.g. 2m", formatDuration(a.InhibitRelease))
	}
	validateOutbox(c, &a.Outbox)
	validateSinks(c, a.Sinks, getenv)
}

// validateInhibitRules checks each rule's matchers against the values
// their labels may take (known, per label; a label without a list is not
// checked) and its equal labels against the labels alerts have.
func validateInhibitRules(c *checker, rules []InhibitRule, known map[string][]string) {
	for i, r := range rules {
		rel := fmt.Sprintf(".inhibit_rules[%d]", i)
		for _, side := range []struct {
			key     string
			ms      labels.Matchers
			example string
		}{
			{"source_matchers", r.SourceMatchers, `['alert="check_instance_up"']`},
			{"target_matchers", r.TargetMatchers, `['alert=~"fps_.*"']`},
		} {
			if len(side.ms) == 0 {
				c.addf(rel+"."+side.key, "required: list at least one matcher, e.g. %s; a rule without one would match nothing", side.example)
			}
			for j, m := range side.ms {
				if list, ok := known[m.Name]; ok {
					if p := MatcherProblem(m, list); p != "" {
						c.addf(fmt.Sprintf("%s.%s[%d]", rel, side.key, j), "`%s`: %s", m, p)
					}
				}
			}
		}
		names := labels.Names()
		for j, l := range r.Equal {
			switch k := indexOf(r.Equal[:j], l); {
			case !labels.Known(l):
				c.addf(fmt.Sprintf("%s.equal[%d]", rel, j), "%q is not a label%s; equal takes %s", truncate(l, 40), DidYouMean(l, names), labels.List())
			case k >= 0:
				c.addf(fmt.Sprintf("%s.equal[%d]", rel, j), "repeats equal[%d]; list each label once", k)
			}
		}
	}
}

func validateGroupBy(c *checker, labels []string) {
	for i, l := range labels {
		rel := fmt.Sprintf(".group_by[%d]", i)
		switch j := indexOf(labels[:i], l); {
		case !contains(groupByLabels, l):
			c.addf(rel, "%q is not a label%s; group by %s", truncate(l, 40), DidYouMean(l, groupByLabels), strings.Join(groupByLabels, ", "))
		case j >= 0:
			c.addf(rel, "repeats group_by[%d]; list each label once", j)
		}
	}
}

func validateOutbox(c *checker, o *Outbox) {
	okInitial := positive(c, ".outbox.backoff_initial", o.BackoffInitial, "1s")
	okMax := positive(c, ".outbox.backoff_max", o.BackoffMax, "60s")
	if okInitial && okMax && o.BackoffInitial >= o.BackoffMax {
		c.addf(".outbox.backoff_max", "must be above backoff_initial (%s), got %s",
			formatDuration(o.BackoffInitial), formatDuration(o.BackoffMax))
	}
}

// sinkNameRE: sink names become metric label values and outbox keys.
var sinkNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// slackChannelRE: a channel ID (public C…, legacy private G…) or a channel
// name as Slack allows them.
var slackChannelRE = regexp.MustCompile(`^(?:[CG][A-Z0-9]{8,20}|#[a-z0-9_-]{1,80})$`)

func validateSinks(c *checker, sinks []Sink, getenv func(string) string) {
	names := map[string]int{}
	for i := range sinks {
		s := &sinks[i]
		rel := fmt.Sprintf(".sinks[%d]", i)
		validateSink(c, rel, s, getenv)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			c.addf(rel+".name", "%q is already used by sinks[%d]; names must be unique", s.Name, j)
		} else {
			names[s.Name] = i
		}
	}
}

func validateSink(c *checker, rel string, s *Sink, getenv func(string) string) {
	switch {
	case s.Name == "":
		c.addf(rel+".name", "required; give each sink a unique name such as oncall")
	case !sinkNameRE.MatchString(s.Name):
		c.addf(rel+".name", "%q is not a valid name; use 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", truncate(s.Name, 70))
	}
	if s.Type == "" {
		c.addf(rel+".type", "required; one of: %s", sinkTypeList())
	}
	if positive(c, rel+".timeout", s.Timeout, "10s") && s.Timeout > SinkAttemptLimit {
		c.warnf(rel+".timeout", "%s is above the outbox's limit on one delivery attempt (%s): each attempt is cut at %s and retried; set %s or less",
			formatDuration(s.Timeout), formatDuration(SinkAttemptLimit), formatDuration(SinkAttemptLimit), formatDuration(SinkAttemptLimit))
	}
	if s.MinInterval < 0 {
		c.addf(rel+".min_interval", "must not be negative, got %s; 0 sends without pause", formatDuration(s.MinInterval))
	}
	switch s.Type {
	case SinkSlackWebhook:
		secretSource(c, rel, s.Type, "webhook_url", "the webhook URL", s.WebhookURLFile, s.WebhookURLEnv, getenv, "SLACK_WEBHOOK_URL")
	case SinkSlackBot:
		secretSource(c, rel, s.Type, "bot_token", "the bot token", s.BotTokenFile, s.BotTokenEnv, getenv, "SLACK_BOT_TOKEN")
		validateSlackBot(c, rel, s)
	case SinkAlertmanager:
		validateAlertmanager(c, rel, s)
	case SinkWebhook:
		validateWebhook(c, rel, s, getenv)
	}
}

// secretSource checks a required <prefix>_file / <prefix>_env pair.
func secretSource(c *checker, rel string, t SinkType, prefix, what, file, env string, getenv func(string) string, example string) {
	if file == "" && env == "" {
		c.addf(rel+"."+prefix+"_file", "required for type %s: set %s_file or %s_env; %s is a secret, never written in this file",
			t, prefix, prefix, what)
		return
	}
	tokenSource(c, rel, prefix, file, env, getenv, example)
}

func validateSlackBot(c *checker, rel string, s *Sink) {
	switch {
	case s.Channel == "":
		c.addf(rel+".channel", "required for type slack_bot; a channel ID such as C0123456789 or a name such as #spacetime-oncall")
	case !slackChannelRE.MatchString(s.Channel):
		// Not echoed: a token pasted here would otherwise be printed.
		c.addf(rel+".channel", "not a channel; write a channel ID such as C0123456789, or # and a name of lowercase letters, digits, - and _")
	}
	const example = "https://slack.com/api/"
	checkURLSecrets(c, rel+".api_url", s.APIURL, []string{"http", "https"}, example,
		"the bot token goes in bot_token_file or bot_token_env", "the bot token goes in bot_token_file or bot_token_env")
	if s.APIURL != nil && s.APIURL.User == nil && s.APIURL.Host != "" && !strings.HasSuffix(s.APIURL.Path, "/") {
		c.addf(rel+".api_url", "must end with /: method names such as chat.postMessage are appended to it; e.g. %s", example)
	}
}

func validateAlertmanager(c *checker, rel string, s *Sink) {
	if len(s.URLs) == 0 {
		c.addf(rel+".urls", "required for type alertmanager: list at least one Alertmanager; e.g. [http://127.0.0.1:9093]")
	}
	for i, u := range s.URLs {
		r := fmt.Sprintf("%s.urls[%d]", rel, i)
		checkURLSecrets(c, r, u, []string{"http", "https"}, "http://127.0.0.1:9093",
			"Alertmanager basic auth is not supported; put a local proxy in front", "the v2 API path is appended to the URL")
		for j := range i {
			if u != nil && s.URLs[j] != nil && InstanceKey(u) == InstanceKey(s.URLs[j]) {
				c.addf(r, "repeats urls[%d]; list each Alertmanager once", j)
				break
			}
		}
	}
	if positive(c, rel+".resend_interval", s.ResendInterval, "1m") && s.ResendInterval < time.Second {
		c.addf(rel+".resend_interval", "must be at least 1s, got %s; e.g. 1m", formatDuration(s.ResendInterval))
	}
}

func validateWebhook(c *checker, rel string, s *Sink, getenv func(string) string) {
	const example = "https://receiver.example.com/alerts"
	secret := s.URLFile != "" || s.URLEnv != ""
	switch {
	case s.URL == nil && !secret:
		// Reported at url_file, as for the Slack webhook: a url_file that
		// failed to decode then gets one message, not a second one here.
		c.addf(rel+".url_file", "required for type webhook: set url_file or url_env when the URL holds a secret (a token, credentials), else url (e.g. %s)", example)
	case s.URL != nil && secret:
		key := ".url_file"
		if s.URLFile == "" {
			key = ".url_env"
		}
		c.addf(rel+key, "set either url or %s, not both; remove one", key[1:])
	case s.URL != nil:
		checkURLSecrets(c, rel+".url", s.URL, []string{"http", "https"}, example,
			"a URL with credentials is a secret: give it with url_file or url_env",
			"a URL with a query may hold a token: give it with url_file or url_env")
	default:
		tokenSource(c, rel, "url", s.URLFile, s.URLEnv, getenv, "WEBHOOK_URL")
	}
	tokenSource(c, rel, "hmac_secret", s.HMACSecretFile, s.HMACSecretEnv, getenv, "WEBHOOK_HMAC_SECRET")
	if s.MaxAlerts < 0 {
		c.addf(rel+".max_alerts", "must not be negative, got %d; 0 sends every alert", s.MaxAlerts)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
