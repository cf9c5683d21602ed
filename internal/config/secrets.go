package config

import (
	"fmt"

	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// SecretWarnings checks that every secret file the config names can be
// read now, and returns one warning per file that cannot, naming the field
// and the file to create. Run starts anyway (the file is read again at
// every use, so creating it heals the sink or target without a restart);
// check-config prints these so that nothing is silent. A *_env variable
// that is not set is an error at load already.
func (c *Config) SecretWarnings() []Warning {
	var out []Warning
	check := func(field, file, effect string) {
		if file == "" {
			return
		}
		if _, err := secret.File(file).Read(); err != nil {
			out = append(out, Warning{Path: field, Message: fmt.Sprintf("%v; until then %s", err, effect)})
		}
	}
	for i, t := range c.Targets {
		rel := fmt.Sprintf("targets[%d]", i)
		check(rel+".token_file", t.TokenFile, "the target's authenticated checks fail")
		check(rel+".performance_token_file", t.PerformanceTokenFile, "the target's /performance checks fail")
	}
	for i, s := range c.Alerting.Sinks {
		rel := fmt.Sprintf("alerting.sinks[%d]", i)
		effect := fmt.Sprintf("sink %s is unhealthy and NotificationsFailing goes through the others", s.Name)
		check(rel+".webhook_url_file", s.WebhookURLFile, effect)
		check(rel+".bot_token_file", s.BotTokenFile, effect)
		check(rel+".url_file", s.URLFile, effect)
		check(rel+".hmac_secret_file", s.HMACSecretFile, effect)
	}
	return out
}
