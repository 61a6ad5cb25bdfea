package configsource

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/ironlb/ironlb/config/v1beta1"
)

func TestConfigChangedIgnoresOnlyPoolCounts(t *testing.T) {
	pool := func(edit func(*v1beta1.IPAddressPool)) *v1beta1.IPAddressPool {
		p := &v1beta1.IPAddressPool{
			ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "7", Generation: 1, Labels: map[string]string{"zone": "a"}},
			Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/28"}},
			Status: v1beta1.IPAddressPoolStatus{
				IPv4:          &v1beta1.PoolFamilyStatus{Total: 16, Assigned: 1, Available: 15},
				LastValidSpec: &v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/28"}},
			},
		}
		if edit != nil {
			edit(p)
		}
		return p
	}
	peer := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "r", ResourceVersion: "7"}}
	peer2 := peer.DeepCopy()
	peer2.ResourceVersion = "8"

	for _, tc := range []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"counts and resourceVersion", pool(nil), pool(func(p *v1beta1.IPAddressPool) {
			p.ResourceVersion = "8"
			p.Status.IPv4 = &v1beta1.PoolFamilyStatus{Total: 16, Assigned: 2, Available: 14}
			p.Status.IPv6 = &v1beta1.PoolFamilyStatus{}
		}), false},
		{"counts, from a listed object to a watched one", pool(func(p *v1beta1.IPAddressPool) {
			p.TypeMeta = metav1.TypeMeta{Kind: "IPAddressPool", APIVersion: "ironlb.io/v1beta1"}
		}), pool(func(p *v1beta1.IPAddressPool) {
			p.ResourceVersion = "8"
			p.Status.IPv4 = &v1beta1.PoolFamilyStatus{Total: 16, Assigned: 2, Available: 14}
		}), false},
		{"spec", pool(nil), pool(func(p *v1beta1.IPAddressPool) {
			p.Generation = 2
			p.Spec.Addresses = []string{"203.0.113.0/27"}
		}), true},
		{"last valid spec", pool(nil), pool(func(p *v1beta1.IPAddressPool) {
			p.Status.LastValidSpec = nil
		}), true},
		{"labels", pool(nil), pool(func(p *v1beta1.IPAddressPool) {
			p.Labels = map[string]string{"zone": "b"}
		}), true},
		{"conditions", pool(nil), pool(func(p *v1beta1.IPAddressPool) {
			p.Status.Conditions = []metav1.Condition{{Type: "Valid", Status: metav1.ConditionFalse}}
		}), true},
		{"another kind", peer, peer2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConfigChanged.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
				t.Fatalf("ConfigChanged = %v, want %v", got, tc.want)
			}
		})
	}
	if !ConfigChanged.Create(event.CreateEvent{Object: pool(nil)}) || !ConfigChanged.Delete(event.DeleteEvent{Object: pool(nil)}) {
		t.Fatal("create or delete filtered out")
	}
}
