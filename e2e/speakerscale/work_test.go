package speakerscale

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// work is what the speaker's layer 2 and BGP passes did so far, from its
// metrics: the IPs they decided again (ironlb_speaker_ips_decided_total)
// and the passes themselves (controller_runtime_reconcile_total of the
// loops layer2 and bgp). Beside the CPU time, these are exact: a change
// whose IPs decided grow with the cluster does work that grows with it,
// whatever the noise of the CPU figures.
type work struct {
	ips, passes float64
}

func (w work) minus(o work) work { return work{ips: w.ips - o.ips, passes: w.passes - o.passes} }

// passLoops are the controllers whose reconciles are the passes counted.
var passLoops = map[string]bool{"layer2": true, "bgp": true}

// readWork scrapes the speaker's metrics (served on its namespace's
// loopback, cluster.SpeakerMetricsAddr, over plain HTTP).
func readWork(tb testing.TB, cl *http.Client) work {
	tb.Helper()
	body := cluster.HTTPGet(tb, cl, "http://"+cluster.SpeakerMetricsAddr+"/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		tb.Fatalf("speaker metrics: %v", err)
	}
	decided, ok := fams["ironlb_speaker_ips_decided_total"]
	if !ok {
		tb.Fatal("speaker metrics: no ironlb_speaker_ips_decided_total")
	}
	var w work
	for _, m := range decided.GetMetric() {
		w.ips += m.GetCounter().GetValue()
	}
	for _, m := range fams["controller_runtime_reconcile_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "controller" && passLoops[l.GetValue()] {
				w.passes += m.GetCounter().GetValue()
			}
		}
	}
	return w
}
