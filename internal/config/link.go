package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
)

// LinkData is what the runbook_url and dashboard_url templates see.
type LinkData struct {
	// Target is the target's name, such as main.
	Target string
	// Alert is the alert's name, such as fps_low.
	Alert string
	// Severity is critical, warning or info.
	Severity string
}

// linkFields are LinkData's fields as a template names them.
var linkFields = []string{".Target", ".Alert", ".Severity"}

// maxLinkBytes bounds a rendered link: a URL, not a document.
const maxLinkBytes = 2048

// RenderLink renders a runbook_url or dashboard_url template for one
// alert. An empty template renders "" (no link). Load has already checked
// that the config's templates parse, use only LinkData's fields and render
// http(s) URLs, so an error here is rare (a function failing on unusual
// values, such as index or slice); leave the link out then.
//
// Templates may use text, actions, if/else and with, and text/template's
// functions (urlquery is the useful one); range, define, block and
// template are refused, so rendering is linear in the template's length.
func RenderLink(tmpl string, d LinkData) (string, error) {
	if tmpl == "" {
		return "", nil
	}
	t, err := parseLink(tmpl)
	if err != nil {
		return "", err
	}
	var b limitedBuilder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("%s", templateMessage(err))
	}
	return b.String(), nil
}

// parseLink parses a link template and checks its shape.
func parseLink(tmpl string) (*template.Template, error) {
	t, err := template.New("link").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("%s", templateMessage(err))
	}
	if len(t.Templates()) > 1 || t.Tree == nil {
		return nil, errors.New("define and block are not supported; write the link in one template")
	}
	if err := checkLinkNodes(t.Tree.Root); err != nil {
		return nil, err
	}
	return t, nil
}

// checkLinkNodes walks a template's tree, refusing loops and template calls
// and checking every field reference against LinkData, including those in
// branches that sample data does not take.
func checkLinkNodes(n parse.Node) error {
	switch n := n.(type) {
	case nil, *parse.TextNode, *parse.CommentNode, *parse.DotNode, *parse.StringNode,
		*parse.NumberNode, *parse.BoolNode, *parse.NilNode, *parse.IdentifierNode:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkLinkNodes(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.ActionNode:
		return checkLinkNodes(n.Pipe)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkLinkNodes(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkLinkNodes(a); err != nil {
				return err
			}
		}
		return nil
	case *parse.FieldNode:
		return checkLinkField(n.Ident)
	case *parse.VariableNode:
		if n.Ident[0] == "$" && len(n.Ident) > 1 {
			return checkLinkField(n.Ident[1:])
		}
		if len(n.Ident) > 1 {
			return fmt.Errorf("%s: the fields are strings, which have no fields", n)
		}
		return nil
	case *parse.ChainNode:
		if len(n.Field) > 0 {
			return fmt.Errorf("%s: the fields are strings, which have no fields", n)
		}
		return checkLinkNodes(n.Node)
	case *parse.RangeNode:
		return errors.New("range is not supported in a link template")
	case *parse.TemplateNode:
		return errors.New("template is not supported in a link template")
	}
	return fmt.Errorf("%s is not supported in a link template", n)
}

func checkBranch(b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := checkLinkNodes(n); err != nil {
			return err
		}
	}
	return nil
}

// checkLinkField checks a field chain such as [Target] (from .Target).
func checkLinkField(ident []string) error {
	ref := "." + strings.Join(ident, ".")
	switch {
	case !contains(linkFields, "."+ident[0]):
		return fmt.Errorf("%s is not a field%s; the fields are .Target, .Alert and .Severity",
			truncate(ref, 40), DidYouMean("."+ident[0], linkFields))
	case len(ident) > 1:
		return fmt.Errorf("%s: .%s is a string, which has no fields", truncate(ref, 40), ident[0])
	}
	return nil
}

// linkSamples are the data a link template is tried with at load: one per
// severity, since a template may branch on it.
var linkSamples = []LinkData{
	{Target: "main", Alert: "fps_low", Severity: "warning"},
	{Target: "main", Alert: "fps_critical", Severity: "critical"},
	{Target: "vr-2", Alert: "deployment_review", Severity: "info"},
}

// checkLinkTemplate checks a link template as Load does: it parses, uses
// only LinkData, and renders an http(s) URL for every sample.
func checkLinkTemplate(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	if _, err := parseLink(tmpl); err != nil {
		return fmt.Errorf("not a valid template: %w", err)
	}
	for _, d := range linkSamples {
		out, err := RenderLink(tmpl, d)
		if err != nil {
			return fmt.Errorf("template fails for target %s, alert %s, severity %s: %w", d.Target, d.Alert, d.Severity, err)
		}
		u, err := url.Parse(out)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("renders %q for target %s, alert %s, severity %s, which is not an http(s) URL; e.g. https://runbooks.example.com/{{.Alert}}",
				truncate(out, 100), d.Target, d.Alert, d.Severity)
		}
	}
	return nil
}

var templatePrefixRE = regexp.MustCompile(`^template: [^:]*:\d+(:\d+)?: (executing "[^"]*" at <[^>]*>: )?`)

// templateMessage drops text/template's "template: link:1:7: executing
// \"link\" at <…>:" prefix: the field path already says which template.
func templateMessage(err error) string {
	return templatePrefixRE.ReplaceAllString(err.Error(), "")
}

// limitedBuilder is a strings.Builder that refuses to grow past
// maxLinkBytes, so a template cannot build a huge string.
type limitedBuilder struct{ strings.Builder }

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxLinkBytes {
		return 0, fmt.Errorf("the link is longer than %d bytes", maxLinkBytes)
	}
	return b.Builder.Write(p)
}
