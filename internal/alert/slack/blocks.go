package slack

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Slack's limits, each with where Slack documents it, and the budgets this
// package keeps to. Lengths count characters (runes), as Slack and
// slack-go do. Render never fails on a long message: it cuts, and says
// what it cut ("… 12 more alerts").
const (
	// MaxBlocks is Slack's limit of blocks per message: "You can include
	// up to 50 blocks in each message"
	// (https://api.slack.com/reference/block-kit/blocks).
	MaxBlocks = 50
	// MaxSectionChars is Slack's limit of a section block's text: "Maximum
	// length for the text in this field is 3000 characters"
	// (https://api.slack.com/reference/block-kit/blocks#section). Context
	// elements are text objects, held to the same length here.
	MaxSectionChars = 3000
	// MaxHeaderChars is Slack's limit of a header block's plain text:
	// "Maximum length for the text in this field is 150 characters"
	// (https://api.slack.com/reference/block-kit/blocks#header).
	MaxHeaderChars = 150
	// MaxMessageTextChars is where Slack truncates a message's top-level
	// text (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
	MaxMessageTextChars = 40000
	// MaxTotalChars bounds the text of all blocks together. Slack
	// documents no such limit but answers msg_blocks_too_long near 13,000
	// characters (https://github.com/slackapi/bolt-js/issues/2509), so
	// messages stay below 8,000 (docs/reliability.md scenario 6).
	MaxTotalChars = 8000
	// MaxFallbackChars bounds the plain-text fallback, the text
	// notifications show: far below MaxMessageTextChars, since a
	// notification shows a line or two.
	MaxFallbackChars = 1000
)

// Payload is a Slack message: Block Kit blocks and the plain-text fallback
// that notifications and clients without blocks show. It is the JSON body
// of an incoming-webhook post.
type Payload struct {
	// Text is the fallback, plain text.
	Text string `json:"text"`
	// Blocks are the message's blocks.
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is the subset of Block Kit this package renders: header, section
// (Text only), context (Elements) and divider.
type Block struct {
	// Type is "header", "section", "context" or "divider".
	Type string `json:"type"`
	// Text is a header's or a section's text.
	Text *Text `json:"text,omitempty"`
	// Elements are a context block's texts.
	Elements []Text `json:"elements,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	// Type is "plain_text" or "mrkdwn".
	Type string `json:"type"`
	// Text is the text itself (mrkdwn already escaped).
	Text string `json:"text"`
}

// Block types and text types.
const (
	BlockHeader  = "header"
	BlockSection = "section"
	BlockContext = "context"
	BlockDivider = "divider"
	TextPlain    = "plain_text"
	TextMrkdwn   = "mrkdwn"
)

// Header is a header block; text is cut to MaxHeaderChars.
func Header(text string) Block {
	return Block{Type: BlockHeader, Text: &Text{Type: TextPlain, Text: Truncate(text, MaxHeaderChars)}}
}

// Section is a section block with mrkdwn text, cut to MaxSectionChars.
func Section(mrkdwn string) Block {
	return Block{Type: BlockSection, Text: &Text{Type: TextMrkdwn, Text: Truncate(mrkdwn, MaxSectionChars)}}
}

// Context is a context block of one mrkdwn element, cut to MaxSectionChars.
func Context(mrkdwn string) Block {
	return Block{Type: BlockContext, Elements: []Text{{Type: TextMrkdwn, Text: Truncate(mrkdwn, MaxSectionChars)}}}
}

// Chars is the number of characters of text in b.
func (b Block) Chars() int {
	n := 0
	if b.Text != nil {
		n += textLen(b.Text.Text)
	}
	for _, e := range b.Elements {
		n += textLen(e.Text)
	}
	return n
}

// Chars is the number of characters of text in all of p's blocks.
func (p Payload) Chars() int {
	n := 0
	for _, b := range p.Blocks {
		n += b.Chars()
	}
	return n
}

// textLen counts characters as Slack does.
func textLen(s string) int { return utf8.RuneCountInString(s) }

// Truncate cuts s to at most n characters, ending it with "…" when cut.
func Truncate(s string, n int) string {
	if textLen(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	count := 0
	for i := range s {
		if count == n-1 {
			return s[:i] + "…"
		}
		count++
	}
	return s
}

// Escape makes s safe inside mrkdwn: Slack reads &, < and > as control
// characters (links, mentions), so text from elsewhere must not carry them.
func Escape(s string) string { return mrkdwnEscaper.Replace(s) }

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Code is s as inline code: escaped, one line, cut to n characters, with
// its backticks turned into quotes, which would otherwise end the code.
func Code(s string, n int) string {
	return "`" + Escape(oneLine(strings.ReplaceAll(s, "`", "'"), n)) + "`"
}

// oneLine joins s's lines, so that a multi-line value cannot break the
// layout, and cuts it to n characters.
func oneLine(s string, n int) string {
	return Truncate(strings.Join(strings.Fields(s), " "), n)
}

// link is a mrkdwn link, or "" when url is empty or too long to be one.
func link(url, label string) string {
	if url == "" || textLen(url) > maxURLChars {
		return ""
	}
	u := strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace(url)
	return "<" + u + "|" + Escape(label) + ">"
}

// maxURLChars bounds a link's URL: longer ones are a config mistake and
// would eat the section's budget.
const maxURLChars = 500

// JSON encodes p as Slack reads it, without escaping <, > and & (which
// mrkdwn uses, already escaped where they are text).
func (p Payload) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
