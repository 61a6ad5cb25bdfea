package preview

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	fx "github.com/ironlb/ironlb/ironlbctl/internal/fixture"
	"github.com/ironlb/ironlb/ironlbctl/why"
)

func TestCompute(t *testing.T) {
	current := config.Resources{Pools: []v1beta1.IPAddressPool{fx.Pool("web", "203.0.113.0/30")}}
	svcA := fx.Service("default", "a", 1, fx.Assigned("web", "203.0.113.0"))
	svcB := fx.Service("default", "b", 2, fx.Assigned("web", "203.0.113.1"))
	svcD := fx.Service("default", "d", 3, fx.Assigned("web", "203.0.113.3"))
	full := []corev1.Service{svcA, svcB, fx.Service("default", "c", 3, fx.Assigned("web", "203.0.113.2")), svcD}
	pending := fx.Service("default", "new", 9)
	files := func(pools ...v1beta1.IPAddressPool) config.Resources { return config.Resources{Pools: pools} }
	tests := []struct {
		name      string
		files     config.Resources
		services  []corev1.Service
		want      []string // Change.String() lines
		unchanged int
	}{
		{"unrelated pool: no change", files(fx.Pool("other", "198.51.100.0/24")), []corev1.Service{svcA, svcB}, nil, 2},
		{"shrink: lose", files(fx.Pool("web", "203.0.113.0/32")), []corev1.Service{svcA, svcB},
			[]string{`default/b would lose 203.0.113.1 (pool web): pool "web" exhausted (IPv4: 1 of 1 in use)`}, 1},
		{"shrink: move to a free address", files(fx.Pool("web", "203.0.113.0/31")), []corev1.Service{svcA, svcD},
			[]string{"default/d would move from 203.0.113.3 (pool web) to 203.0.113.1 (pool web)"}, 1},
		{"address now in another pool", files(fx.Pool("web", "203.0.113.0/31"), fx.Pool("web2", "203.0.113.2/31")), []corev1.Service{svcA, svcD},
			[]string{"default/d would move from 203.0.113.3 (pool web) to 203.0.113.3 (pool web2)"}, 1},
		{"growth: a pending Service gets one", files(fx.Pool("web", "203.0.113.0/29")), append(full, pending),
			[]string{"default/new would get 203.0.113.4 (pool web)"}, 4},
		{"pending stays pending", files(fx.Pool("other", "198.51.100.0/24"), fx.Pool("web", "203.0.113.0/30")), append(full, fx.Service("default", "new", 9, fx.Annotate("ironlb.io/address-pool", "web"))),
			nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Compute(Input{Current: current, Files: tt.files, Services: tt.services, Handles: why.Options{}.Handles})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range res.Changes {
				got = append(got, c.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if res.Unchanged != tt.unchanged {
				t.Fatalf("unchanged %d, want %d", res.Unchanged, tt.unchanged)
			}
		})
	}
}

func TestComputeRejectsAnInvalidMerge(t *testing.T) {
	current := config.Resources{Pools: []v1beta1.IPAddressPool{fx.Pool("web", "203.0.113.0/30")}}
	_, err := Compute(Input{Current: current, Files: config.Resources{Pools: []v1beta1.IPAddressPool{fx.Pool("dup", "203.0.113.2/31")}}, Handles: why.Options{}.Handles})
	var errs config.Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), `IPAddressPool "dup"`) {
		t.Fatalf("err = %v, want the overlap named", err)
	}
}
