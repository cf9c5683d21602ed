package slackbot

import (
	"fmt"

	"github.com/slack-go/slack"

	alertslack "github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
)

// toSlack converts the rendered blocks to slack-go's types.
func toSlack(in []alertslack.Block) ([]slack.Block, error) {
	out := make([]slack.Block, 0, len(in))
	for i, b := range in {
		switch b.Type {
		case alertslack.BlockHeader:
			out = append(out, slack.NewHeaderBlock(textObject(b.Text)))
		case alertslack.BlockSection:
			out = append(out, slack.NewSectionBlock(textObject(b.Text), nil, nil))
		case alertslack.BlockContext:
			elems := make([]slack.MixedElement, len(b.Elements))
			for j := range b.Elements {
				elems[j] = textObject(&b.Elements[j])
			}
			out = append(out, slack.NewContextBlock("", elems...))
		case alertslack.BlockDivider:
			out = append(out, slack.NewDividerBlock())
		default:
			return nil, fmt.Errorf("block %d: type %q has no slack-go counterpart here", i, b.Type)
		}
	}
	return out, nil
}

func textObject(t *alertslack.Text) *slack.TextBlockObject {
	if t == nil {
		return nil
	}
	// emoji=true lets plain text show :shortcodes:; slack-go drops it for mrkdwn.
	return slack.NewTextBlockObject(t.Type, t.Text, true, false)
}
