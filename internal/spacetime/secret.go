package spacetime

import "github.com/spacetime-vr/spacetime-watch/internal/secret"

// Secret is a credential (API token, /performance token): internal/secret's
// Value, which never prints. Use Reveal only where the value goes on the
// wire. Every token a TokenSource yields is registered with the
// process-wide redactor (secret.Clean).
type Secret = secret.Value
