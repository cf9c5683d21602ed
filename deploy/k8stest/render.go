package k8stest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// KustomizeModule is the kustomize that Render runs through `go run` when
// kubectl is not installed: the version kubectl 1.32 embeds, so that both
// paths render the same output.
const KustomizeModule = "sigs.k8s.io/kustomize/kustomize/v5@v5.5.0"

// KustomizeEnv names the environment variable that picks how Render runs
// kustomize: "kubectl" or "go". Default (unset): kubectl when it is on the
// PATH, else go. Setting "go" tests the fallback on a machine with kubectl.
const KustomizeEnv = "K8STEST_KUSTOMIZE"

// KustomizeCommand returns the command line Render runs for dir, following
// KustomizeEnv.
func KustomizeCommand(dir string) ([]string, error) {
	mode := os.Getenv(KustomizeEnv)
	switch mode {
	case "":
		if _, err := exec.LookPath("kubectl"); err != nil {
			mode = "go"
		} else {
			mode = "kubectl"
		}
	case "kubectl", "go":
	default:
		return nil, fmt.Errorf("%s=%q: want kubectl, go or unset", KustomizeEnv, mode)
	}
	if mode == "kubectl" {
		return []string{"kubectl", "kustomize", dir}, nil
	}
	return []string{"go", "run", KustomizeModule, "build", dir}, nil
}

// Render builds the kustomization in dir, as `kubectl kustomize dir` does,
// and returns the rendered multi-document YAML.
func Render(ctx context.Context, dir string) ([]byte, error) {
	argv, err := KustomizeCommand(dir)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		var exit *exec.ExitError
		if errors.As(err, &exit) && msg != "" {
			return nil, fmt.Errorf("%s: %s", strings.Join(argv, " "), msg)
		}
		return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return stdout.Bytes(), nil
}
