package nftables

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	nft "github.com/google/nftables"

	"github.com/ironlb/ironlb/datapath"
)

// shardCount is how many tables the services are spread over.
//
// A transaction that adds a NAT rule makes the kernel revalidate every rule
// reachable from the base chains of that rule's table, so with one table an
// endpoint change costs time in proportion to all backends of the node
// (about 35 ms at 10,000 services of 10 endpoints). Validation is per table
// (Linux 6.5 and later), so spreading the services over shardCount tables
// divides that cost by shardCount. The price is one map lookup per shard
// for the first packet of each new connection (see shardSkeleton).
const shardCount = 16

// shardOf places a service in a shard: a hash of its key, so every node
// and every restart agree without remembering anything.
func shardOf(k datapath.ServiceKey) int {
	h := fnv.New32a()
	h.Write(serviceKeyBytes(k))
	return int(h.Sum32() % shardCount)
}

// shardName names shard i of the main table base: ironlb-svc00 ...
func shardName(base string, i int) string { return fmt.Sprintf("%s-svc%02d", base, i) }

// owned reports whether an inet table is the main table base or one of its
// shards, of this shard count or another (a table left by another version
// is replaced, never left behind).
func owned(base, name string) bool {
	if name == base {
		return true
	}
	n, ok := strings.CutPrefix(name, base+"-svc")
	if !ok || len(n) < 2 {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

func (b *Backend) shardTable(k datapath.ServiceKey) *nft.Table { return b.shards[shardOf(k)] }
