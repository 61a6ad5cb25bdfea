package monitoring

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// nameLabel holds a series' metric name.
const nameLabel = "__name__"

// selector is one vector selector of an expression.
type selector struct {
	text     string // as written, for messages
	matchers []*labels.Matcher
}

// selectors parses expr and returns its vector selectors (those inside
// range selectors and subqueries included).
func selectors(expr string) ([]selector, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, selector{text: vs.String(), matchers: vs.LabelMatchers})
		}
		return nil
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("selects no series")
	}
	return out, nil
}

// metricName is the selector's __name__ equality matcher's value, or "".
func (s selector) metricName() string {
	for _, m := range s.matchers {
		if m.Name == nameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// targetLabels are attached by Prometheus at scrape time (service
// discovery and relabelling), so a scrape of the process cannot show them.
var targetLabels = []string{"job", "instance", "namespace", "pod", "container", "service", "endpoint", "node"}

// series is one scraped sample's name and labels.
type series map[string]string

// matches reports whether a series satisfies every matcher of the selector
// that is not about a target label.
func (s selector) matches(sr series) bool {
	for _, m := range s.matchers {
		if slices.Contains(targetLabels, m.Name) {
			continue
		}
		if !m.Matches(sr[m.Name]) {
			return false
		}
	}
	return true
}

// jobs returns which of the components' jobs the selector's job matcher
// accepts; without a job matcher, all of them.
func (s selector) jobs(all ...string) []string {
	var out []string
	for _, j := range all {
		ok := true
		for _, m := range s.matchers {
			if m.Name == "job" && !m.Matches(j) {
				ok = false
			}
		}
		if ok {
			out = append(out, j)
		}
	}
	return out
}

// hasMatcher reports whether the selector constrains the label.
func (s selector) hasMatcher(name string) bool {
	return slices.ContainsFunc(s.matchers, func(m *labels.Matcher) bool { return m.Name == name })
}

func (sr series) String() string {
	keys := make([]string, 0, len(sr))
	for k := range sr {
		if k != nameLabel {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(sr[nameLabel] + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", k, sr[k])
	}
	b.WriteString("}")
	return b.String()
}
