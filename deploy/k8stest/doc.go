// Package k8stest checks spacetime-watch's Kubernetes manifests (deploy/k8s)
// and generates their PrometheusRule from deploy/prometheus/rules.yml.
//
// It is a Go module of its own so that k8s.io/api and the Prometheus
// Operator's types stay out of the daemon's dependency graph. Its tests
// render each kustomize overlay the way a user does (kubectl kustomize),
// decode every rendered object strictly into its Go type (an unknown or
// misspelt field is an error, as with the API server's strict field
// validation), and then check what the deployment relies on: the native
// sidecar, its probes, security context and mounts, the central
// deployment's single writer, the NetworkPolicy, and that the daemon starts
// with the rendered arguments and config.
//
// Run from this directory:
//
//	go test ./...
//
// After changing deploy/prometheus/rules.yml, regenerate the PrometheusRule:
//
//	go test -run TestPrometheusRuleUpToDate -update
package k8stest
