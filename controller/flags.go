package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/ironlb/ironlb/controller/allocation"
	"github.com/ironlb/ironlb/pkg/metricsserving"
	"github.com/ironlb/ironlb/pkg/pprofserving"
)

type options struct {
	kubeconfig      string
	lbClass         string
	ignoreClassless bool
	ipMode          string
	workers         int
	qps             float64
	burst           int

	leaderElect        bool
	leaderElectionNS   string
	leaderElectionID   string
	leaderIdentity     string
	leaseDuration      time.Duration
	renewDeadline      time.Duration
	retryPeriod        time.Duration
	metrics            metricsserving.Flags
	probeAddr          string
	pprofAddr          string
	webhookPort        int
	webhookHost        string
	webhookCertDir     string
	webhookCertSecret  string
	webhookConfigName  string
	webhookServiceName string
	// More DNS names in the rotated certificate, for a webhook
	// configuration that calls the controller by URL.
	webhookExtraDNSNames []string
	membersSecret        string
	logLevel             string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; empty: in-cluster configuration")
	fs.StringVar(&o.lbClass, "lb-class", allocation.DefaultLoadBalancerClass, "spec.loadBalancerClass of the Services to handle")
	fs.BoolVar(&o.ignoreClassless, "ignore-classless", false, "leave Services without spec.loadBalancerClass alone")
	fs.StringVar(&o.ipMode, "ip-mode", string(corev1.LoadBalancerIPModeVIP), "status.loadBalancer.ingress[].ipMode to publish: VIP, or Proxy when the IronLB datapath carries Service traffic")
	fs.IntVar(&o.workers, "workers", 4, "Services reconciled in parallel")
	fs.Float64Var(&o.qps, "kube-api-qps", 500, "API requests per second the client may make")
	fs.IntVar(&o.burst, "kube-api-burst", 1000, "API request burst the client may make")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "elect one active replica with a Lease")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", envOr("POD_NAMESPACE", "ironlb-system"), "namespace of the leader election Lease and the webhook Secret")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "ironlb-controller", "name of the leader election Lease")
	fs.StringVar(&o.leaderIdentity, "leader-election-identity", "", "holder identity in the Lease; must be unique per live process. A process restarted with the identity of its dead predecessor takes the Lease over at once instead of waiting for it to expire. Empty: $POD_NAME (stable across container restarts in one pod), or the host name and a random suffix without it")
	fs.DurationVar(&o.leaseDuration, "lease-duration", 15*time.Second, "how long a lost leader's Lease blocks a new leader")
	fs.DurationVar(&o.renewDeadline, "renew-deadline", 10*time.Second, "how long the leader retries renewing before it gives up")
	fs.DurationVar(&o.retryPeriod, "retry-period", 200*time.Millisecond, "how often the leader renews the Lease and a standby checks it; a standby takes over at most about 4.4 retry periods after the Lease duration (client-go jitters each wait by up to 1.2 periods)")
	o.metrics.Register(fs, ":7472")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":7473", "address of /healthz and /readyz; 0 disables them")
	pprofserving.Register(fs, &o.pprofAddr)
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "port of the validating webhook; 0 disables it")
	fs.StringVar(&o.webhookHost, "webhook-host", "", "address the webhook listens on; empty: all")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory holding tls.crt and tls.key for the webhook")
	fs.StringVar(&o.webhookCertSecret, "webhook-cert-secret", "", "name of a Secret (in the leader election namespace) in which the controller keeps a self-signed CA and the webhook's certificate, injecting the CA into the webhook configuration; empty: certificates are provided in webhook-cert-dir")
	fs.StringVar(&o.webhookConfigName, "webhook-configuration", "ironlb-validating-webhook", "ValidatingWebhookConfiguration to inject the CA into (with webhook-cert-secret)")
	fs.StringVar(&o.webhookServiceName, "webhook-service", "ironlb-webhook", "Service in front of the webhook, for its certificate's DNS name (with webhook-cert-secret)")
	fs.Func("webhook-extra-dns-names", "comma-separated DNS names the webhook certificate carries besides the webhook Service's (with webhook-cert-secret), for a webhook configuration that calls the controller by URL", func(v string) error {
		o.webhookExtraDNSNames = splitList(v)
		return nil
	})
	fs.StringVar(&o.membersSecret, "members-secret", "ironlb-members", "Secret (in the leader election namespace) holding the key that signs the speakers' liveness packets; it must exist (the chart creates it empty) and gets a random key if it has none; empty: do not manage it")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch corev1.LoadBalancerIPMode(o.ipMode) {
	case corev1.LoadBalancerIPModeVIP, corev1.LoadBalancerIPModeProxy:
	default:
		return o, fmt.Errorf("flag -ip-mode: %q is neither VIP nor Proxy", o.ipMode)
	}
	if o.leaderIdentity == "" {
		host, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("flag -leader-election-identity: empty and no host name: %w", err)
		}
		o.leaderIdentity = defaultIdentity(os.Getenv("POD_NAME"), host, string(uuid.NewUUID()))
	}
	if err := o.metrics.Validate(); err != nil {
		return o, err
	}
	if err := pprofserving.Check(o.pprofAddr); err != nil {
		return o, err
	}
	if o.leaderElect {
		if _, err := stopGrace(o.leaseDuration, o.renewDeadline, o.retryPeriod); err != nil {
			return o, err
		}
	}
	if o.workers < 1 {
		return o, fmt.Errorf("flag -workers: %d, want at least 1", o.workers)
	}
	return o, nil
}

// defaultIdentity is the pod's name when the pod tells it (downward API):
// a container restarted in its pod keeps the identity and so re-acquires
// its Lease at once, and kubelet starts the new container only after the old
// one has exited, so no two live processes share it. Outside a pod it is
// the host name with a random suffix, as controller-runtime does, so two
// processes on one host never share an identity.
func defaultIdentity(podName, host, suffix string) string {
	if podName != "" {
		return podName
	}
	return host + "_" + suffix
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
