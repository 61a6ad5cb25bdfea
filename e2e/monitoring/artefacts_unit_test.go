package monitoring

import (
	"encoding/json"
	"testing"
)

func TestSubstitute(t *testing.T) {
	values := map[string]string{"pool": ".*", "job": "ironlb-speaker"}
	for _, tc := range []struct{ in, want string }{
		{`rate(x[$__rate_interval])`, `rate(x[5m])`},
		{`x{pool=~"$pool"}`, `x{pool=~".*"}`},
		{`x{job="${job}"}`, `x{job="ironlb-speaker"}`},
		{`x{job="${job:regex}"}`, `x{job="ironlb-speaker"}`},
		{`x{a="$unknown"}`, `x{a="$unknown"}`},
		{`increase(x[$__range])`, `increase(x[1h])`},
	} {
		if got := substitute(tc.in, values); got != tc.want {
			t.Errorf("substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLabelValuesSelector(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`label_values(ironlb_pool_addresses_total, pool)`, `ironlb_pool_addresses_total{pool!=""}`, true},
		{`label_values(up{job="a"}, instance)`, `up{job="a",instance!=""}`, true},
		{`label_values(up{}, instance)`, `up{instance!=""}`, true},
		{`query_result(up)`, ``, false},
		{`label_values(pool)`, ``, false},
	} {
		got, ok := labelValuesSelector(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("labelValuesSelector(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestVariableValues(t *testing.T) {
	var vars []variable
	if err := json.Unmarshal([]byte(`[
		{"name": "datasource", "type": "datasource", "current": {"value": "prom"}},
		{"name": "pool", "type": "query", "allValue": ".*", "current": {"value": ["$__all"]}},
		{"name": "job", "type": "custom", "current": {"value": "ironlb-speaker"}}
	]`), &vars); err != nil {
		t.Fatal(err)
	}
	got, err := variableValues(vars)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"datasource": "prom", "pool": ".*", "job": "ironlb-speaker"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if err := json.Unmarshal([]byte(`[{"name": "x", "type": "query", "current": {"value": "$__all"}}]`), &vars); err != nil {
		t.Fatal(err)
	}
	if _, err := variableValues(vars); err == nil {
		t.Error("All without allValue: no error")
	}
}

func TestSelectorMatching(t *testing.T) {
	sels, err := selectors(`sum by (pool) (ironlb_pool_addresses_in_use{job="ironlb-controller",family="IPv4"}) / on(pool) ironlb_pool_addresses_total`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sels) != 2 || sels[0].metricName() != "ironlb_pool_addresses_in_use" || sels[1].metricName() != "ironlb_pool_addresses_total" {
		t.Fatalf("selectors: %+v", sels)
	}
	for _, tc := range []struct {
		s    series
		want bool
	}{
		{series{"__name__": "ironlb_pool_addresses_in_use", "pool": "a", "family": "IPv4"}, true},
		{series{"__name__": "ironlb_pool_addresses_in_use", "pool": "a", "family": "IPv6"}, false},
		{series{"__name__": "ironlb_pool_addresses_total", "pool": "a", "family": "IPv4"}, false},
	} {
		if got := sels[0].matches(tc.s); got != tc.want {
			t.Errorf("%s matches %s: %v, want %v", sels[0].text, tc.s, got, tc.want)
		}
	}
	if got := sels[0].jobs(controllerJob, speakerJob); len(got) != 1 || got[0] != controllerJob {
		t.Errorf("jobs of %s: %v", sels[0].text, got)
	}
	if got := sels[1].jobs(controllerJob, speakerJob); len(got) != 2 {
		t.Errorf("jobs of %s: %v", sels[1].text, got)
	}
	if _, err := selectors(`sum(rate(x[5m])`); err == nil {
		t.Error("unbalanced parenthesis parsed")
	}
	if _, err := selectors(`1 + 1`); err == nil {
		t.Error("an expression without selectors was accepted")
	}
}
