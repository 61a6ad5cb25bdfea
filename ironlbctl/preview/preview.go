// Package preview tells what applying configuration files would do to the
// Services' addresses. Compute is pure: it merges the files into the
// cluster's current ironlb.io objects, replays every Service address from
// its status into an allocator under the current configuration (as the
// controller does on start), switches the allocator to the new
// configuration (ipam.SetPools, as the controller does on a change), then
// re-allocates the Services that lost their address and tries the pending
// ones.
package preview

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/controller/allocation"
	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

// Kind of a change.
type Kind string

// Kinds.
const (
	Get  Kind = "get"  // a pending Service would get an address
	Lose Kind = "lose" // a Service would lose its address and get none
	Move Kind = "move" // a Service would get another address, or keep it under another pool
)

// Change is what would happen to one Service.
type Change struct {
	Kind    Kind            `json:"kind"`
	Service ipam.ServiceKey `json:"service"`
	// Before and After: "" pool and no IPs for none.
	Before ipam.Result `json:"before"`
	After  ipam.Result `json:"after"`
	// Why explains a Lose (the allocator's error).
	Why string `json:"why,omitempty"`
}

// String is one line for humans.
func (c Change) String() string {
	switch c.Kind {
	case Get:
		return fmt.Sprintf("%s would get %s (pool %s)", c.Service, ips(c.After.IPs), c.After.Pool)
	case Lose:
		return fmt.Sprintf("%s would lose %s (pool %s): %s", c.Service, ips(c.Before.IPs), c.Before.Pool, c.Why)
	}
	return fmt.Sprintf("%s would move from %s (pool %s) to %s (pool %s)", c.Service, ips(c.Before.IPs), c.Before.Pool, ips(c.After.IPs), c.After.Pool)
}

// Input is everything Compute reads.
type Input struct {
	// Current are the cluster's ironlb.io objects; Files the objects to
	// apply (each replaces the cluster object of its kind and name).
	Current, Files config.Resources
	Services       []corev1.Service
	// NamespaceLabels: namespace name -> labels.
	NamespaceLabels map[string]map[string]string
	// Handles is the controller's class rule.
	Handles func(*corev1.Service) bool
}

// Result of a preview.
type Result struct {
	Changes []Change `json:"changes"`
	// Unchanged counts Services with an address that keep it.
	Unchanged int `json:"unchanged"`
	// CurrentInvalid: the cluster's configuration does not compile today,
	// so addresses were replayed straight into the new one.
	CurrentInvalid bool `json:"currentInvalid,omitempty"`
}

// Merge returns the cluster's objects with the files' objects applied.
func Merge(current, files config.Resources) config.Resources {
	out := current
	for i := range files.Pools {
		out = out.With(&files.Pools[i])
	}
	for i := range files.L2Advertisements {
		out = out.With(&files.L2Advertisements[i])
	}
	for i := range files.BGPAdvertisements {
		out = out.With(&files.BGPAdvertisements[i])
	}
	for i := range files.BGPPeers {
		out = out.With(&files.BGPPeers[i])
	}
	for i := range files.BFDProfiles {
		out = out.With(&files.BFDProfiles[i])
	}
	for i := range files.Communities {
		out = out.With(&files.Communities[i])
	}
	return out
}

// Compute previews applying in.Files. The error is the config.Errors the
// files introduce (what the webhook would reject), if any.
func Compute(in Input) (Result, error) {
	merged := Merge(in.Current, in.Files)
	if errs := config.ValidateChange(in.Current, merged); len(errs) > 0 {
		return Result{}, errs
	}
	newCfg, _ := config.Compile(merged)
	var res Result
	oldCfg, oldErrs := config.Compile(in.Current)
	res.CurrentInvalid = len(oldErrs) > 0

	alloc := ipam.New()
	alloc.SetPools(allocation.IPAMPools(oldCfg))
	restored := allocation.RestoreOrder(in.Services, in.Handles, in.NamespaceLabels)
	before := map[ipam.ServiceKey]ipam.Result{}
	for _, r := range restored {
		if got, err := alloc.Assign(r.Request, r.IPs); err == nil {
			before[r.Request.Service] = got
		} else if res.CurrentInvalid {
			// Under the new configuration directly: this is a loss.
			before[r.Request.Service] = ipam.Result{IPs: r.IPs}
		}
	}
	if oldCfg != nil {
		alloc.SetPools(allocation.IPAMPools(newCfg))
	}

	requests := requestsOf(in)
	var pending []ipam.ServiceKey
	for _, r := range restored {
		if _, held := alloc.Get(r.Request.Service); !held {
			pending = append(pending, r.Request.Service)
		}
	}
	// Lost Services first (in restore order), then those waiting today,
	// oldest first: the controller works them in no fixed order, so a
	// preview of a contested pool is one possible outcome.
	for _, svc := range orderedPending(in, requests, before) {
		if !slices.Contains(pending, svc) {
			pending = append(pending, svc)
		}
	}
	for _, k := range pending {
		req, ok := requests[k]
		if !ok {
			continue
		}
		got, err := alloc.Allocate(req)
		b, had := before[k]
		switch {
		case err != nil && had:
			res.Changes = append(res.Changes, Change{Kind: Lose, Service: k, Before: b, Why: err.Error()})
		case err != nil:
			// Pending before and after: no change.
		case !had:
			res.Changes = append(res.Changes, Change{Kind: Get, Service: k, After: got})
		case !slices.Equal(b.IPs, got.IPs) || b.Pool != got.Pool:
			res.Changes = append(res.Changes, Change{Kind: Move, Service: k, Before: b, After: got})
		}
	}
	for k, b := range before {
		if slices.Contains(pending, k) {
			continue
		}
		got, _ := alloc.Get(k)
		if got.Pool != b.Pool || !slices.Equal(got.IPs, b.IPs) {
			res.Changes = append(res.Changes, Change{Kind: Move, Service: k, Before: b, After: got})
		} else {
			res.Unchanged++
		}
	}
	slices.SortFunc(res.Changes, func(a, b Change) int { return a.Service.Compare(b.Service) })
	return res, nil
}

// requestsOf builds the allocator request of every Service the controller
// handles; Services with an invalid request are left out (the controller
// does not allocate for them either).
func requestsOf(in Input) map[ipam.ServiceKey]ipam.Request {
	out := map[ipam.ServiceKey]ipam.Request{}
	for i := range in.Services {
		svc := &in.Services[i]
		if !in.Handles(svc) {
			continue
		}
		req, _, err := svcrequest.FromService(svc, in.NamespaceLabels[svc.Namespace])
		if err != nil {
			continue
		}
		out[req.Service] = req
	}
	return out
}

// orderedPending lists handled Services without an address in status,
// oldest first.
func orderedPending(in Input, requests map[ipam.ServiceKey]ipam.Request, before map[ipam.ServiceKey]ipam.Result) []ipam.ServiceKey {
	var idx []int
	for i := range in.Services {
		svc := &in.Services[i]
		k := ipam.ServiceKey{Namespace: svc.Namespace, Name: svc.Name}
		if _, ok := requests[k]; !ok || len(allocation.StatusIPs(svc)) > 0 {
			continue
		}
		if _, ok := before[k]; ok {
			continue
		}
		idx = append(idx, i)
	}
	slices.SortFunc(idx, func(a, b int) int {
		sa, sb := &in.Services[a], &in.Services[b]
		if c := sa.CreationTimestamp.Compare(sb.CreationTimestamp.Time); c != 0 {
			return c
		}
		return ipam.ServiceKey{Namespace: sa.Namespace, Name: sa.Name}.Compare(ipam.ServiceKey{Namespace: sb.Namespace, Name: sb.Name})
	})
	out := make([]ipam.ServiceKey, len(idx))
	for i, j := range idx {
		out[i] = ipam.ServiceKey{Namespace: in.Services[j].Namespace, Name: in.Services[j].Name}
	}
	return out
}

func ips(a []netip.Addr) string {
	if len(a) == 0 {
		return "no address"
	}
	s := make([]string, len(a))
	for i, ip := range a {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}
