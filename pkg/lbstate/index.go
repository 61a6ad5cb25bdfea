package lbstate

import (
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// Index holds condensed Services by key and, per IP, the Services listing
// it (several when they share it), and collects the IPs a change touched:
// what the speakers' plan trackers (l2plan, bgpplan) decide again. Not
// safe for concurrent use.
type Index struct {
	svcs map[types.NamespacedName]Service
	// users are sorted by key. A slice, not a set: an IP almost always has
	// one user, and a map per IP cost the speaker megabytes at 10,000.
	users map[netip.Addr][]types.NamespacedName
	// Dirty holds the IPs listed by a Service before or after a Set or
	// Delete that changed it; its user clears it once decided.
	Dirty map[netip.Addr]bool
}

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{svcs: map[types.NamespacedName]Service{}, users: map[netip.Addr][]types.NamespacedName{}, Dirty: map[netip.Addr]bool{}}
}

// Set adds or replaces a Service; an equal one changes nothing.
func (x *Index) Set(s Service) {
	if old, ok := x.svcs[s.Key]; ok {
		if old.Equal(s) {
			return
		}
		x.unindex(old)
	}
	x.svcs[s.Key] = s
	for _, ip := range s.IPs {
		if i, found := slices.BinarySearchFunc(x.users[ip], s.Key, CompareKeys); !found {
			x.users[ip] = slices.Insert(x.users[ip], i, s.Key)
		}
		x.Dirty[ip] = true
	}
}

// Delete removes a Service.
func (x *Index) Delete(key types.NamespacedName) {
	if old, ok := x.svcs[key]; ok {
		x.unindex(old)
		delete(x.svcs, key)
	}
}

func (x *Index) unindex(s Service) {
	for _, ip := range s.IPs {
		if i, found := slices.BinarySearchFunc(x.users[ip], s.Key, CompareKeys); found {
			x.users[ip] = slices.Delete(x.users[ip], i, i+1)
		}
		if len(x.users[ip]) == 0 {
			delete(x.users, ip)
		}
		x.Dirty[ip] = true
	}
}

// Get returns the Service with key.
func (x *Index) Get(key types.NamespacedName) (Service, bool) {
	s, ok := x.svcs[key]
	return s, ok
}

// Users are the Services listing ip, sorted by key (as Build sorts).
func (x *Index) Users(ip netip.Addr) []Service {
	keys := x.users[ip]
	out := make([]Service, len(keys))
	for i, k := range keys {
		out[i] = x.svcs[k]
	}
	return out
}

// ClearDirty empties Dirty. A map keeps the room it once grew to, and
// ranging over it costs that room, not what is in it: after a first sync
// marked every IP, clearing it in place would make every later range over
// a change of one IP cost all of them. A fresh map costs what it holds.
func (x *Index) ClearDirty() { x.Dirty = map[netip.Addr]bool{} }

// MarkAll makes every IP some Service lists dirty.
func (x *Index) MarkAll() {
	for ip := range x.users {
		x.Dirty[ip] = true
	}
}

// CompareKeys orders Service keys by namespace, then name.
func CompareKeys(a, b types.NamespacedName) int {
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
