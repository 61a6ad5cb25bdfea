package bgp

import (
	"context"
	"fmt"
	"testing"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// BenchmarkLinkBandwidthPolicyChange is what a link bandwidth value coming
// into use and going out of it costs in GoBGP (a defined set, a policy
// and the export assignment, added then deleted), beside others already
// installed: a node's endpoint count changing to a count no other route
// of the node has.
func BenchmarkLinkBandwidthPolicyChange(b *testing.B) {
	for _, installed := range []int{0, 100} {
		b.Run(fmt.Sprintf("installed=%d", installed), func(b *testing.B) {
			ctx := context.Background()
			srv := server.NewBgpServer()
			go srv.Serve()
			defer srv.Stop()
			if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: placeholderASN, RouterId: "192.0.2.1", ListenPort: -1}}); err != nil {
				b.Fatal(err)
			}
			for i := range installed {
				if err := addLinkBandwidthPolicy(ctx, srv, lbKey{64512, uint32(i+1) * 125000}); err != nil {
					b.Fatal(err)
				}
			}
			k := lbKey{64512, 1 << 30}
			b.ResetTimer()
			for range b.N {
				if err := addLinkBandwidthPolicy(ctx, srv, k); err != nil {
					b.Fatal(err)
				}
				if err := deleteLinkBandwidthPolicy(ctx, srv, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
