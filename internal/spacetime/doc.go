// Package spacetime is the client of one SpaceTime VR instance: typed calls
// to its HTTP API (HttpApiServer on 127.0.0.1:8080) and the decoding of its
// telemetry stream. It knows the instance's quirks and nothing of alerts:
// the monitor decides what a result means.
//
// The HTTP half (client.go, api.go, types.go, errors.go, token.go, jwt.go)
// speaks to both servers an instance may run: the contract the deployment
// checklist documents, and the shipped Godot server (godottpd), whose
// quirks it absorbs (docs/instance.md, "HTTP API" and "Quirks of
// the shipped server"):
//
//   - transport: plain HTTP/1.1, a fresh connection per request (the server
//     closes every one), a timeout per request (default 5s), no OPTIONS or
//     HEAD, POST bodies sent in one write with Content-Type exactly
//     "application/json", bodies read up to a limit (default 1 MiB), and no
//     redirect followed to another host;
//   - decoding: JSON is decoded whatever the Content-Type says (text/html),
//     every number as a float64 (counts come as 412.0), percentages from
//     numbers or strings ("91.76"), optional fields as pointers;
//   - errors: a plain-text 404 is ErrEndpointAbsent (no /health on the
//     shipped server), not an outage; a 429 is a *RateLimitedError whose
//     delay comes from Retry-After or, lacking it, the body's float
//     retry_after_seconds; connection refused ("instance down") and timeout
//     ("engine stalled") are told apart by IsConnRefused and IsTimeout; the
//     deprecated GodotBridge answering /status is ErrLegacyBridge;
//   - tokens: a TokenSource reads the JWT from a file (re-read when it
//     changes), an environment variable or /status's jwt_token; on a 401 the
//     client refreshes once, and reads the JWT's exp (tolerating the
//     one-"=" padding quirk) to tell an expired token (the instance must be
//     restarted: nothing renews it) from a wrong one; /performance takes its
//     own token. Tokens are Secrets, which never print.
//
// A Client is safe for concurrent use and starts no goroutines of its own.
//
// The telemetry half (frame.go, decode.go, decode_scan.go, stream.go,
// backoff.go) decodes JSON, binary 0x01 and gzip 0x02 frames (Decoder,
// allocation-free for binary frames and plain JSON ones), and keeps one WebSocket (Dial, Stream) with URL fallback,
// a read limit, ping/pong deadlines, silence detection and the
// auth_required handshake. Backoff spaces out redials.
package spacetime
