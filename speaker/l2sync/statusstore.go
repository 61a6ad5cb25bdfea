package l2sync

import (
	"context"
	"fmt"
	"net/netip"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/storeindex"
)

// statusIPIndex indexes the ServiceL2Status objects in the informer's
// store by the IP their status names, so a pass over a few IPs finds their
// objects (including those of Services that left the IP) without listing
// all.
const statusIPIndex = "ironlb.io/status-ip"

// statusStore reads the ServiceL2Status objects of the informer's own
// store: the cached objects themselves, read only. A status pass reads
// them per changed IP; through the client each read filled a typed list
// by reflection, or built a NotFound error for an object not written yet:
// over the 10,000-Service benchmark (BenchmarkSpeakerAtScale) those reads
// were 43 % of the bytes the speaker allocated.
type statusStore struct {
	store toolscache.Indexer
}

// registerStatusStore adds the IP index to c's ServiceL2Status informer;
// call it once, before the manager starts.
func registerStatusStore(ctx context.Context, c cache.Informers) (*statusStore, error) {
	store, err := storeindex.Add(ctx, c, &v1beta1.ServiceL2Status{}, statusIPIndex, statusIPs)
	if err != nil {
		return nil, fmt.Errorf("index ServiceL2Status by IP: %w", err)
	}
	return &statusStore{store: store}, nil
}

// statusIPs is the index value of a status object: the IP its status
// names, none when that is not an IP (only a full pass finds it, and
// deletes it).
func statusIPs(st *v1beta1.ServiceL2Status) []string {
	ip, err := netip.ParseAddr(st.Status.IP)
	if err != nil {
		return nil
	}
	return []string{ip.String()}
}

// byIP returns the status objects whose status names ip.
func (s *statusStore) byIP(ip netip.Addr) ([]*v1beta1.ServiceL2Status, error) {
	return storeindex.ByIndex[*v1beta1.ServiceL2Status](s.store, statusIPIndex, ip.String())
}

// get returns the status object namespace/name, false when there is none.
func (s *statusStore) get(namespace, name string) (*v1beta1.ServiceL2Status, bool, error) {
	o, ok, err := s.store.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false, err
	}
	st, ok := o.(*v1beta1.ServiceL2Status)
	return st, ok, nil
}
