package monitoring

import (
	"testing"
)

// The alerts the runbook in docs/metrics.md describes; a rename or removal
// must update both.
var wantAlerts = []string{
	"IronLBControllerDown", "IronLBNoLeader", "IronLBConfigInvalid",
	"IronLBPoolNearlyExhausted", "IronLBPoolExhausted", "IronLBServicesPending",
	"IronLBSpeakerDown", "IronLBBGPSessionDown", "IronLBBFDDown",
	"IronLBLayer2AddressConflict", "IronLBMembersPartitioned", "IronLBMembersAuthFailures",
}

func TestAlertRulesParseAndHoldValidPromQL(t *testing.T) {
	rf, qs := loadRules(t)
	names := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			names[r.Alert] = true
		}
	}
	for _, a := range wantAlerts {
		if !names[a] {
			t.Errorf("%s: alert %s missing", rulesFile, a)
		}
	}
	checkPromQL(t, qs)
}

func TestDashboardParsesAndHoldsValidPromQL(t *testing.T) {
	_, qs := loadDashboard(t)
	checkPromQL(t, qs)
}

// checkPromQL parses every expression with Prometheus's own parser and
// requires each selector to name its metric.
func checkPromQL(t *testing.T, qs []query) {
	t.Helper()
	for _, q := range qs {
		sels, err := selectors(q.expr)
		if err != nil {
			t.Errorf("%s: %q: %v", q.where, q.expr, err)
			continue
		}
		for _, s := range sels {
			if s.metricName() == "" {
				t.Errorf("%s: selector %s does not name a metric", q.where, s.text)
			}
		}
	}
}
