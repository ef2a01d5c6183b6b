package metrics

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// register registers cs on the registry as Slotline's own collectors.
func (m *Metrics) register(cs ...prometheus.Collector) {
	m.Registry.MustRegister(cs...)
	m.own = append(m.own, cs...)
}

// A MetricDoc describes one of Slotline's metrics for the operations
// guide: its name, type, labels and help text.
type MetricDoc struct {
	Name, Type, Help string
	Labels           []string
}

// descPattern reads a prometheus.Desc's String, the one place the client
// library shows a descriptor's help and variable labels.
var descPattern = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*"), .*variableLabels: \{([^}]*)\}\}$`)

// Reference lists Slotline's own metrics (not the Go runtime's and the
// process's), by name, from the collectors themselves, so that the
// operations guide's table is made from the code.
func (m *Metrics) Reference() ([]MetricDoc, error) {
	var out []MetricDoc
	for _, c := range m.own {
		ch := make(chan *prometheus.Desc, 4)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			g := descPattern.FindStringSubmatch(d.String())
			if g == nil {
				return nil, fmt.Errorf("metrics: cannot read the descriptor %s", d)
			}
			name, err := strconv.Unquote(g[1])
			if err != nil {
				return nil, err
			}
			help, err := strconv.Unquote(g[2])
			if err != nil {
				return nil, err
			}
			var labels []string
			if g[3] != "" {
				labels = strings.Split(g[3], ",")
			}
			out = append(out, MetricDoc{Name: name, Type: kind(c), Help: help, Labels: labels})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// kind is the Prometheus type of collector c.
func kind(c prometheus.Collector) string {
	switch c.(type) {
	case *prometheus.CounterVec:
		return "counter"
	case *prometheus.GaugeVec, prometheus.Gauge: // a Gauge is also a Counter: first
		return "gauge"
	case *prometheus.HistogramVec, prometheus.Histogram:
		return "histogram"
	case prometheus.Counter:
		return "counter"
	}
	return "untyped"
}

// RenderReference writes ds as a Markdown table.
func RenderReference(ds []MetricDoc) string {
	var b strings.Builder
	b.WriteString("| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n")
	for _, d := range ds {
		labels := ""
		if len(d.Labels) > 0 {
			labels = "`" + strings.Join(d.Labels, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Name, d.Type, labels, strings.ReplaceAll(d.Help, "|", `\|`))
	}
	return b.String()
}
