package nftables

import (
	"bytes"
	"testing"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// marshalBatch lays messages out exactly as netlink.Message.MarshalBinary
// does, one after the other.
func TestMarshalBatchIsMarshalBinaryConcatenated(t *testing.T) {
	msgs := []netlink.Message{
		{Header: netlink.Header{Type: 0x10, Flags: netlink.Request, Sequence: 7, PID: 42}, Data: []byte{0, 0, 0x0a, 0}},
		{Header: netlink.Header{Type: 0xa06, Flags: netlink.Request | netlink.Create, Sequence: 8}, Data: []byte{1, 2, 3, 4, 5}}, // padded to 8
		{Header: netlink.Header{Type: 0xa06, Flags: netlink.Request | netlink.Acknowledge, Sequence: 9}},
		{Header: netlink.Header{Type: 0x11, Flags: netlink.Request, Sequence: 10}, Data: []byte{0, 0, 0x0a, 0}},
	}
	var want []byte
	for _, m := range msgs {
		m.Header.Length = uint32(nlmsgAlign(nlmsgHeaderLen + len(m.Data)))
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
	}
	if got := marshalBatch(msgs); !bytes.Equal(got, want) {
		t.Fatalf("marshalBatch:\n got %x\nwant %x", got, want)
	}
}

// A batch the kernel refuses (a rule for a chain that does not exist) comes
// back as an error, and the tables are left as they were.
func TestRefusedBatchIsReported(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 1})
	b := backendFor(t, lab.Nodes[0])
	apply(t, b, datapath.State{Services: map[datapath.ServiceKey]datapath.VirtualService{}})
	b.mu.Lock()
	defer b.mu.Unlock()
	b.enc.AddRule(&nft.Rule{Table: b.table, Chain: &nft.Chain{Table: b.table, Name: "no-such-chain"}, Exprs: []expr.Any{verdict(expr.VerdictAccept)}})
	if err := b.commit(); err == nil {
		t.Fatal("a rule for a missing chain was accepted")
	}
	// The socket still works: the next batch goes through.
	b.enc.AddChain(&nft.Chain{Table: b.table, Name: "scratch"})
	if err := b.commit(); err != nil {
		t.Fatalf("next batch: %v", err)
	}
}
