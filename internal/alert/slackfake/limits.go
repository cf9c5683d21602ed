package slackfake

import (
	"encoding/json"
	"unicode/utf8"
)

// Limits are the message limits the fake enforces. Lengths count
// characters (runes), as Slack and slack-go do.
type Limits struct {
	// MaxBlocks per message (Slack: 50). More → invalid_blocks.
	MaxBlocks int
	// MaxSectionText is a section's text (Slack: 3,000). More → invalid_blocks.
	MaxSectionText int
	// MaxSectionFields per section (Slack: 10), each at most MaxFieldText
	// (Slack: 2,000). More → invalid_blocks.
	MaxSectionFields, MaxFieldText int
	// MaxHeaderText is a header's plain text (Slack: 150). More → invalid_blocks.
	MaxHeaderText int
	// MaxContextElements per context block (Slack: 10). More → invalid_blocks.
	MaxContextElements int
	// MaxBlocksText is the text of all blocks together. Slack documents no
	// such limit but answers msg_blocks_too_long somewhere near 13,000
	// characters; the fake uses 8,000, the budget spacetime-watch keeps to
	// (docs/reliability.md scenario 6), so that a creeping message fails here
	// long before it fails at Slack. More → msg_blocks_too_long.
	MaxBlocksText int
	// MaxText is the top-level text (Slack: 40,000). More → msg_too_long.
	MaxText int
}

// DefaultLimits are Slack's documented limits, and 8,000 characters of block
// text in all.
func DefaultLimits() Limits {
	return Limits{
		MaxBlocks:          50,
		MaxSectionText:     3000,
		MaxSectionFields:   10,
		MaxFieldText:       2000,
		MaxHeaderText:      150,
		MaxContextElements: 10,
		MaxBlocksText:      8000,
		MaxText:            40000,
	}
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type block struct {
	Type     string            `json:"type"`
	Text     *textObject       `json:"text"`
	Fields   []textObject      `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
}

// check returns Slack's error word for a message with text and blocks
// (raw JSON, possibly empty), or "" when Slack would accept it.
func (l Limits) check(text string, blocks json.RawMessage) string {
	var bs []block
	if len(blocks) > 0 && string(blocks) != "null" {
		if err := json.Unmarshal(blocks, &bs); err != nil {
			return "invalid_blocks_format"
		}
	}
	if text == "" && len(bs) == 0 {
		return "no_text"
	}
	if utf8.RuneCountInString(text) > l.MaxText {
		return "msg_too_long"
	}
	if len(bs) > l.MaxBlocks {
		return "invalid_blocks"
	}
	total := 0
	for _, b := range bs {
		n, word := l.checkBlock(b)
		if word != "" {
			return word
		}
		total += n
	}
	if total > l.MaxBlocksText {
		return "msg_blocks_too_long"
	}
	return ""
}

// checkBlock returns the characters of b's text, or Slack's word for what
// is wrong with it.
func (l Limits) checkBlock(b block) (int, string) {
	switch b.Type {
	case "header":
		if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" {
			return 0, "invalid_blocks"
		}
		n := utf8.RuneCountInString(b.Text.Text)
		if n > l.MaxHeaderText {
			return 0, "invalid_blocks"
		}
		return n, ""
	case "section":
		return l.checkSection(b)
	case "context":
		if len(b.Elements) == 0 || len(b.Elements) > l.MaxContextElements {
			return 0, "invalid_blocks"
		}
		total := 0
		for _, raw := range b.Elements {
			var t textObject
			if err := json.Unmarshal(raw, &t); err != nil || t.Type == "" {
				return 0, "invalid_blocks"
			}
			if t.Type == "plain_text" || t.Type == "mrkdwn" {
				total += utf8.RuneCountInString(t.Text)
			}
		}
		return total, ""
	case "":
		return 0, "invalid_blocks"
	default:
		// divider, image, actions, …: not used by the sinks, not checked.
		return 0, ""
	}
}

func (l Limits) checkSection(b block) (int, string) {
	if b.Text == nil && len(b.Fields) == 0 {
		return 0, "invalid_blocks"
	}
	total := 0
	if b.Text != nil {
		if !validTextType(b.Text.Type) || b.Text.Text == "" {
			return 0, "invalid_blocks"
		}
		n := utf8.RuneCountInString(b.Text.Text)
		if n > l.MaxSectionText {
			return 0, "invalid_blocks"
		}
		total += n
	}
	if len(b.Fields) > l.MaxSectionFields {
		return 0, "invalid_blocks"
	}
	for _, f := range b.Fields {
		n := utf8.RuneCountInString(f.Text)
		if !validTextType(f.Type) || n == 0 || n > l.MaxFieldText {
			return 0, "invalid_blocks"
		}
		total += n
	}
	return total, ""
}

func validTextType(t string) bool { return t == "plain_text" || t == "mrkdwn" }
