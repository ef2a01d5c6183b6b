// SPDX-License-Identifier: Apache-2.0

// Package browsertest drives Debian's headless Chromium from Go tests, the
// way a person with a screen reader and a keyboard would use a page.
//
// [New] starts /usr/bin/chromium through the DevTools protocol with a fresh
// profile for the test and stops it when the test ends. Elements are found
// by their role and accessible name as Chromium computes them for assistive
// technology (the accessibility tree), never by CSS selectors, so a test
// fails when a control loses its label or its role:
//
//	b := browsertest.New(t, browsertest.Phone(), browsertest.Locale("de"))
//	b.Go(srv.URL + "/book/q1")
//	b.Check("9:00 – 9:15 AM")
//	b.Fill("textbox", "Phone number", "+14155550123")
//	b.ClickNavigate("button", "Reserve callback")
//	b.WaitFor("status", "")
//	b.Axe()
//	b.NoHorizontalScroll()
//
// The helpers that look for an element wait for it (polling the
// accessibility tree, up to [DefaultTimeout]); [Browser.Exists] and
// [Browser.Names] look once. A click lands where a mouse would and fails
// when something covers the element; [Browser.Check] and the keyboard
// helpers ([Browser.Press], [Browser.TabTo], [Browser.Type]) act as a
// keyboard user does. [Browser.ClickNavigate] and [Browser.PressNavigate]
// wait for the page that a form post or a link loads.
//
// Every helper reports a failure with t.Fatal (the state of the page is
// unknown after one), except the checks [Browser.Axe],
// [Browser.NoHorizontalScroll] and [Browser.NoConsoleErrors], which report
// with t.Error so that one run lists every problem;
// [Browser.AxeViolations], [Browser.HorizontalOverflow] and
// [Browser.ConsoleErrors] return the findings without failing.
//
// When /usr/bin/chromium is missing, New skips the test, or fails it when
// the environment has CI=true.
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Chromium is the browser binary that New starts: Debian's package
// chromium.
const Chromium = "/usr/bin/chromium"

// flags are the command-line flags of every browser New starts, besides
// its --user-data-dir (and the DevTools pipe that chromedp adds).
var flags = []string{
	"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync",
}

// DefaultTimeout is how long a helper waits for an element to appear, a
// navigation to finish or a protocol command to answer.
const DefaultTimeout = 15 * time.Second

// Desktop and phone viewports in CSS pixels.
const (
	DesktopWidth, DesktopHeight = 1280, 800
	PhoneWidth, PhoneHeight     = 360, 740
)

// An Option changes how New sets up the browser's tab.
type Option func(*config)

type config struct {
	jsOff         bool
	width, height int64
	mobile        bool
	locale        string
	timezone      string
	timeout       time.Duration
	binary        string // Chromium, but in the harness's own tests
}

// JSDisabled turns JavaScript off in the tab (emulation of a browser with
// scripts disabled): the page's scripts do not run. The helpers still work,
// since the protocol's own evaluation is not a page script.
func JSDisabled() Option { return func(c *config) { c.jsOff = true } }

// Phone emulates a 360×740 mobile screen with touch.
func Phone() Option {
	return func(c *config) { c.width, c.height, c.mobile = PhoneWidth, PhoneHeight, true }
}

// Viewport sets a desktop viewport of w×h CSS pixels (the default is
// 1280×800).
func Viewport(w, h int) Option {
	return func(c *config) { c.width, c.height, c.mobile = int64(w), int64(h), false }
}

// Locale makes the tab speak the BCP 47 language tag: its requests carry
// Accept-Language with it, and navigator.language and Intl use it.
func Locale(tag string) Option { return func(c *config) { c.locale = tag } }

// Timezone sets the tab's time zone (an IANA name such as
// "Europe/Berlin"), as the browser of a customer in that zone has it.
func Timezone(name string) Option { return func(c *config) { c.timezone = name } }

// Timeout replaces DefaultTimeout for this browser.
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Browser is one headless Chromium with one tab, owned by one test.
type Browser struct {
	t   testing.TB
	ctx context.Context // the tab's chromedp context
	cfg config

	console *consoleLog
}

// consoleLog is the errors a tab logged since the last ConsoleErrors.
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

// New starts a browser for the test t, with a fresh profile in a
// temporary directory, and closes it when the test ends. Each test gets
// its own browser process: nothing (cookies, cache, storage, a crash)
// leaks from one test into another, and the profile directory is the
// test's. (Parallel tests run at most -parallel at once, GOMAXPROCS by
// default, which bounds the browsers too.)
//
// When Chromium is missing New skips the test, or fails it under CI=true.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	cfg := config{width: DesktopWidth, height: DesktopHeight, timeout: DefaultTimeout, binary: Chromium}
	for _, o := range opts {
		o(&cfg)
	}
	if _, err := os.Stat(cfg.binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s (Debian package chromium): %v", cfg.binary, err)
		}
		t.Skipf("no %s (Debian package chromium): %v", cfg.binary, err)
	}
	profile := t.TempDir() // removed after the browser has stopped (cleanups run last first)

	var output syncBuffer
	aopts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(cfg.binary),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(&output),
	}
	for _, f := range flags {
		aopts = append(aopts, chromedp.Flag(f, true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), aopts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the process to exit
	})
	b := &Browser{t: t, ctx: ctx, cfg: cfg, console: &consoleLog{}}

	// The first action starts the browser: its context must not time out.
	if err := chromedp.Do(ctx, chromedp.Func(b.setup)); err != nil {
		t.Fatalf("start %s: %v\n%s", cfg.binary, err, output.String())
	}
	// The listener lives as long as the tab.
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	return b
}

// subresource are the kinds of request whose failure breaks a page: a
// document, a fetch or an XHR may be answered 4xx by design.
var subresource = map[network.ResourceType]bool{
	network.ResourceTypeScript: true, network.ResourceTypeStylesheet: true, network.ResourceTypeImage: true,
	network.ResourceTypeFont: true, network.ResourceTypeMedia: true,
}

// record keeps the errors the page logs: uncaught exceptions, CSP
// violations, scripts, styles, images or fonts that failed to load.
func (b *Browser) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			msg = d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			if d.URL != "" {
				msg += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber+1)
			}
		}
	case *network.EventResponseReceived:
		if subresource[ev.Type] && ev.Response != nil && ev.Response.Status >= 400 {
			msg = fmt.Sprintf("%s %s: %d", ev.Type, ev.Response.URL, ev.Response.Status)
		}
	case *network.EventLoadingFailed:
		if subresource[ev.Type] && !ev.Canceled {
			msg = fmt.Sprintf("%s failed to load: %s %s", ev.Type, ev.ErrorText, ev.BlockedReason)
		}
	case *log.EventEntryAdded:
		// Failed loads come as network events above: the log has an error
		// for every 4xx answer, also those the page expects (a refused
		// form) and the browser's own /favicon.ico.
		if e := ev.Entry; e != nil && e.Level == log.EntryLevelError && e.Source != log.EntrySourceNetwork {
			msg = fmt.Sprintf("%s: %s", e.Source, e.Text)
			if e.URL != "" {
				msg += " (" + e.URL + ")"
			}
		}
	}
	if msg == "" {
		return
	}
	c := b.console
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 100 {
		c.errs = append(c.errs, msg)
	}
}

// ConsoleErrors returns the errors the pages logged since the last call,
// as the developer console shows them: uncaught JavaScript exceptions,
// Content-Security-Policy violations, console.error calls, and scripts,
// styles, images, fonts or media that failed to load (not documents,
// fetches or XHRs, which may be answered 4xx by design; nor the browser's
// own /favicon.ico, which is an image without an initiator page).
func (b *Browser) ConsoleErrors() []string {
	c := b.console
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.errs
	c.errs = nil
	return out
}

// NoConsoleErrors reports each error of ConsoleErrors as a test error.
func (b *Browser) NoConsoleErrors() {
	b.t.Helper()
	for _, e := range b.ConsoleErrors() {
		b.t.Errorf("console error: %s", e)
	}
}

// setup applies the options to the tab.
func (b *Browser) setup(ctx context.Context, t *chromedp.Target) error {
	c := b.cfg
	metrics := emulation.SetDeviceMetricsOverrideParams{Width: c.width, Height: c.height, DeviceScaleFactor: 1, Mobile: c.mobile}
	if c.mobile {
		metrics.ScreenOrientation = &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypePortraitPrimary}
	}
	if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, metrics); err != nil {
		return fmt.Errorf("viewport: %w", err)
	}
	if _, err := cdp.Call(ctx, t, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: c.mobile}); err != nil {
		return fmt.Errorf("touch: %w", err)
	}
	if _, err := cdp.Call(ctx, t, log.Enable, cdp.Empty{}); err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if _, err := cdp.Call(ctx, t, runtime.Enable, cdp.Empty{}); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	if c.jsOff {
		if _, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			return fmt.Errorf("disable scripts: %w", err)
		}
	}
	if c.timezone != "" {
		if _, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: c.timezone}); err != nil {
			return fmt.Errorf("time zone %q: %w", c.timezone, err)
		}
	}
	if c.locale != "" {
		if _, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: c.locale}); err != nil {
			return fmt.Errorf("locale %q: %w", c.locale, err)
		}
		var ua string
		if err := evaluate(ctx, t, "navigator.userAgent", &ua); err != nil {
			return err
		}
		// A list of tags: Chromium adds the q-values to the header.
		accept := c.locale
		if base, _, ok := strings.Cut(c.locale, "-"); ok {
			accept += "," + base
		}
		if _, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: accept}); err != nil {
			return fmt.Errorf("accept-language: %w", err)
		}
	}
	return nil
}

// do runs f on the tab with the browser's timeout and fails the test with
// what (a description of the step) when it fails.
func (b *Browser) do(what string, f func(ctx context.Context, t *chromedp.Target) error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Func(f)); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Go navigates the tab to url and waits for the page to load.
func (b *Browser) Go(url string) {
	b.t.Helper()
	b.do("go to "+url, func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Navigate(url)(ctx, t)
		return err
	})
}

// URL returns the address of the page the tab shows.
func (b *Browser) URL() string {
	b.t.Helper()
	var u string
	b.do("read the URL", func(ctx context.Context, t *chromedp.Target) error {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			// Just after a navigation the page may not answer yet ("not
			// attached to an active page"): ask again.
			h, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
			if err == nil && h.CurrentIndex >= 0 && int(h.CurrentIndex) < len(h.Entries) {
				u = h.Entries[h.CurrentIndex].URL
				return nil
			}
			if err == nil {
				err = errors.New("no current history entry")
			}
			select {
			case <-ctx.Done():
				return err
			case <-tick.C:
			}
		}
	})
	return u
}

// errNotFound is the error of find when no element has the role and name.
var errNotFound = errors.New("not in the accessibility tree")

// query returns the elements of the page (shadow trees included) that are
// exposed to assistive technology with the role and the accessible name,
// in document order. An empty name matches any name. It does not wait for
// them, but asks again when the document changed under the question (a
// page loading).
func query(ctx context.Context, t *chromedp.Target, role, name string) ([]*accessibility.Node, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		doc, err := cdp.Call(ctx, t, dom.GetDocument, dom.GetDocumentParams{Depth: new(int64)})
		if err == nil {
			var res accessibility.QueryAXTreeResult
			res, err = cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
				NodeID: doc.Root.NodeID, Role: role, AccessibleName: name,
			})
			if err == nil {
				var out []*accessibility.Node
				for _, n := range res.Nodes {
					if !n.Ignored && n.BackendDOMNodeID != 0 {
						out = append(out, n)
					}
				}
				return out, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-tick.C:
		}
	}
}

// find returns the first element that query finds, or errNotFound.
func find(ctx context.Context, t *chromedp.Target, role, name string) (*accessibility.Node, error) {
	nodes, err := query(ctx, t, role, name)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, errNotFound
	}
	return nodes[0], nil
}

// waitFind polls find until the element is there or the context ends.
func waitFind(ctx context.Context, t *chromedp.Target, role, name string) (*accessibility.Node, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := find(ctx, t, role, name)
		if err == nil {
			return n, nil
		}
		// Not there yet.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %q: %w (%v)", role, name, errNotFound, err)
		case <-tick.C:
		}
	}
}

// describe names an element for failure messages.
func describe(role, name string) string {
	if name == "" {
		return role
	}
	return fmt.Sprintf("%s %q", role, name)
}

// Exists reports whether an element with the role and accessible name is
// on the page now (an empty name matches any).
func (b *Browser) Exists(role, name string) bool {
	b.t.Helper()
	found := false
	b.do("look for "+describe(role, name), func(ctx context.Context, t *chromedp.Target) error {
		_, err := find(ctx, t, role, name)
		found = err == nil
		if errors.Is(err, errNotFound) {
			return nil
		}
		return err
	})
	return found
}

// Names returns the accessible names of the elements with the role on
// the page now, in document order (e.g. the times of the radio buttons).
func (b *Browser) Names(role string) []string {
	b.t.Helper()
	var names []string
	b.do("list the "+role+"s", func(ctx context.Context, t *chromedp.Target) error {
		nodes, err := query(ctx, t, role, "")
		if err != nil {
			return err
		}
		for _, n := range nodes {
			names = append(names, axString(n.Name))
		}
		return nil
	})
	return names
}

// WaitNames polls the accessible names of the elements with the role
// (as Names gives them) until ok accepts them, and returns them; it fails
// the test after the timeout. For example, to wait for another day's
// heading after "Next day": b.WaitNames("heading", func(n []string) bool {
// return !slices.Equal(n, before) }).
func (b *Browser) WaitNames(role string, ok func(names []string) bool) []string {
	b.t.Helper()
	var names []string
	b.do("wait for the "+role+"s", func(ctx context.Context, t *chromedp.Target) error {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			nodes, err := query(ctx, t, role, "")
			if err == nil {
				names = names[:0]
				for _, n := range nodes {
					names = append(names, axString(n.Name))
				}
				if ok(names) {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("still %q", names)
			case <-tick.C:
			}
		}
	})
	return names
}

// WaitFor waits until an element with the role and accessible name is on
// the page (an empty name matches any), polling the accessibility tree, and
// fails the test after the timeout.
func (b *Browser) WaitFor(role, name string) {
	b.t.Helper()
	b.do("wait for "+describe(role, name), func(ctx context.Context, t *chromedp.Target) error {
		_, err := waitFind(ctx, t, role, name)
		return err
	})
}

// WaitGone waits until no element with the role and accessible name is on
// the page.
func (b *Browser) WaitGone(role, name string) {
	b.t.Helper()
	b.do("wait for "+describe(role, name)+" to go", func(ctx context.Context, t *chromedp.Target) error {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			_, err := find(ctx, t, role, name)
			if errors.Is(err, errNotFound) {
				return nil
			}
			select {
			case <-ctx.Done():
				return errors.New("still there")
			case <-tick.C:
			}
		}
	})
}

// callOn calls the JavaScript function declaration fn with this = the DOM
// node (and the nodes args as its arguments) and stores its JSON result in
// out (when not nil).
func callOn(ctx context.Context, t *chromedp.Target, node cdp.BackendNodeID, fn string, out any, args ...cdp.BackendNodeID) error {
	resolve := func(n cdp.BackendNodeID) (runtime.RemoteObjectID, error) {
		obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: n, ObjectGroup: "browsertest"})
		if err != nil {
			return "", fmt.Errorf("resolve node: %w", err)
		}
		return obj.Object.ObjectID, nil
	}
	this, err := resolve(node)
	if err != nil {
		return err
	}
	var cargs []*runtime.CallArgument
	for _, a := range args {
		id, err := resolve(a)
		if err != nil {
			return err
		}
		cargs = append(cargs, &runtime.CallArgument{ObjectID: id})
	}
	res, err := cdp.Call(ctx, t, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: fn, ObjectID: this, Arguments: cargs,
		ReturnByValue: ptr(true), AwaitPromise: ptr(true),
	})
	if err != nil {
		return err
	}
	return decode(res.Result, res.ExceptionDetails, out)
}

// evaluate evaluates a JavaScript expression in the page (awaiting a
// promise) and stores its JSON result in out (when not nil). It works with
// the page's scripts disabled and is not subject to the page's CSP.
func evaluate(ctx context.Context, t *chromedp.Target, expr string, out any) error {
	res, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{
		Expression: expr, ReturnByValue: ptr(true), AwaitPromise: ptr(true),
	})
	if err != nil {
		return err
	}
	return decode(res.Result, res.ExceptionDetails, out)
}

func decode(obj *runtime.RemoteObject, exc *runtime.ExceptionDetails, out any) error {
	if exc != nil {
		msg := exc.Text
		if exc.Exception != nil && exc.Exception.Description != "" {
			msg = exc.Exception.Description
		}
		return fmt.Errorf("javascript: %s", msg)
	}
	if out == nil || obj == nil || len(obj.Value) == 0 {
		return nil
	}
	return json.Unmarshal(obj.Value, out)
}

func ptr[T any](v T) *T { return &v }

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and stores its JSON value in out, when not nil. It is for what a person
// cannot see in the accessibility tree, such as a DOM event a widget
// fired.
func (b *Browser) Eval(expr string, out any) {
	b.t.Helper()
	b.do("evaluate "+expr, func(ctx context.Context, t *chromedp.Target) error {
		return evaluate(ctx, t, expr, out)
	})
}

// WaitUntil evaluates the JavaScript expression every 50 ms until it is
// truthy, and fails the test after the timeout. It is for what the
// accessibility tree does not show, such as a DOM event a widget fired.
func (b *Browser) WaitUntil(expr string) {
	b.t.Helper()
	b.do("wait until "+expr, func(ctx context.Context, t *chromedp.Target) error {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var ok bool
			err := evaluate(ctx, t, "!!("+expr+")", &ok)
			if err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				if err != nil {
					return err
				}
				return errors.New("never true")
			case <-tick.C:
			}
		}
	})
}

// Click waits for the element with the role and accessible name, scrolls
// it into view and clicks the middle of it with the mouse. Use
// ClickNavigate when the click loads another page.
func (b *Browser) Click(role, name string) {
	b.t.Helper()
	b.do("click "+describe(role, name), func(ctx context.Context, t *chromedp.Target) error {
		return click(ctx, t, role, name)
	})
}

func click(ctx context.Context, t *chromedp.Target, role, name string) error {
	n, err := waitFind(ctx, t, role, name)
	if err != nil {
		return err
	}
	return clickNode(ctx, t, n.BackendDOMNodeID)
}

// clickNode scrolls the node into view and clicks the middle of it.
func clickNode(ctx context.Context, t *chromedp.Target, node cdp.BackendNodeID) error {
	if _, err := cdp.Call(ctx, t, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{BackendNodeID: node}); err != nil {
		return fmt.Errorf("scroll into view: %w", err)
	}
	q, err := cdp.Call(ctx, t, dom.GetContentQuads, dom.GetContentQuadsParams{BackendNodeID: node})
	if err != nil {
		return fmt.Errorf("where is it: %w", err)
	}
	if len(q.Quads) == 0 || len(q.Quads[0]) != 8 {
		return errors.New("it has no box on the page")
	}
	var x, y float64
	for i := 0; i < 8; i += 2 {
		x += q.Quads[0][i] / 4
		y += q.Quads[0][i+1] / 4
	}
	// What a person would click there: the element itself (or inside it,
	// or its label), not something that covers it.
	var covered string
	err = callOn(ctx, t, node, fmt.Sprintf(`function() {
		const x = %g, y = %g;
		let hit = document.elementFromPoint(x, y);
		while (hit && hit.shadowRoot) {
			const inner = hit.shadowRoot.elementFromPoint(x, y);
			if (!inner || inner === hit) break;
			hit = inner;
		}
		if (!hit) return 'nothing';
		for (let n = hit; n; n = n.parentNode || n.host) if (n === this) return '';
		if (this.labels && Array.from(this.labels).some(l => l.contains(hit))) return '';
		return hit.outerHTML.slice(0, 200);
	}`, x, y), &covered)
	if err != nil {
		return err
	}
	if covered != "" {
		return fmt.Errorf("something else is where a click on it lands (%.0f, %.0f): %s", x, y, covered)
	}
	_, err = chromedp.MouseClickXY(x, y)(ctx, t)
	return err
}

// navigation runs act and waits until the tab's main frame has a new
// document (one that commits after act starts) and that document has
// loaded. A load event of the page that was there before does not count.
func navigation(ctx context.Context, t *chromedp.Target, act func() error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loaded := make(chan struct{}, 1)
	var committed atomic.Bool
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventFrameNavigated:
			if ev.Frame != nil && ev.Frame.ParentID == "" {
				committed.Store(true)
			}
		case *page.EventLoadEventFired:
			if committed.Load() {
				select {
				case loaded <- struct{}{}:
				default:
				}
			}
		}
	}); err != nil {
		return err
	}
	if err := act(); err != nil {
		return err
	}
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		if committed.Load() {
			return errors.New("the next page did not finish loading")
		}
		return errors.New("no page loaded")
	}
}

// ClickNavigate clicks like Click and waits for the page that the click
// loads (a form's submit button without JavaScript, a link).
func (b *Browser) ClickNavigate(role, name string) {
	b.t.Helper()
	b.do("click "+describe(role, name)+" and wait for the next page", func(ctx context.Context, t *chromedp.Target) error {
		n, err := waitFind(ctx, t, role, name)
		if err != nil {
			return err
		}
		return navigation(ctx, t, func() error { return clickNode(ctx, t, n.BackendDOMNodeID) })
	})
}

// Fill waits for the element with the role (usually "textbox") and
// accessible name, focuses it, replaces its text with value as typed text
// would, and leaves the focus there.
func (b *Browser) Fill(role, name, value string) {
	b.t.Helper()
	b.do("fill "+describe(role, name), func(ctx context.Context, t *chromedp.Target) error {
		n, err := waitFind(ctx, t, role, name)
		if err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, dom.Focus, dom.FocusParams{BackendNodeID: n.BackendDOMNodeID}); err != nil {
			return fmt.Errorf("focus: %w", err)
		}
		if err := callOn(ctx, t, n.BackendDOMNodeID, `function() { if (this.select) this.select(); }`, nil); err != nil {
			return err
		}
		if value == "" {
			_, err := chromedp.KeyEvent(kb.Delete)(ctx, t)
			return err
		}
		_, err = cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: value})
		return err
	})
}

// Check waits for the radio button (or checkbox) with the accessible name,
// focuses it and presses Space, as a keyboard user does, then makes sure
// it is checked.
func (b *Browser) Check(name string) {
	b.t.Helper()
	b.do("check "+describe("radio", name), func(ctx context.Context, t *chromedp.Target) error {
		n, err := waitFind(ctx, t, "radio", name)
		if errors.Is(err, errNotFound) {
			n, err = find(ctx, t, "checkbox", name)
		}
		if err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, dom.Focus, dom.FocusParams{BackendNodeID: n.BackendDOMNodeID}); err != nil {
			return fmt.Errorf("focus: %w", err)
		}
		var checked bool
		if err := callOn(ctx, t, n.BackendDOMNodeID, `function() { return this.checked === true }`, &checked); err != nil {
			return err
		}
		if checked {
			return nil
		}
		if _, err := chromedp.KeyEvent(" ")(ctx, t); err != nil {
			return err
		}
		if err := callOn(ctx, t, n.BackendDOMNodeID, `function() { return this.checked === true }`, &checked); err != nil {
			return err
		}
		if !checked {
			return errors.New("pressing Space did not check it")
		}
		return nil
	})
}

// Select waits for the select (role "combobox") with the accessible name
// and chooses its option whose text is option, firing input and change as
// a person's choice does.
func (b *Browser) Select(name, option string) {
	b.t.Helper()
	b.do(fmt.Sprintf("choose %q in %s", option, describe("combobox", name)), func(ctx context.Context, t *chromedp.Target) error {
		n, err := waitFind(ctx, t, "combobox", name)
		if err != nil {
			return err
		}
		var ok bool
		arg, _ := json.Marshal(option)
		fn := `function() {
			const o = Array.from(this.options || []).find(o => o.text.trim() === ` + string(arg) + `);
			if (!o) return false;
			this.focus(); this.value = o.value;
			this.dispatchEvent(new Event('input', {bubbles: true}));
			this.dispatchEvent(new Event('change', {bubbles: true}));
			return true;
		}`
		if err := callOn(ctx, t, n.BackendDOMNodeID, fn, &ok); err != nil {
			return err
		}
		if !ok {
			return errors.New("no such option")
		}
		return nil
	})
}

// Text waits for the element with the role and accessible name (an empty
// name matches any) and returns its rendered text (innerText).
func (b *Browser) Text(role, name string) string {
	b.t.Helper()
	var s string
	b.do("read "+describe(role, name), func(ctx context.Context, t *chromedp.Target) error {
		n, err := waitFind(ctx, t, role, name)
		if err != nil {
			return err
		}
		return callOn(ctx, t, n.BackendDOMNodeID, `function() { return this.innerText ?? this.textContent }`, &s)
	})
	return s
}

// Attr waits for the element with the role and accessible name and
// returns its attribute attr ("" when it has none).
func (b *Browser) Attr(role, name, attr string) string {
	b.t.Helper()
	var s string
	b.do("read "+attr+" of "+describe(role, name), func(ctx context.Context, t *chromedp.Target) error {
		n, err := waitFind(ctx, t, role, name)
		if err != nil {
			return err
		}
		arg, _ := json.Marshal(attr)
		return callOn(ctx, t, n.BackendDOMNodeID, `function() { return this.getAttribute(`+string(arg)+`) || '' }`, &s)
	})
	return s
}

// Focused returns the role and accessible name of the element that has
// the keyboard focus (looking into shadow trees), as a screen reader
// announces it. A page with nothing focused gives the document's role.
func (b *Browser) Focused() (role, name string) {
	b.t.Helper()
	b.do("read the focus", func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: `(() => {
			let e = document.activeElement || document.body;
			while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
			return e;
		})()`})
		if err != nil {
			return err
		}
		if err := decode(res.Result, res.ExceptionDetails, nil); err != nil {
			return err
		}
		if res.Result.ObjectID == "" {
			return errors.New("no active element")
		}
		tree, err := cdp.Call(ctx, t, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
			ObjectID: res.Result.ObjectID, FetchRelatives: ptr(false),
		})
		if err != nil {
			return err
		}
		if len(tree.Nodes) == 0 {
			return errors.New("the focused element has no accessibility node")
		}
		n := tree.Nodes[0]
		role, name = axString(n.Role), axString(n.Name)
		return nil
	})
	return role, name
}

// axString is the string of an accessibility value ("" when absent).
func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v.Value, &s) != nil {
		return string(v.Value)
	}
	return s
}

// keys are the names Press understands, besides single characters.
var keys = map[string]string{
	"Tab": kb.Tab, "Enter": kb.Enter, "Space": " ", "Escape": kb.Escape,
	"Backspace": kb.Backspace, "Delete": kb.Delete, "Home": kb.Home, "End": kb.End,
	"ArrowUp": kb.ArrowUp, "ArrowDown": kb.ArrowDown, "ArrowLeft": kb.ArrowLeft, "ArrowRight": kb.ArrowRight,
	"PageUp": kb.PageUp, "PageDown": kb.PageDown,
}

// Press presses one key on the focused element: a name such as "Tab",
// "Enter", "Space", "Escape", "ArrowDown" or a single character, optionally
// prefixed with "Shift+" (e.g. "Shift+Tab").
func (b *Browser) Press(key string) {
	b.t.Helper()
	var opts []chromedp.KeyOption
	k := key
	if rest, ok := strings.CutPrefix(k, "Shift+"); ok {
		k = rest
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	s, ok := keys[k]
	if !ok {
		if len([]rune(k)) != 1 {
			b.t.Fatalf("press %q: unknown key", key)
		}
		s = k
	}
	b.do("press "+key, func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.KeyEvent(s, opts...)(ctx, t)
		return err
	})
}

// TabTo presses Tab until the focus is on the element with the role and
// accessible name (an empty name matches any), as a keyboard user moves
// through a page, and fails after 40 presses.
func (b *Browser) TabTo(role, name string) {
	b.t.Helper()
	var seen []string
	for range 40 {
		b.Press("Tab")
		r, n := b.Focused()
		if r == role && (name == "" || n == name) {
			return
		}
		seen = append(seen, describe(r, n))
	}
	b.t.Fatalf("Tab never reached %s; the focus went through %s", describe(role, name), strings.Join(seen, ", "))
}

// PressNavigate presses the key like Press and waits for the page that
// it loads (Enter on a link or a submit button).
func (b *Browser) PressNavigate(key string) {
	b.t.Helper()
	s, ok := keys[key]
	if !ok {
		s = key
	}
	b.do("press "+key+" and wait for the next page", func(ctx context.Context, t *chromedp.Target) error {
		return navigation(ctx, t, func() error {
			_, err := chromedp.KeyEvent(s)(ctx, t)
			return err
		})
	})
}

// Type types text into the focused element, key by key.
func (b *Browser) Type(text string) {
	b.t.Helper()
	b.do("type", func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.KeyEvent(text)(ctx, t)
		return err
	})
}

// Screenshot saves a PNG of the whole page (beyond the viewport) to path,
// creating its directory.
func (b *Browser) Screenshot(path string) {
	b.t.Helper()
	var png []byte
	b.do("screenshot", func(ctx context.Context, t *chromedp.Target) error {
		var err error
		png, err = chromedp.FullScreenshot(100)(ctx, t)
		return err
	})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// HorizontalOverflow returns how wide the page's content is and how wide
// the viewport is, in CSS pixels; the page scrolls sideways when content >
// viewport. The viewport is the layout viewport's width without a vertical
// scrollbar, and never more than the emulated screen (a page without a
// mobile viewport meta tag is laid out 980 px wide on a phone, which
// counts as overflow).
func (b *Browser) HorizontalOverflow() (content, viewport int) {
	b.t.Helper()
	b.do("measure the page", func(ctx context.Context, t *chromedp.Target) error {
		var m struct{ Scroll, Client, Inner int }
		err := evaluate(ctx, t, `(() => {
			const s = document.scrollingElement || document.documentElement;
			return {Scroll: s.scrollWidth, Client: document.documentElement.clientWidth, Inner: window.innerWidth};
		})()`, &m)
		if err != nil {
			return err
		}
		content, viewport = m.Scroll, min(m.Client, m.Inner, int(b.cfg.width))
		if m.Client > int(b.cfg.width) {
			content = max(content, m.Client)
		}
		return nil
	})
	return content, viewport
}

// NoHorizontalScroll reports an error when the page scrolls sideways in
// the viewport (see HorizontalOverflow).
func (b *Browser) NoHorizontalScroll() {
	b.t.Helper()
	if content, viewport := b.HorizontalOverflow(); content > viewport {
		b.t.Errorf("%s scrolls sideways: content %d px wide in a %d px viewport", b.URL(), content, viewport)
	}
}

// syncBuffer is a bytes.Buffer safe for the writes of the browser's output
// goroutine and a read after a failure.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf.Len() > 64<<10 {
		return len(p), nil // enough to tell why it failed
	}
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
