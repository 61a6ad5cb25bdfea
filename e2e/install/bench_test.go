package install

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkHelmInstall is the whole user path on a fresh 3-node kubelet
// cluster: the cluster's start, `helm install` to the controller and every
// speaker Ready, to the webhook answering, to the first answer through a
// layer 2 VIP (pool, Deployment and Service created after the install), and
// the components' RSS in the cluster at that point. Run with -benchtime=1x.
func BenchmarkHelmInstall(b *testing.B) {
	for range b.N {
		s := installScenario(b, helmInstall)
		b.ReportMetric(ms(s.c.StartDuration), "cluster-start-ms")
		b.ReportMetric(ms(s.toReady), "install-to-ready-ms")
		b.ReportMetric(ms(s.toWebhook), "install-to-webhook-ms")
		b.ReportMetric(ms(s.toFirst), "install-to-first-answer-ms")
		for _, comp := range []string{"controller", "speaker"} {
			rss, err := s.c.RSS(comp)
			if err != nil {
				b.Fatal(err)
			}
			if len(rss) == 0 {
				b.Fatalf("no %s process found in the nodes' cgroups", comp)
			}
			b.ReportMetric(float64(slices.Max(rss))/(1<<20), comp+"-max-rss-MiB")
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
