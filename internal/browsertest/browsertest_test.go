package browsertest

import (
	"bytes"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// site is a small test site: an accessible booking-like form, a page
// that breaks accessibility rules, pages that scripts change, and pages
// of several widths. Every page has a strict Content-Security-Policy.
type site struct {
	*httptest.Server
	mu     sync.Mutex
	posted []string // the forms posted to /form, encoded
}

const head = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>%s</title></head><body><main>`

const formPage = `<h1>Support line</h1>
<form method="post" action="/form">
<fieldset><legend>Available times</legend>
<label><input type="radio" name="slot" value="0900"> 9:00 – 9:15 AM</label>
<label><input type="radio" name="slot" value="0915"> 9:15 – 9:30 AM</label>
<label><input type="radio" name="slot" value="0930"> 9:30 – 9:45 AM</label>
</fieldset>
<p><label for="phone">Phone number</label> <input id="phone" name="phone" type="tel" autocomplete="tel" value="+1"></p>
<p><label for="tz">Time zone</label> <select id="tz" name="tz"><option>America/New_York</option><option>Europe/Berlin</option></select></p>
<p><button type="submit">Reserve callback</button></p>
</form>
<p><button type="button" id="more">Show more</button></p>
<p style="position: relative"><button type="button">Covered</button><span style="position: absolute; inset: 0; background: #fff">A banner on top</span></p>
<div id="extra"></div>
<slot-card></slot-card>
<script src="/form.js"></script>`

// formScript adds a button when "Show more" is pressed, and defines a
// custom element whose button is in a shadow tree.
const formScript = `
document.getElementById('more').addEventListener('click', () => {
  const b = document.createElement('button');
  b.textContent = 'Added later';
  document.getElementById('extra').append(b);
});
customElements.define('slot-card', class extends HTMLElement {
  connectedCallback() {
    const root = this.attachShadow({mode: 'open'});
    const b = document.createElement('button');
    b.textContent = 'Inside the shadow';
    b.addEventListener('click', () => { b.textContent = 'Shadow clicked'; });
    root.append(b);
  }
});`

// badPage breaks several WCAG A rules: an image without alternative
// text, an input without a label, a button without a name.
const badPage = `<!doctype html><html><head><meta charset="utf-8"><title>Bad</title></head><body>
<img src="/nothing.png"><input type="text" name="q"><button></button></body></html>`

func newSite(t *testing.T) *site {
	s := &site{}
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, head, title)
		fmt.Fprint(w, body, "</main></body></html>")
	}
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) { page(w, "Book", formPage) })
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if r.PostForm.Get("phone") == "refuse" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			page(w, "Book", `<h1>Support line</h1><p role="alert">This is not a phone number.</p>`)
			return
		}
		s.mu.Lock()
		s.posted = append(s.posted, r.PostForm.Encode())
		s.mu.Unlock()
		http.Redirect(w, r, "/done?slot="+r.PostForm.Get("slot"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Booked", `<h1>Support line</h1><div role="status"><p>Booked for `+html.EscapeString(r.URL.Query().Get("slot"))+`.</p></div>`)
	})
	mux.HandleFunc("GET /form.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, formScript)
	})
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, badPage)
	})
	mux.HandleFunc("GET /scripted", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Scripted", `<h1 id="h">Scripts off</h1>
<p>Accept-Language: <span id="al">`+html.EscapeString(r.Header.Get("Accept-Language"))+`</span></p>
<p id="intl"></p><script src="/scripted.js"></script>`)
	})
	mux.HandleFunc("GET /scripted.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.getElementById('h').textContent = 'Scripts on';
document.getElementById('intl').textContent = navigator.language + ' ' + Intl.DateTimeFormat().resolvedOptions().timeZone;`)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Broken", `<h1>Broken</h1><script>document.title = 'inline ran'</script><script src="/broken.js"></script>
<img src="/missing.png" alt="A missing picture">`)
	})
	mux.HandleFunc("GET /broken.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `throw new Error('the enhancement failed');`)
	})
	mux.HandleFunc("GET /wide", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Wide", `<h1>Wide</h1><div style="width: 800px; height: 20px; background: #036"></div>`)
	})
	mux.HandleFunc("GET /narrow", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Narrow", `<h1>Narrow</h1><p style="max-width: 100%">A paragraph that wraps as the viewport asks.</p>`)
	})
	s.Server = httptest.NewServer(csp(mux))
	t.Cleanup(s.Close)
	return s
}

// csp puts the strict policy of the product's pages on every answer.
func csp(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; img-src 'self'; style-src 'unsafe-inline'")
		h.ServeHTTP(w, r)
	})
}

func (s *site) lastPost() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.posted) == 0 {
		return ""
	}
	return s.posted[len(s.posted)-1]
}

// TestFormByRoleAndName fills and posts the form through the elements'
// roles and accessible names.
func TestFormByRoleAndName(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)
	b.Go(s.URL + "/form")
	if !b.Exists("group", "Available times") {
		t.Error("no group named Available times")
	}
	if b.Exists("button", "No such button") {
		t.Error("Exists found a button that is not there")
	}
	if got, want := b.Names("radio"), []string{"9:00 – 9:15 AM", "9:15 – 9:30 AM", "9:30 – 9:45 AM"}; !slices.Equal(got, want) {
		t.Errorf("radios %q, want %q", got, want)
	}
	if got := b.Text("heading", "Support line"); got != "Support line" {
		t.Errorf("heading text = %q", got)
	}
	b.Fill("textbox", "Phone number", "+14155550123")
	b.Check("9:15 – 9:30 AM")
	b.Check("9:00 – 9:15 AM") // moves the choice within the group
	b.Select("Time zone", "Europe/Berlin")
	if role, name := b.Focused(); role != "combobox" || name != "Time zone" {
		t.Errorf("focus after Select on %s %q", role, name)
	}
	b.Axe()
	b.ClickNavigate("button", "Reserve callback")
	if got := b.Text("status", ""); !strings.Contains(got, "Booked for 0900") {
		t.Errorf("status = %q", got)
	}
	if u := b.URL(); u != s.URL+"/done?slot=0900" {
		t.Errorf("URL = %q", u)
	}
	if got, want := s.lastPost(), "phone=%2B14155550123&slot=0900&tz=Europe%2FBerlin"; got != want {
		t.Errorf("posted %q, want %q", got, want)
	}
	b.Axe()
}

// TestWaitForAndShadow: WaitFor sees an element a script adds, and the
// lookups reach into a shadow tree.
func TestWaitForAndShadow(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)
	b.Go(s.URL + "/form")
	if b.Exists("button", "Added later") {
		t.Fatal("the button is there before Show more")
	}
	before := b.Names("button")
	b.Click("button", "Show more")
	b.WaitFor("button", "Added later")
	b.WaitUntil(`document.querySelectorAll('#extra button').length === 1`)
	if got := b.WaitNames("button", func(n []string) bool { return len(n) == len(before)+1 }); !slices.Contains(got, "Added later") {
		t.Errorf("buttons %q", got)
	}
	b.Click("button", "Inside the shadow")
	b.WaitFor("button", "Shadow clicked")
	if role, name := b.Focused(); role != "button" || name != "Shadow clicked" {
		t.Errorf("focus on %s %q, want the shadow tree's button", role, name)
	}
	b.WaitGone("button", "Inside the shadow")
}

// TestKeyboardOnly books with Tab, Space, the arrow keys and Enter.
func TestKeyboardOnly(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)
	b.Go(s.URL + "/form")
	focus := func(wantRole, wantName string) {
		t.Helper()
		if role, name := b.Focused(); role != wantRole || name != wantName {
			t.Fatalf("focus on %s %q, want %s %q", role, name, wantRole, wantName)
		}
	}
	b.Press("Tab")
	focus("radio", "9:00 – 9:15 AM")
	b.Press("Space")
	b.Press("ArrowDown")
	focus("radio", "9:15 – 9:30 AM")
	b.Press("Tab")
	focus("textbox", "Phone number")
	b.Press("Backspace")
	b.Type("+14155550123")
	b.Press("Tab")
	focus("combobox", "Time zone")
	b.Press("Shift+Tab")
	focus("textbox", "Phone number")
	b.TabTo("button", "Reserve callback")
	b.PressNavigate("Enter")
	b.WaitFor("status", "")
	if got, want := s.lastPost(), "phone=%2B14155550123&slot=0915&tz=America%2FNew_York"; got != want {
		t.Errorf("posted %q, want %q", got, want)
	}
}

// TestAxe: axe-core runs under the pages' strict CSP, finds the broken
// rules of a bad page and none on the accessible form.
func TestAxe(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)
	b.Go(s.URL + "/bad")
	var ids []string
	for _, v := range b.AxeViolations() {
		ids = append(ids, v.ID)
		if v.Impact == "" || v.Help == "" || len(v.Nodes) == 0 || v.Nodes[0].HTML == "" || len(v.Nodes[0].Target) == 0 {
			t.Errorf("violation without details: %+v", v)
		}
	}
	for _, want := range []string{"image-alt", "label", "button-name", "html-has-lang"} {
		if !slices.Contains(ids, want) {
			t.Errorf("axe-core did not report %s on the bad page (it reported %v)", want, ids)
		}
	}
	b.Go(s.URL + "/form")
	if vs := b.AxeViolations(); len(vs) != 0 {
		t.Errorf("violations on the accessible form: %v", vs)
	}
}

// TestJSDisabled: with JavaScript off the page's script does not run,
// and the helpers (axe-core included) still work; with it on, it does.
func TestJSDisabled(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		b := New(t, JSDisabled())
		b.Go(s.URL + "/scripted")
		if got := b.Text("heading", ""); got != "Scripts off" {
			t.Errorf("heading = %q with JavaScript off", got)
		}
		b.Go(s.URL + "/bad")
		if len(b.AxeViolations()) == 0 {
			t.Error("axe-core found nothing on the bad page with JavaScript off")
		}
		b.Go(s.URL + "/form")
		b.Click("button", "Show more")
		b.ClickNavigate("button", "Reserve callback")
		b.WaitFor("status", "")
		if b.Exists("button", "Added later") {
			t.Error("the form's script ran with JavaScript off")
		}
	})
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		b := New(t)
		b.Go(s.URL + "/scripted")
		b.WaitFor("heading", "Scripts on")
	})
}

// TestLocaleAndTimezone: the tab sends the locale as Accept-Language and
// scripts see it and the time zone.
func TestLocaleAndTimezone(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t, Locale("de-DE"), Timezone("Europe/Berlin"))
	b.Go(s.URL + "/scripted")
	b.WaitFor("heading", "Scripts on")
	var got struct {
		AL, Intl  string
		Languages []string
	}
	b.Eval(`({AL: document.getElementById('al').textContent, Intl: document.getElementById('intl').textContent,
		Languages: navigator.languages})`, &got)
	if got.AL != "de-DE,de;q=0.9" {
		t.Errorf("Accept-Language = %q", got.AL)
	}
	if !slices.Equal(got.Languages, []string{"de-DE", "de"}) {
		t.Errorf("navigator.languages = %q", got.Languages)
	}
	if got.Intl != "de-DE Europe/Berlin" {
		t.Errorf("navigator.language and time zone = %q", got.Intl)
	}
}

// TestPhoneOverflow: on a 360 px phone a page 800 px wide scrolls
// sideways and a fluid one does not; on a desktop neither does.
func TestPhoneOverflow(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	phone := New(t, Phone())
	phone.Go(s.URL + "/wide")
	if content, viewport := phone.HorizontalOverflow(); content <= viewport || viewport != PhoneWidth {
		t.Errorf("wide page on a phone: content %d px, viewport %d px: overflow not seen", content, viewport)
	}
	phone.Go(s.URL + "/narrow")
	if content, viewport := phone.HorizontalOverflow(); content > viewport {
		t.Errorf("narrow page on a phone: content %d px, viewport %d px", content, viewport)
	}
	phone.NoHorizontalScroll()
	dir := t.TempDir()
	phone.Screenshot(filepath.Join(dir, "shots", "narrow.png"))
	data, err := os.ReadFile(filepath.Join(dir, "shots", "narrow.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is no PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != PhoneWidth {
		t.Errorf("phone screenshot %d px wide", w)
	}

	desk := New(t)
	desk.Go(s.URL + "/wide")
	desk.NoHorizontalScroll()
}

// recorder is a testing.TB that keeps the failures of a helper instead of
// failing the test, so that a test can check that a helper fails.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.Errorf("skip: "+format, args...)
	runtime.Goexit()
}

// run runs f with the recorder on its own goroutine (a Fatalf or Skipf
// ends it) and returns what f reported.
func (r *recorder) run(f func()) []string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures
}

// failures runs f with a copy of b that reports to a recorder, on its own
// goroutine (a Fatalf ends it), and returns what f reported.
func failures(t *testing.T, b *Browser, f func(b *Browser)) []string {
	rec := &recorder{TB: t}
	c := *b
	c.t = rec
	return rec.run(func() { f(&c) })
}

// TestNoChromium: without the browser a test is skipped, but fails under
// CI=true.
func TestNoChromium(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		rec := &recorder{TB: t}
		got := rec.run(func() { New(rec, withBinary(filepath.Join(t.TempDir(), "chromium"))) })
		if len(got) != 1 || strings.HasPrefix(got[0], "skip: ") != (ci == "") {
			t.Errorf("CI=%q: New without a browser reported %q", ci, got)
		}
	}
}

// withBinary starts another file than Chromium.
func withBinary(path string) Option { return func(c *config) { c.binary = path } }

// TestClickCovered: a click on a button that something covers fails and
// says what is on top, instead of clicking that.
func TestClickCovered(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t, Timeout(3*time.Second))
	b.Go(s.URL + "/form")
	got := failures(t, b, func(b *Browser) { b.Click("button", "Covered") })
	if len(got) != 1 || !strings.Contains(got[0], "A banner on top") {
		t.Errorf("click on a covered button: %q", got)
	}
	if got := failures(t, b, func(b *Browser) { b.Click("button", "Show more") }); len(got) != 0 {
		t.Errorf("click on a free button: %q", got)
	}
	if got := failures(t, b, func(b *Browser) { b.WaitFor("button", "Never there") }); len(got) != 1 {
		t.Errorf("WaitFor of a missing button: %q", got)
	}
}

// TestConsoleErrors: a CSP violation and an uncaught exception are
// reported; an accessible page logs none.
func TestConsoleErrors(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)
	b.Go(s.URL + "/form")
	b.Click("button", "Show more")
	b.WaitFor("button", "Added later")
	b.NoConsoleErrors()
	b.Go(s.URL + "/broken")
	var csp, exc, img bool
	deadline := time.Now().Add(5 * time.Second)
	for !(csp && exc && img) && time.Now().Before(deadline) {
		for _, e := range b.ConsoleErrors() {
			csp = csp || strings.Contains(e, "Content Security Policy")
			exc = exc || strings.Contains(e, "the enhancement failed")
			img = img || strings.Contains(e, "/missing.png: 404")
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	if !csp || !exc || !img {
		t.Errorf("CSP violation reported: %v, exception reported: %v, missing image reported: %v", csp, exc, img)
	}
	// A refused form answered 4xx is the page's design, not an error.
	b.Go(s.URL + "/form")
	b.Fill("textbox", "Phone number", "refuse")
	b.ClickNavigate("button", "Reserve callback")
	b.WaitFor("alert", "")
	b.NoConsoleErrors()
}
