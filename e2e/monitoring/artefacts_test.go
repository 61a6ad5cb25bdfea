package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// Paths of the artefacts, relative to the repository root.
const (
	rulesFile     = "manifests/monitoring/ironlb-alerts.yaml"
	dashboardFile = "manifests/monitoring/grafana-dashboard.json"
	metricsDoc    = "docs/metrics.md"
)

// Job labels the artefacts assume (documented in docs/metrics.md).
const (
	controllerJob = "ironlb-controller"
	speakerJob    = "ironlb-speaker"
)

// query is one PromQL expression of an artefact, with where it came from
// for error messages.
type query struct {
	where string
	expr  string
}

// ruleFile is the Prometheus rule file format (rule_files:).
type ruleFile struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

// loadRules reads the rule file strictly (unknown fields are errors, as in
// Prometheus) and returns its alerts' expressions after structural checks.
func loadRules(t testing.TB) (ruleFile, []query) {
	t.Helper()
	b := readRepoFile(t, rulesFile)
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if len(rf.Groups) == 0 {
		t.Fatalf("%s: no groups", rulesFile)
	}
	var out []query
	groups, alerts := map[string]bool{}, map[string]bool{}
	for gi, g := range rf.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("%s: groups[%d]: name %q empty or repeated", rulesFile, gi, g.Name)
		}
		groups[g.Name] = true
		if len(g.Rules) == 0 {
			t.Errorf("%s: group %s: no rules", rulesFile, g.Name)
		}
		for ri, r := range g.Rules {
			where := fmt.Sprintf("%s: group %s rule %d (%s)", rulesFile, g.Name, ri, r.Alert)
			if r.Alert == "" || r.Record != "" {
				t.Errorf("%s: want an alerting rule (alert set, record unset)", where)
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert name repeated", where)
			}
			alerts[r.Alert] = true
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for: %v", where, err)
				}
			}
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: labels.severity %q, want critical, warning or info", where, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: annotations.%s missing", where, a)
				}
			}
			out = append(out, query{where: where, expr: r.Expr})
		}
	}
	return rf, out
}

// dashboard holds the parts of a Grafana dashboard the tests look at.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int              `json:"id"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	Datasource *datasourceRef   `json:"datasource"`
	GridPos    *json.RawMessage `json:"gridPos"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // collapsed rows
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasourceRef  `json:"datasource"`
	AllValue   string          `json:"allValue"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

// loadDashboard parses the dashboard, checks its structure and returns
// every PromQL expression in it (panel targets and label_values queries of
// variables) with Grafana's variables replaced by their current values.
func loadDashboard(t testing.TB) (dashboard, []query) {
	t.Helper()
	b := readRepoFile(t, dashboardFile)
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("%s: uid and title are required", dashboardFile)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("%s: schemaVersion %d, want a current one (>= 36)", dashboardFile, d.SchemaVersion)
	}
	values, err := variableValues(d.Templating.List)
	if err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if v, ok := values["datasource"]; !ok || v == "" {
		t.Fatalf("%s: no datasource variable named \"datasource\"", dashboardFile)
	}
	var out []query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := fmt.Sprintf("%s: variable %s", dashboardFile, v.Name)
		checkDatasource(t, where, v.Datasource)
		q := queryString(v.Query)
		inner, ok := labelValuesSelector(q)
		if !ok {
			t.Errorf("%s: query %q is not label_values(SELECTOR, LABEL)", where, q)
			continue
		}
		out = append(out, query{where: where, expr: substitute(inner, values)})
	}
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			where := fmt.Sprintf("%s: panel %d %q", dashboardFile, p.ID, p.Title)
			if p.ID == 0 || ids[p.ID] {
				t.Errorf("%s: id missing or repeated", where)
			}
			ids[p.ID] = true
			if p.GridPos == nil {
				t.Errorf("%s: no gridPos", where)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Title == "" {
				t.Errorf("%s: no title", where)
			}
			checkDatasource(t, where, p.Datasource)
			if len(p.Targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
					t.Errorf("%s: target %q without expr or refId", where, tg.RefID)
					continue
				}
				if tg.Datasource != nil {
					checkDatasource(t, where, tg.Datasource)
				}
				out = append(out, query{where: where + " target " + tg.RefID, expr: substitute(tg.Expr, values)})
			}
		}
	}
	walk(d.Panels)
	if len(out) == 0 {
		t.Fatalf("%s: no queries", dashboardFile)
	}
	return d, out
}

// checkDatasource requires the panel or variable to use the datasource
// variable, so the dashboard works with any Prometheus datasource.
func checkDatasource(t testing.TB, where string, ds *datasourceRef) {
	t.Helper()
	if ds == nil || ds.Type != "prometheus" || ds.UID != "${datasource}" {
		t.Errorf("%s: datasource %+v, want {type: prometheus, uid: ${datasource}}", where, ds)
	}
}

// variableValues maps every dashboard variable to the value Grafana would
// interpolate: the current value, or allValue when "All" is selected.
func variableValues(vars []variable) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vars {
		if v.Name == "" {
			return nil, fmt.Errorf("a templating variable has no name")
		}
		var cur string
		if len(v.Current.Value) > 0 {
			var s string
			var list []string
			switch {
			case json.Unmarshal(v.Current.Value, &s) == nil:
				cur = s
			case json.Unmarshal(v.Current.Value, &list) == nil && len(list) == 1:
				cur = list[0]
			default:
				return nil, fmt.Errorf("variable %s: current.value %s is not a string or a one-element list", v.Name, v.Current.Value)
			}
		}
		if cur == "$__all" {
			if v.AllValue == "" {
				return nil, fmt.Errorf("variable %s: All selected but no allValue", v.Name)
			}
			cur = v.AllValue
		}
		if cur == "" && v.Type == "datasource" {
			// Grafana picks the default datasource; it is never part of
			// an expression.
			cur = "default"
		}
		if cur == "" {
			return nil, fmt.Errorf("variable %s: no current value", v.Name)
		}
		out[v.Name] = cur
	}
	return out, nil
}

// queryString reads a variable's query, a string or {"query": "..."}.
func queryString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(raw, &o)
	return o.Query
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// labelValuesSelector returns the selector of a label_values(SELECTOR,
// LABEL) variable query as a PromQL expression that keeps only series
// carrying LABEL.
func labelValuesSelector(q string) (string, bool) {
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return "", false
	}
	sel, label := strings.TrimSpace(m[1]), m[2]
	// A selector that requires the label: name{...,label!=""}.
	if strings.HasSuffix(sel, "}") {
		inner := strings.TrimSpace(sel[strings.Index(sel, "{")+1 : len(sel)-1])
		if inner == "" {
			return sel[:strings.Index(sel, "{")] + `{` + label + `!=""}`, true
		}
		return sel[:len(sel)-1] + `,` + label + `!=""}`, true
	}
	return sel + `{` + label + `!=""}`, true
}

// Grafana's interval macros, replaced by a typical value.
var macros = map[string]string{
	"$__rate_interval": "5m",
	"$__interval":      "1m",
	"$__range":         "1h",
}

var varRE = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// substitute interpolates Grafana macros and variables as Grafana would.
// Unknown variables are left in place, so parsing fails loudly.
func substitute(expr string, values map[string]string) string {
	for k, v := range macros {
		expr = strings.ReplaceAll(expr, k, v)
	}
	return varRE.ReplaceAllStringFunc(expr, func(s string) string {
		m := varRE.FindStringSubmatch(s)
		name := m[1] + m[2]
		if v, ok := values[name]; ok {
			return v
		}
		return s
	})
}

func readRepoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return b
}

func repoRoot(t testing.TB) string { return kubeapi.RepoRoot(t) }
