package vm

import (
	"slices"
	"strings"
	"testing"
)

const sampleDep = `kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko:
kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko:
kernel/lib/libcrc32c.ko:
kernel/drivers/net/dummy.ko:
kernel/drivers/net/some-thing.ko:
kernel/x/a.ko: kernel/x/b.ko
kernel/x/b.ko: kernel/x/a.ko
kernel/x/c.ko: kernel/x/missing.ko
`

func TestLoadOrder(t *testing.T) {
	md, err := parseModulesDep(strings.NewReader(sampleDep))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mods    []string
		want    []string // exact order
		wantErr string
	}{
		{
			name: "deps first, each once",
			mods: []string{"ip_vs_rr", "ip_vs", "dummy"},
			want: []string{
				"kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko", "kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko",
				"kernel/lib/libcrc32c.ko", "kernel/net/netfilter/nf_conntrack.ko",
				"kernel/net/netfilter/ipvs/ip_vs.ko", "kernel/net/netfilter/ipvs/ip_vs_rr.ko",
				"kernel/drivers/net/dummy.ko",
			},
		},
		{name: "dash and underscore are one name", mods: []string{"some_thing"}, want: []string{"kernel/drivers/net/some-thing.ko"}},
		{name: "unknown", mods: []string{"dummy", "nope", "nada"}, wantErr: "nope, nada"},
		{name: "cycle", mods: []string{"a"}, wantErr: "cycle"},
		{name: "missing dependency", mods: []string{"c"}, wantErr: "kernel/x/missing.ko is needed by kernel/x/c.ko"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := md.loadOrder(tc.mods)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseModulesDepRejectsGarbage(t *testing.T) {
	if _, err := parseModulesDep(strings.NewReader("kernel/a.ko: \nno colon here\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want a complaint about line 2", err)
	}
}

func TestSubset(t *testing.T) {
	md, err := parseModulesDep(strings.NewReader(sampleDep))
	if err != nil {
		t.Fatal(err)
	}
	got := string(md.subset([]string{"kernel/lib/libcrc32c.ko", "kernel/net/netfilter/nf_conntrack.ko"}))
	want := "kernel/lib/libcrc32c.ko:\nkernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko\n"
	if got != want {
		t.Errorf("subset:\n%s\nwant:\n%s", got, want)
	}
}
