package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/ironlb/ironlb/pkg/memlimit"
	"github.com/ironlb/ironlb/pkg/metricsserving"
	"github.com/ironlb/ironlb/pkg/pprofserving"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/members"
	"github.com/ironlb/ironlb/speaker/reach"
)

// EnvMembersSecret holds the key that signs speaker-to-speaker packets
// (from a Secret in the DaemonSet).
const EnvMembersSecret = "IRONLB_MEMBERS_SECRET"

type options struct {
	kubeconfig string
	node       string
	namespace  string
	metrics    metricsserving.Flags
	probeAddr  string
	pprofAddr  string
	logLevel   string

	membersBind     string
	membersPort     int
	membersInterval time.Duration
	membersTimeout  time.Duration
	membersSecrets  [][]byte // the first signs
	membersKeyFile  string   // re-read for rotations; empty: keys from the environment
	handoffWait     time.Duration

	l2Refresh    time.Duration
	l2Check      time.Duration
	reachCheck   time.Duration
	datapath     string
	healthChecks bool
	memoryLimit  int64 // the container's, in bytes; 0: none
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("speaker", flag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; empty: in-cluster configuration")
	fs.StringVar(&o.node, "node-name", os.Getenv("NODE_NAME"), "name of the Node this speaker runs on")
	fs.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "ironlb-system"), "namespace of IronLB (BGP password Secrets, the speakers' presence Lease)")
	o.metrics.Register(fs, ":7474")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", "0", "address of /healthz (fails while the BGP engine is stuck) and /readyz; 0 disables them")
	pprofserving.Register(fs, &o.pprofAddr)
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.membersBind, "members-bind", "", "UDP address for speaker-to-speaker liveness; empty: the Node's InternalIP")
	fs.IntVar(&o.membersPort, "members-port", members.DefaultPort, "UDP port for speaker-to-speaker liveness (every speaker uses the same)")
	fs.DurationVar(&o.membersInterval, "members-interval", members.DefaultInterval, "liveness ping period")
	fs.DurationVar(&o.membersTimeout, "members-timeout", members.DefaultTimeout, "silence after which a speaker is dead and its addresses move")
	fs.StringVar(&o.membersKeyFile, "members-secret-file", "", "file with the keys of liveness packets, one per line: the first signs, all are accepted; re-read every second (key rotation); default: $"+EnvMembersSecret)
	fs.DurationVar(&o.handoffWait, "handoff-wait", 150*time.Millisecond, "on SIGTERM, how long to keep answering after the peers took over")
	fs.DurationVar(&o.l2Refresh, "l2-refresh", 30*time.Second, "period of gratuitous ARP/NA refreshes for announced addresses; 0 disables")
	fs.DurationVar(&o.l2Check, "l2-answer-check", layer2.DefaultAnswerCheckInterval, "period of the probe that finds another host answering ARP/NDP for an announced address (reported as a conflict); 0 disables")
	fs.DurationVar(&o.reachCheck, "reachability-check", reach.DefaultInterval, "period of the check that each address this node announces answers on its Services' TCP ports through the datapath; 0 disables")
	fs.StringVar(&o.datapath, "datapath", "auto", "how this node carries VIP traffic to pods: ipvs, nftables, auto (IPVS when the kernel has it, else nftables) or off (leave it to kube-proxy)")
	fs.BoolVar(&o.healthChecks, "serve-health-check-node-ports", false, "serve the healthCheckNodePort of Local Services on this node, as kube-proxy would (for clusters without kube-proxy)")
	memoryLimit := fs.String("memory-limit", os.Getenv(memlimit.EnvContainerLimit), "the container's memory limit (bytes or a quantity such as 256Mi; default: $"+memlimit.EnvContainerLimit+", which the Helm chart fills from the pod spec): the Go runtime's soft limit is set to 90% of it unless GOMEMLIMIT is set; empty or 0: none")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	limit, err := memlimit.Parse(*memoryLimit)
	if err != nil {
		return o, fmt.Errorf("flag -memory-limit: %w", err)
	}
	o.memoryLimit = limit
	switch o.datapath {
	case "auto", "ipvs", "nftables", "off":
	default:
		return o, fmt.Errorf("flag -datapath: %q is not one of auto, ipvs, nftables, off", o.datapath)
	}
	if err := o.metrics.Validate(); err != nil {
		return o, err
	}
	if err := pprofserving.Check(o.pprofAddr); err != nil {
		return o, err
	}
	if o.node == "" {
		return o, errors.New("flag -node-name (or NODE_NAME) is required")
	}
	secret := os.Getenv(EnvMembersSecret)
	if o.membersKeyFile != "" {
		b, err := os.ReadFile(o.membersKeyFile)
		if err != nil {
			return o, fmt.Errorf("flag -members-secret-file: %w", err)
		}
		secret = string(b)
	}
	keys, err := parseMemberKeys(secret)
	if err != nil {
		return o, fmt.Errorf("the liveness keys ($%s or -members-secret-file): %w", EnvMembersSecret, err)
	}
	o.membersSecrets = keys
	if o.membersBind != "" {
		if _, err := netip.ParseAddrPort(o.membersBind); err != nil {
			return o, fmt.Errorf("flag -members-bind: %w", err)
		}
	}
	if o.l2Check < 0 {
		return o, fmt.Errorf("flag -l2-answer-check: %v is negative", o.l2Check)
	}
	if o.reachCheck < 0 {
		return o, fmt.Errorf("flag -reachability-check: %v is negative", o.reachCheck)
	}
	if o.l2Refresh == 0 {
		o.l2Refresh = -1 // layer2: negative disables
	}
	if o.l2Check == 0 {
		o.l2Check = -1
	}
	return o, nil
}

// envOr returns the environment variable, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
