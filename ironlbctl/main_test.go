package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlagsAfterArguments(t *testing.T) {
	f, err := parseFlags("why", []string{"default/web", "-o", "json", "--kubeconfig", "/k"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if f.output != "json" || f.kubeconfig != "/k" || len(f.args) != 1 || f.args[0] != "default/web" {
		t.Fatalf("parsed %+v", f)
	}
	if _, err := parseFlags("validate", []string{"--offline", "--preview"}, &bytes.Buffer{}); err == nil {
		t.Fatal("--offline with --preview accepted")
	}
}

func TestValidateOffline(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good.yaml", "apiVersion: ironlb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: web\nspec:\n  addresses: [203.0.113.0/24]\n")
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("apiVersion: ironlb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: clash\nspec:\n  addresses: [203.0.113.8/29]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		code  int
		want  string
		stdin string
	}{
		{"valid directory", []string{"validate", "-f", dir, "--offline"}, 0, "valid (files alone; no preview: --offline)", ""},
		{"overlap names object and field", []string{"validate", "-f", dir, "-f", bad, "--offline"}, 1, `spec.addresses[0]`, ""},
		{"missing file", []string{"validate", "-f", filepath.Join(dir, "nope.yaml"), "--offline"}, 2, "nope.yaml", ""},
		{"no files", []string{"validate", "--offline"}, 2, "no files", ""},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command", ""},
		{"why: bad --client, before contacting the cluster", []string{"why", "default/web", "--client", "10.0.0.0/8"}, 2, `--client "10.0.0.0/8" is not an IP address`, ""},
		{"migrate a MetalLB documentation example", []string{"migrate", "-f", "../e2e/testdata/metallb/layer2.yaml"}, 0,
			"metadata:\n  name: example\nspec:\n  ipAddressPools:\n  - first-pool\n", ""},
		{"migrate from stdin, with a note", []string{"migrate", "-f", "-"}, 0,
			"# spec.vrf: no equivalent", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: r}\nspec: {myASN: 1, peerASN: 2, peerAddress: 192.0.2.1, vrf: red}\n"},
		{"migrate: converted objects that do not compile fail", []string{"migrate", "-f", "../e2e/testdata/metallb/peers-v1beta2.yaml", "--apply"}, 1,
			"nothing applied", ""},
		{"migrate: input that needs fixing fails", []string{"migrate", "-f", "-"}, 1,
			"# error: metallb.io/v1beta1 AddressPools", "apiVersion: metallb.io/v1beta1\nkind: AddressPools\nmetadata: {name: x}\n"},
		{"migrate without input", []string{"migrate"}, 2, "no input given", ""},
		{"validate points MetalLB objects to migrate", []string{"validate", "-f", "../e2e/testdata/metallb/layer2.yaml", "--offline"}, 0,
			"skipped metallb.io/v1beta1 IPAddressPool/first-pool (../e2e/testdata/metallb/layer2.yaml document 1): not an ironlb.io kind; a MetalLB object: convert it with ironlbctl migrate -f", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("exit %d (want %d), output:\n%s\nwant %q", code, tt.code, out.String(), tt.want)
			}
		})
	}
}
