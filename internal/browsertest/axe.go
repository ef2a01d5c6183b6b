package browsertest

import (
	"context"
	_ "embed" // axe-core
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core's browser build, copied from the npm package
// axe-core (version in its first line).
//
//go:embed testdata/axe.min.js
var axeSource string

// AxeTags are the axe-core rule tags that Axe runs: the WCAG 2.0, 2.1 and
// 2.2 success criteria of levels A and AA.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// A Violation is one axe-core rule that the page breaks, with the elements
// that break it.
type Violation struct {
	ID     string          `json:"id"`     // the rule, e.g. "label"
	Impact string          `json:"impact"` // minor, moderate, serious or critical
	Help   string          `json:"help"`   // what the rule asks for
	URL    string          `json:"helpUrl"`
	Nodes  []ViolationNode `json:"nodes"`
}

// A ViolationNode is one element that breaks a rule.
type ViolationNode struct {
	// Target is the element's CSS selector path (one selector per
	// shadow tree level).
	Target  json.RawMessage `json:"target"`
	HTML    string          `json:"html"`
	Summary string          `json:"failureSummary"`
}

// String formats the violation for a test failure.
func (v Violation) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&s, "\n\t%s %s", n.Target, n.HTML)
		if n.Summary != "" {
			fmt.Fprintf(&s, "\n\t\t%s", strings.ReplaceAll(n.Summary, "\n", "\n\t\t"))
		}
	}
	return s.String()
}

// AxeViolations runs axe-core's WCAG 2.2 A and AA rules (AxeTags) on the
// page as it is now and returns what it breaks. The script is injected
// through the DevTools protocol, so it runs under any Content-Security-
// Policy of the page and with the page's JavaScript disabled (scripts are
// turned on for the run only; the page's own scripts do not run again).
func (b *Browser) AxeViolations() []Violation {
	b.t.Helper()
	var out []Violation
	b.do("run axe-core", func(ctx context.Context, t *chromedp.Target) error {
		if b.cfg.jsOff {
			if _, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
				return err
			}
			defer cdp.Call(context.WithoutCancel(ctx), t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		}
		var loaded bool
		if err := evaluate(ctx, t, `typeof window.axe === 'object'`, &loaded); err != nil {
			return err
		}
		if !loaded {
			if err := evaluate(ctx, t, axeSource+"\n;undefined", nil); err != nil {
				return fmt.Errorf("inject axe-core: %w", err)
			}
		}
		tags, _ := json.Marshal(AxeTags)
		return evaluate(ctx, t, `axe.run(document, {runOnly: {type: 'tag', values: `+string(tags)+`}, resultTypes: ['violations']})
			.then(r => r.violations)`, &out)
	})
	return out
}

// Axe runs AxeViolations and reports each violation as a test error,
// with its rule, impact, help and the offending elements.
func (b *Browser) Axe() {
	b.t.Helper()
	vs := b.AxeViolations()
	if len(vs) == 0 {
		return
	}
	u := b.URL()
	for _, v := range vs {
		b.t.Errorf("axe-core on %s: %s", u, v)
	}
}
