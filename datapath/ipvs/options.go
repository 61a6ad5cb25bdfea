package ipvs

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Options configure a Backend. The zero value is usable.
type Options struct {
	// NetNS is the path of the network namespace to program (e.g.
	// /run/netns/NAME); "" is the caller's. Tests use it.
	NetNS string
	// Interface is the dummy interface that holds the VIPs; "" is
	// "ironlb0".
	Interface string
	// Table is the name of the inet nftables table; "" is "ironlb-ipvs".
	Table string
	// Mark is the packet-mark bit that flags Cluster connections for
	// masquerade; 0 is 0x2000 (clear of kube-proxy's 0x4000/0x8000,
	// Calico's 0xffff0000 and Cilium's 0x0f00). It must be a single bit.
	Mark uint32
	// VIPPrefixes are IronLB's address pools. IPVS services inside them
	// are IronLB's even when neither the State nor the dummy interface
	// names them (e.g. after the interface was deleted by hand). Optional.
	VIPPrefixes []netip.Prefix
	// CallTimeout bounds each netlink call to IPVS; 0 is 10 s.
	CallTimeout time.Duration
	// DrainTimeout is how long an endpoint that left the State may keep
	// its connections; 0 is 30 s (Kubernetes' default termination grace
	// period).
	DrainTimeout time.Duration
	// DrainPoll is how often Run checks draining endpoints; 0 is 2 s.
	DrainPoll time.Duration
	// ResyncPeriod is how often Run re-reads the kernel and repairs what
	// was changed behind the backend's back (incremental Applies only touch
	// services whose State changed); 0 is 10 minutes, negative never.
	ResyncPeriod time.Duration
	// CheckInterval is how often Run checks cheaply for drift (IPVS
	// services, VIP addresses, the dummy interface or the nftables table
	// removed behind the backend's back); 0 is 1 s, negative never.
	CheckInterval time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

const (
	defaultInterface    = "ironlb0"
	defaultTable        = "ironlb-ipvs"
	defaultMark         = 0x2000
	defaultCallTimeout  = 10 * time.Second
	defaultDrainTimeout = 30 * time.Second
	defaultDrainPoll    = 2 * time.Second
	defaultResync       = 10 * time.Minute
	defaultCheck        = time.Second
)

func (o Options) withDefaults() (Options, error) {
	if o.Interface == "" {
		o.Interface = defaultInterface
	}
	if len(o.Interface) > 15 {
		return o, fmt.Errorf("ipvs backend: Options.Interface %q is longer than 15 characters", o.Interface)
	}
	if o.Table == "" {
		o.Table = defaultTable
	}
	if o.Mark == 0 {
		o.Mark = defaultMark
	}
	if o.Mark&(o.Mark-1) != 0 {
		return o, fmt.Errorf("ipvs backend: Options.Mark %#x is not a single bit", o.Mark)
	}
	for i, p := range o.VIPPrefixes {
		if !p.IsValid() {
			return o, fmt.Errorf("ipvs backend: Options.VIPPrefixes[%d] is not a valid prefix", i)
		}
		o.VIPPrefixes[i] = p.Masked()
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = defaultCallTimeout
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = defaultDrainTimeout
	}
	if o.DrainPoll <= 0 {
		o.DrainPoll = defaultDrainPoll
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = defaultResync
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = defaultCheck
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
