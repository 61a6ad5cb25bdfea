package monitoring

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
)

// scrape is what one component exported: families by name, and every
// sample as Prometheus would store it (histogram _bucket/_sum/_count).
type scrape struct {
	families map[string]*dto.MetricFamily
	series   []series
}

// TestArtefactsMatchARealScrape runs the controller and two speakers with
// layer 2, BGP (with BFD), the nftables datapath and health check node
// ports in use, scrapes them, and checks that (1) every selector of the
// alert rules and the dashboard selects at least one exported series of
// the component its job label names, and (2) docs/metrics.md documents
// exactly the ironlb_ metrics they export, and every other metric the
// artefacts use.
func TestArtefactsMatchARealScrape(t *testing.T) {
	_, alertQs := loadRules(t)
	_, dashQs := loadDashboard(t)
	qs := append(alertQs, dashQs...)

	port := cluster.FreePort(t)
	c := cluster.Start(t, cluster.Options{
		Nodes: 2, Router: true, Datapath: "nftables",
		ControllerArgs: []string{"-metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port)},
		SpeakerArgs:    []string{"-metrics-bind-address", cluster.SpeakerMetricsAddr, "-serve-health-check-node-ports"},
	})
	useEverything(t, c)
	// Scraped as Prometheus does with the chart: HTTPS and the token of a
	// ServiceAccount bound to ironlb-metrics-reader.
	token := serviceAccountToken(t, c, "prometheus", true)

	controllerURL := fmt.Sprintf("https://127.0.0.1:%d/metrics", port)
	waitServing(t, httpsClient(nil, nil, ""), controllerURL)
	for _, n := range c.Lab.Nodes {
		waitServing(t, httpsClient(n, nil, ""), "https://"+cluster.SpeakerMetricsAddr+"/metrics")
	}
	var scrapes map[string]scrape
	var missing []string
	// Some series appear only after first use (pool gauges after the
	// first status flush, BGP series once the peer is configured): retry.
	deadline := time.Now().Add(60 * time.Second)
	for {
		scrapes = map[string]scrape{controllerJob: scrapeURL(t, httpsClient(nil, nil, token), controllerURL)}
		var sp scrape
		for _, n := range c.Lab.Nodes {
			s := scrapeURL(t, httpsClient(n, nil, token), "https://"+cluster.SpeakerMetricsAddr+"/metrics")
			sp = merge(sp, s)
		}
		scrapes[speakerJob] = sp
		missing = unmatched(t, qs, scrapes)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, m := range missing {
		t.Error(m)
	}
	if t.Failed() {
		for job, s := range scrapes {
			t.Logf("%s exported:\n%s", job, strings.Join(familyNames(s), "\n"))
		}
	}
	checkDocumented(t, scrapes, qs)
}

// useEverything creates what makes every lazily created series appear: a
// layer 2 pool and Service (announced), a BGP pool, advertisement and peer
// with BFD (the session need not come up: its series exist as soon as the
// peer is configured), a Local Service (health check port) and a Service
// whose allocation fails.
func useEverything(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	c.Create(t,
		cluster.Pool("l2", "203.0.113.0/28", "2001:db8:300::/124"),
		cluster.L2("l2", []string{"l2"}, "eth0"),
		cluster.Pool("bgp", "198.51.100.0/28"),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}},
		&v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: "fast"}},
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{
			MyASN: 64512, ASN: 64500, Address: c.Lab.Router.IPv4.Addr().String(), BFDProfile: "fast",
		}},
		cluster.LoadBalancer("default", "web", cluster.DualStack, inPool("l2")),
		cluster.LoadBalancer("default", "api", cluster.Local, inPool("bgp")),
		cluster.LoadBalancer("default", "nowhere", inPool("no-such-pool")),
	)
	// A real node's default route covers the layer 2 pool; the
	// reachability check needs one to connect to its own addresses.
	for _, n := range c.Lab.Nodes {
		for _, r := range [][]string{{"route", "replace", "203.0.113.0/28", "dev", n.Iface}, {"-6", "route", "replace", "2001:db8:300::/124", "dev", n.Iface}} {
			if out, err := n.Exec(context.Background(), "ip", r...); err != nil {
				t.Fatalf("%s: ip %v: %v: %s", n.Name, r, err, out)
			}
		}
	}
	c.SetEndpoints(t, "default", "web",
		cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("192.0.2.20"), Ready: true},
		cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("2001:db8:200::20"), Ready: true})
	c.SetEndpoints(t, "default", "api", cluster.Endpoint{Node: "node2", Addr: netip.MustParseAddr("192.0.2.36"), Ready: true})
	for _, ip := range c.WaitForIPs(t, "default", "web", 2) {
		c.WaitForAnnouncer(t, "default", "web", ip, func(string) bool { return true })
	}
	c.WaitForIPs(t, "default", "api", 1)
}

func inPool(name string) cluster.ServiceOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations["ironlb.io/address-pool"] = name
	}
}

// unmatched lists the selectors that select no scraped series of the
// component(s) their job matcher names.
func unmatched(t *testing.T, qs []query, scrapes map[string]scrape) []string {
	t.Helper()
	var out []string
	for _, q := range qs {
		sels, err := selectors(q.expr)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", q.where, err))
			continue
		}
		for _, s := range sels {
			jobs := s.jobs(controllerJob, speakerJob)
			if s.metricName() == "up" {
				// Made by Prometheus per target: only its job can be checked.
				if !s.hasMatcher("job") || len(jobs) != 1 {
					out = append(out, fmt.Sprintf("%s: %s must name exactly one of the jobs %s, %s", q.where, s.text, controllerJob, speakerJob))
				}
				continue
			}
			if len(jobs) == 0 {
				out = append(out, fmt.Sprintf("%s: %s: its job matcher accepts neither %s nor %s", q.where, s.text, controllerJob, speakerJob))
				continue
			}
			found := false
			for _, j := range jobs {
				if slices.ContainsFunc(scrapes[j].series, s.matches) {
					found = true
				}
			}
			if !found {
				out = append(out, fmt.Sprintf("%s: %s selects no series exported by %v", q.where, s.text, jobs))
			}
		}
	}
	return out
}

var ironlbMetricRE = regexp.MustCompile(`\bironlb_[a-z0-9_]*[a-z0-9]\b`)

// checkDocumented requires docs/metrics.md to name every ironlb_ metric
// family exported, to name no ironlb_ metric that is not exported, and to
// name every metric the artefacts use.
func checkDocumented(t *testing.T, scrapes map[string]scrape, qs []query) {
	t.Helper()
	doc := string(readRepoFile(t, metricsDoc))
	exported := map[string]bool{} // family names and their sample names
	for _, s := range scrapes {
		for name, f := range s.families {
			if !strings.HasPrefix(name, "ironlb_") {
				continue
			}
			exported[name] = true
			for _, sr := range s.series {
				if strings.HasPrefix(sr[nameLabel], name) {
					exported[sr[nameLabel]] = true
				}
			}
			if !regexp.MustCompile(`\b` + name + `\b`).MatchString(doc) {
				t.Errorf("%s: metric %s (%s) is exported but not documented", metricsDoc, name, f.GetType())
			}
		}
	}
	if len(exported) < 20 {
		t.Fatalf("only %d ironlb_ metrics scraped; expected the controller's and the speaker's", len(exported))
	}
	for _, name := range ironlbMetricRE.FindAllString(doc, -1) {
		if !exported[name] {
			t.Errorf("%s: names %s, which neither the controller nor the speaker exports", metricsDoc, name)
		}
	}
	used := map[string]bool{}
	for _, q := range qs {
		sels, _ := selectors(q.expr)
		for _, s := range sels {
			used[s.metricName()] = true
		}
	}
	for name := range used {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !regexp.MustCompile(`\b(` + name + `|` + base + `)\b`).MatchString(doc) {
			t.Errorf("%s: the artefacts use %s but the document does not mention it", metricsDoc, name)
		}
	}
}

func scrapeURL(t *testing.T, cl *http.Client, url string) scrape {
	t.Helper()
	body := cluster.HTTPGet(t, cl, url)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape %s: parse: %v", url, err)
	}
	s := scrape{families: fams}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			base := series{nameLabel: name}
			for _, l := range m.GetLabel() {
				base[l.GetName()] = l.GetValue()
			}
			with := func(suffix string, extra ...string) series {
				sr := series{}
				for k, v := range base {
					sr[k] = v
				}
				sr[nameLabel] = name + suffix
				for i := 0; i+1 < len(extra); i += 2 {
					sr[extra[i]] = extra[i+1]
				}
				return sr
			}
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				for _, b := range m.GetHistogram().GetBucket() {
					s.series = append(s.series, with("_bucket", "le", model.SampleValue(b.GetUpperBound()).String()))
				}
				s.series = append(s.series, with("_bucket", "le", "+Inf"), with("_sum"), with("_count"))
			case dto.MetricType_SUMMARY:
				for _, q := range m.GetSummary().GetQuantile() {
					s.series = append(s.series, with("", "quantile", model.SampleValue(q.GetQuantile()).String()))
				}
				s.series = append(s.series, with("_sum"), with("_count"))
			default:
				s.series = append(s.series, base)
			}
		}
	}
	return s
}

func merge(a, b scrape) scrape {
	if a.families == nil {
		a.families = map[string]*dto.MetricFamily{}
	}
	for k, v := range b.families {
		a.families[k] = v
	}
	a.series = append(a.series, b.series...)
	return a
}

func familyNames(s scrape) []string {
	var out []string
	for name, f := range s.families {
		out = append(out, fmt.Sprintf("%s %s", name, f.GetType()))
	}
	sort.Strings(out)
	return out
}

// nodeClient is an HTTP client whose connections are opened inside a node
// namespace.
