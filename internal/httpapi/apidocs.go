package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// The API's reference as a page, GET /api/v2/docs: rendered on the server
// from the embedded OpenAPI document (no script, no third-party assets), so
// that it is the same document the tests check responses against.

type apiDocOperation struct {
	Method, Path, Summary, Description, Anchor string
	Scopes                                     []string
	Params                                     []apiDocParam
	Responses                                  []apiDocResponse
}

type apiDocParam struct{ Name, In, Description string }

type apiDocResponse struct{ Status, Description string }

type apiDocTag struct {
	Name string
	Ops  []apiDocOperation
}

type apiDocPage struct {
	CSS                                           template.CSS
	Title, Version, Summary, Description, License string
	Tags                                          []apiDocTag
}

// apiDocsCSS is the page's stylesheet, allowed by its hash in the CSP.
const apiDocsCSS = `body{font-family:system-ui,sans-serif;line-height:1.5;max-width:60rem;margin:0 auto;padding:1rem;color:#1a1a1a}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}pre{white-space:pre-wrap;background:#f4f6f8;padding:.75rem;border-radius:6px}
h2{border-bottom:1px solid #6b6b6b;margin-top:2.5rem}h3{margin-bottom:.25rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;color:#084782}table{border-collapse:collapse}td,th{border:1px solid #6b6b6b;padding:.25rem .5rem;text-align:left;vertical-align:top}
a{color:#0b5cad}
`

var apiDocsCSP = func() string {
	sum := sha256.Sum256([]byte(apiDocsCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

var apiDocsTmpl = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}} – reference</title>
<style>{{.CSS}}</style>
</head>
<body>
<header><h1>{{.Title}} <small>{{.Version}}</small></h1><p>{{.Summary}} Licence: {{.License}}. Machine-readable: <a href="/api/v2/openapi.json">openapi.json</a>.</p></header>
<nav aria-label="Operations"><ul>{{range .Tags}}<li>{{.Name}}<ul>{{range .Ops}}<li><a href="#{{.Anchor}}"><code>{{.Method}} {{.Path}}</code></a> {{.Summary}}</li>{{end}}</ul></li>{{end}}</ul></nav>
<main>
<section aria-labelledby="overview"><h2 id="overview">Overview</h2><pre>{{.Description}}</pre></section>
{{range .Tags}}<section aria-label="{{.Name}}"><h2>{{.Name}}</h2>
{{range .Ops}}<article><h3 id="{{.Anchor}}"><span class="m">{{.Method}}</span> <code>{{.Path}}</code></h3>
<p>{{.Summary}}{{if .Scopes}} (scope: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}){{end}}</p>
{{if .Description}}<pre>{{.Description}}</pre>{{end}}
{{if .Params}}<table><caption>Parameters</caption><thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Description</th></tr></thead><tbody>{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{.Description}}</td></tr>{{end}}</tbody></table>{{end}}
{{if .Responses}}<table><caption>Responses</caption><thead><tr><th scope="col">Status</th><th scope="col">Description</th></tr></thead><tbody>{{range .Responses}}<tr><td>{{.Status}}</td><td>{{.Description}}</td></tr>{{end}}</tbody></table>{{end}}
</article>{{end}}</section>{{end}}
</main>
</body>
</html>
`))

// apiDocs renders the page once.
var apiDocs = sync.OnceValues(func() ([]byte, error) {
	var doc struct {
		Info struct {
			Title, Version, Summary, Description string
			License                              struct{ Name string }
		}
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return nil, err
	}
	page := apiDocPage{CSS: template.CSS(apiDocsCSS), Title: doc.Info.Title, Version: doc.Info.Version, Summary: doc.Info.Summary,
		Description: doc.Info.Description, License: doc.Info.License.Name}
	byTag := map[string][]apiDocOperation{}
	var order []string
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, method := range []string{"get", "post", "put", "patch", "delete", "options"} {
			raw, ok := doc.Paths[p][method]
			if !ok {
				continue
			}
			var op struct {
				Tags                 []string
				OperationID          string `json:"operationId"`
				Summary, Description string
				Security             []map[string][]string
				Parameters           []struct{ Name, In, Description string }
				Responses            map[string]struct{ Description string }
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, err
			}
			o := apiDocOperation{Method: strings.ToUpper(method), Path: p, Summary: op.Summary, Description: op.Description,
				Anchor: op.OperationID}
			if o.Anchor == "" {
				o.Anchor = method + strings.NewReplacer("/", "-", "{", "", "}", "").Replace(p)
			}
			for _, sec := range op.Security {
				for _, scopes := range sec {
					o.Scopes = append(o.Scopes, scopes...)
				}
			}
			for _, prm := range op.Parameters {
				o.Params = append(o.Params, apiDocParam{prm.Name, prm.In, prm.Description})
			}
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			for _, c := range codes {
				o.Responses = append(o.Responses, apiDocResponse{c, op.Responses[c].Description})
			}
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if _, seen := byTag[tag]; !seen {
				order = append(order, tag)
			}
			byTag[tag] = append(byTag[tag], o)
		}
	}
	for _, t := range order {
		page.Tags = append(page.Tags, apiDocTag{Name: t, Ops: byTag[t]})
	}
	var buf bytes.Buffer
	if err := apiDocsTmpl.Execute(&buf, &page); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
})

func (s *Server) handleAPIDocs(w http.ResponseWriter, r *http.Request) {
	b, err := apiDocs()
	if err != nil {
		s.problem(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", apiDocsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
