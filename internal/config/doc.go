// Package config loads spacetime-watch's YAML configuration: strictly
// (unknown keys, wrong types and impossible values are errors that name the
// field path, its line and the fix, all reported at once), with defaults that
// reproduce SpaceTime VR's deployment checklist, set in one place
// (defaults.go).
//
// A file has three sections. defaults sets what every target starts from;
// targets lists the instances to watch, each overriding defaults field by
// field; alerting (global) groups alert events into notifications and
// delivers them to sinks (Slack, Alertmanager, the console):
//
//	defaults:
//	  schedule: {interval: 5m}
//	  known_gaps: [{check: health, reason: "the stock build has no /health"}]
//	targets:
//	  - name: main
//	    api_url: http://127.0.0.1:8080
//	    token_file: ${CREDENTIALS_DIRECTORY}/api-token
//	    thresholds: {fps: {min: 80}}
//	alerting:
//	  sinks:
//	    - name: oncall
//	      type: slack_webhook
//	      webhook_url_file: ${CREDENTIALS_DIRECTORY}/slack-webhook
//
// target_files names more files of targets (LoadTargetFile reads one;
// internal/discovery watches them). An empty file, or one without targets
// or target_files, watches one target named "local" on
// 127.0.0.1:8080 and ws://127.0.0.1:8081/; a target listed under targets must
// name its api_url. A value that is valid but not used as written (a sink
// timeout above the outbox's 10s attempt limit) is a Warning in
// Config.Warnings, never a silent change. deploy/config.example.yaml
// documents every key.
//
// Secrets never enter a Config: *_file and *_env fields say where a token,
// webhook URL or bot token is (TokenRef), and the daemon resolves them when
// it needs them. *_file paths expand ${VAR} (systemd's
// ${CREDENTIALS_DIRECTORY}) at load, and so does a target's name (a
// sidecar's ${POD_NAME}, validated as a name once expanded). No other value
// is expanded.
//
// Adding a top-level section takes a field on Config with a yaml tag, its
// defaults in Default, and its rules in validate: decoding, unknown-key
// checks, line numbers and the effective output follow from the struct.
package config
