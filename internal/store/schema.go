package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// This file owns the on-disk schema. Every bucket, key format and record
// type is declared here, so that a change to the file's layout is a change
// to this file (and to schemaVersion when old files cannot be read as-is).
//
//	bucket            key                                 value
//	meta              "schema_version"                    ASCII decimal, schemaVersion
//	kv                caller's key                        opaque bytes (PutMeta)
//	deployments       <target>/ seq (8 B big-endian)      deploymentRecord (JSON)
//	deployment_ids    deployment ID                       seq (8 B) + target
//	checks            <target>/ time (8 B) + seq (8 B)    checkRecord (JSON)
//	rule_state        <target>/ rule name                 opaque bytes (PutRuleState)
//	outbox            <sink>/ seq (8 B)                   opaque payload (OutboxAppend)
//	dead_letters      <sink>/ seq (8 B)                   deadLetterRecord (JSON)
//	rollups           <target>/ time (8 B)                opaque bytes (PutRollups)
//	review_markers    <deployment ID>/ review name        opaque bytes (PutReviewMarker)
//
// "<owner>/" marks a nested bucket per target, sink or deployment. For the
// buckets that are logs (deployments, checks, outbox, dead_letters,
// rollups) see log.go: the parent bucket's sequence issues the seq numbers,
// unique across owners, and each owner bucket's sequence holds its record
// count. Rollups are keyed by time alone (one record per instant, a put
// replaces), so they use the count but not the seq numbers.
//
// rollups and review_markers came after the first files were written; Open
// creates them in older files (initSchema), so they need no new version.
//
// Times in keys are UnixNano with the sign bit flipped, big-endian, so that
// byte order is time order. Records are JSON with a "v" field; a record
// version newer than the code knows is an error, never silently misread.

// schemaVersion is the version written to new files. Open refuses (and sets
// aside) a file whose version is newer, since this build would misread it.
const schemaVersion = 1

var (
	bucketMeta          = []byte("meta")
	bucketKV            = []byte("kv")
	bucketDeployments   = []byte("deployments")
	bucketDeploymentIDs = []byte("deployment_ids")
	bucketChecks        = []byte("checks")
	bucketRuleState     = []byte("rule_state")
	bucketOutbox        = []byte("outbox")
	bucketDeadLetters   = []byte("dead_letters")
	bucketRollups       = []byte("rollups")
	bucketReviewMarkers = []byte("review_markers")

	keySchemaVersion = []byte("schema_version")
)

// topBuckets are created by Open, so that transactions never need to.
var topBuckets = [][]byte{
	bucketMeta, bucketKV, bucketDeployments, bucketDeploymentIDs,
	bucketChecks, bucketRuleState, bucketOutbox, bucketDeadLetters,
	bucketRollups, bucketReviewMarkers,
}

// logBuckets hold one nested bucket per owner whose sequence is a record
// count (see log.go); Open recounts them.
var logBuckets = [][]byte{bucketDeployments, bucketChecks, bucketOutbox, bucketDeadLetters, bucketRollups}

// jsonBuckets hold JSON records in their owner buckets; Open checks that
// every one of them parses.
var jsonBuckets = map[string]bool{
	string(bucketDeployments): true,
	string(bucketChecks):      true,
	string(bucketDeadLetters): true,
}

// maxNameLen bounds target, rule, sink, key and ID names: they are bbolt
// keys (at most 32 KiB) and end up in messages and URLs.
const maxNameLen = 512

func checkName(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", field)
	case len(name) > maxNameLen:
		return fmt.Errorf("%s is %d bytes long, more than %d", field, len(name), maxNameLen)
	}
	return nil
}

func encodeSchemaVersion(v int) []byte { return []byte(strconv.Itoa(v)) }

func decodeSchemaVersion(b []byte) (int, error) {
	v, err := strconv.Atoi(string(b))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("schema version %q is not a positive integer", b)
	}
	return v, nil
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func keySeq(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("key %x is not an 8-byte sequence", k)
	}
	return binary.BigEndian.Uint64(k), nil
}

// timeKey is time (8 B) + seq (8 B); seq keeps equal times apart.
func timeKey(t time.Time, seq uint64) []byte {
	k := make([]byte, 0, 16)
	k = binary.BigEndian.AppendUint64(k, uint64(t.UnixNano())^(1<<63))
	return binary.BigEndian.AppendUint64(k, seq)
}

// instantKey is time (8 B) alone, for records of which there is at most
// one per instant (rollups).
func instantKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(t.UnixNano())^(1<<63))
}

// keyInstant decodes an instantKey.
func keyInstant(k []byte) (time.Time, error) {
	if len(k) != 8 {
		return time.Time{}, fmt.Errorf("key %x is not an 8-byte time key", k)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k)^(1<<63))), nil
}

// keyTime decodes the time prefix of a timeKey.
func keyTime(k []byte) (time.Time, error) {
	if len(k) != 16 {
		return time.Time{}, fmt.Errorf("key %x is not a 16-byte time key", k)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k)^(1<<63))), nil
}

// deploymentIndexValue is seq (8 B) + target.
func deploymentIndexValue(seq uint64, target string) []byte {
	return append(seqKey(seq), target...)
}

func decodeDeploymentIndex(v []byte) (seq uint64, target string, err error) {
	if len(v) <= 8 {
		return 0, "", fmt.Errorf("deployment index value %x is too short", v)
	}
	return binary.BigEndian.Uint64(v[:8]), string(v[8:]), nil
}

const recordVersion = 1

// deploymentRecord is a Deployment on disk. It is a separate type so that
// renaming a field of the API type cannot change the file format.
type deploymentRecord struct {
	V                 int       `json:"v"`
	ID                string    `json:"id"`
	Target            string    `json:"target"`
	Version           string    `json:"version"`
	Source            string    `json:"source"`
	StartedAt         time.Time `json:"started_at"`
	InstanceStartedAt time.Time `json:"instance_started_at,omitzero"`
	Note              string    `json:"note,omitempty"`
}

func encodeDeployment(d Deployment) ([]byte, error) {
	return json.Marshal(deploymentRecord{
		V: recordVersion, ID: d.ID, Target: d.Target, Version: d.Version, Source: d.Source,
		StartedAt: d.StartedAt, InstanceStartedAt: d.InstanceStartedAt, Note: d.Note,
	})
}

func decodeDeployment(b []byte) (Deployment, error) {
	var r deploymentRecord
	if err := decodeRecord(b, &r, &r.V); err != nil {
		return Deployment{}, fmt.Errorf("deployment record: %w", err)
	}
	return Deployment{
		ID: r.ID, Target: r.Target, Version: r.Version, Source: r.Source,
		StartedAt: r.StartedAt, InstanceStartedAt: r.InstanceStartedAt, Note: r.Note,
	}, nil
}

// checkRecord is a CheckRecord on disk; the target is the owner bucket.
type checkRecord struct {
	V          int       `json:"v"`
	Check      string    `json:"check"`
	At         time.Time `json:"at"`
	Result     string    `json:"result"`
	Observed   string    `json:"observed,omitempty"`
	Expected   string    `json:"expected,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	DurationNS int64     `json:"duration_ns"`
}

func encodeCheck(c CheckRecord) ([]byte, error) {
	return json.Marshal(checkRecord{
		V: recordVersion, Check: c.Check, At: c.At, Result: c.Result, Observed: c.Observed,
		Expected: c.Expected, Reason: c.Reason, DurationNS: int64(c.Duration),
	})
}

func decodeCheck(b []byte) (CheckRecord, error) {
	var r checkRecord
	if err := decodeRecord(b, &r, &r.V); err != nil {
		return CheckRecord{}, fmt.Errorf("check record: %w", err)
	}
	return CheckRecord{
		Check: r.Check, At: r.At, Result: r.Result, Observed: r.Observed,
		Expected: r.Expected, Reason: r.Reason, Duration: time.Duration(r.DurationNS),
	}, nil
}

// deadLetterRecord is a DeadLetter on disk; Payload is base64 in JSON.
type deadLetterRecord struct {
	V       int       `json:"v"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
	Payload []byte    `json:"payload"`
}

func encodeDeadLetter(d DeadLetter) ([]byte, error) {
	return json.Marshal(deadLetterRecord{V: recordVersion, At: d.At, Reason: d.Reason, Payload: d.Payload})
}

func decodeDeadLetter(seq uint64, b []byte) (DeadLetter, error) {
	var r deadLetterRecord
	if err := decodeRecord(b, &r, &r.V); err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter record: %w", err)
	}
	return DeadLetter{Seq: seq, At: r.At, Reason: r.Reason, Payload: r.Payload}, nil
}

func decodeRecord(b []byte, into any, version *int) error {
	if err := json.Unmarshal(b, into); err != nil {
		return err
	}
	if *version != recordVersion {
		return fmt.Errorf("record version %d is not %d", *version, recordVersion)
	}
	return nil
}

// targetBuckets hold a bucket per target: what StaleTargets looks through
// and DeleteTarget removes.
var targetBuckets = [][]byte{bucketDeployments, bucketChecks, bucketRuleState, bucketRollups}
