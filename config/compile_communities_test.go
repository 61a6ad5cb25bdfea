package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/config/v1beta1"
)

const kcomm = KindCommunity

func TestCompileCommunityRules(t *testing.T) {
	comms := func(cs ...v1beta1.Community) Resources { return Resources{Communities: cs} }
	many := make([]string, 0, 2*257)
	for i := range 257 {
		many = append(many, fmt.Sprintf("a%d", i), "1:1")
	}
	runRules(t, []ruleCase{
		{"valid", comms(communityObj("c", "no-export", "65535:65281", "big", "large:1:2:3"), communityObj("d", "other", "0:0")), nil},
		{"alias twice in one object", comms(communityObj("c", "x", "1:1", "y", "1:2", "x", "1:3")), []wantErr{
			{kcomm, "c", "spec.communities[2].name", `alias "x" is also defined at spec.communities[0].name`},
		}},
		{"alias in two objects", comms(communityObj("b", "x", "1:1"), communityObj("a", "y", "2:2", "x", "1:1")), []wantErr{
			// Neither is older nor in force: the first by name keeps it.
			{kcomm, "b", "spec.communities[0].name", `alias "x" is also defined at Community "a" spec.communities[1].name`},
		}},
		{"alias name with colon", comms(communityObj("c", "65000:1", "1:1")), []wantErr{{kcomm, "c", "spec.communities[0].name", "contains ':'"}}},
		{"empty alias name", comms(communityObj("c", "", "1:1")), []wantErr{{kcomm, "c", "spec.communities[0].name", "is required"}}},
		{"alias name too long", comms(communityObj("c", strings.Repeat("n", 64), "1:1")), []wantErr{{kcomm, "c", "spec.communities[0].name", "64 characters"}}},
		{"empty value", comms(communityObj("c", "x", "")), []wantErr{{kcomm, "c", "spec.communities[0].value", "is required"}}},
		{"invalid value", comms(communityObj("c", "x", "1:2", "y", "70000:1")), []wantErr{{kcomm, "c", "spec.communities[1].value", `"70000:1" is not a valid community`}}},
		{"value too long", comms(communityObj("c", "x", strings.Repeat("1", 129))), []wantErr{{kcomm, "c", "spec.communities[0].value", "129 characters"}}},
		{"too many aliases", comms(communityObj("c", many...)), []wantErr{{kcomm, "c", "spec.communities", "257 items, at most 256"}}},
		{"duplicate name", comms(communityObj("c"), communityObj("c")), []wantErr{{kcomm, "c", "metadata.name", "2 objects"}}},
		// The Community is not in force, so the advertisement's reference
		// does not resolve: both are invalid, each for its own reason.
		{"advertisement using an alias of an invalid Community", Resources{
			Pools:             []v1beta1.IPAddressPool{pool("p", "192.0.2.0/24")},
			Communities:       []v1beta1.Community{communityObj("c", "bad", "1:99999")},
			BGPAdvertisements: []v1beta1.BGPAdvertisement{with(bgpAdv("a"), func(a *v1beta1.BGPAdvertisement) { a.Spec.Communities = []string{"bad"} })},
		}, []wantErr{
			{kbgp, "a", "spec.communities[0]", `"bad" is neither a community value`},
			{kcomm, "c", "spec.communities[0].value", "not a valid community"},
		}},
		{"advertisement using a duplicated alias uses the one in force", Resources{
			Pools:             []v1beta1.IPAddressPool{pool("p", "192.0.2.0/24")},
			Communities:       []v1beta1.Community{communityObj("c", "x", "1:1"), communityObj("d", "x", "1:1")},
			BGPAdvertisements: []v1beta1.BGPAdvertisement{with(bgpAdv("a"), func(a *v1beta1.BGPAdvertisement) { a.Spec.Communities = []string{"x"} })},
		}, []wantErr{{kcomm, "d", "spec.communities[0].name", "also defined"}}},
	})
}

func TestParseCommunity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // formatted back, or "" for an error
	}{
		{"0:0", "0:0"}, {"65535:65535", "65535:65535"}, {"065000:00100", "65000:100"},
		{"large:0:0:0", "large:0:0:0"}, {"large:4294967295:4294967295:4294967295", "large:4294967295:4294967295:4294967295"},
		{"65536:0", ""}, {"1", ""}, {":", ""}, {"1: 2", ""}, {"-1:2", ""}, {"large:1:2:3:4", ""},
		{"LARGE:1:2:3", ""}, {"large:", ""}, {"1:0x10", ""},
	} {
		c, err := parseCommunity(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseCommunity(%q) = %v, want an error", tc.in, c)
			}
			continue
		}
		if err != nil || c.String() != tc.want {
			t.Errorf("parseCommunity(%q) = %v, %v; want %s", tc.in, c, err, tc.want)
		}
	}
}
