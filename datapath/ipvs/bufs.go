package ipvs

import (
	"github.com/mdlayher/netlink"

	"github.com/ironlb/ironlb/datapath/internal/nftexpr"
)

// bigBuffers sizes the nftables socket for the sets of thousands of
// services in one transaction.
func bigBuffers(c *netlink.Conn) error { return nftexpr.BigBuffers(c, 64<<20) }
