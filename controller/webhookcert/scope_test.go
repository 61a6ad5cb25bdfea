package webhookcert

import (
	"net/http"
	"net/url"
	"testing"
)

func TestWithName(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"", "metadata.name=ironlb-webhook-cert"},
		{"watch=true&resourceVersion=7", "metadata.name=ironlb-webhook-cert"},
		{"fieldSelector=type%3DOpaque", "type=Opaque,metadata.name=ironlb-webhook-cert"},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := url.ParseQuery(tc.query)
		got := WithName(q, "ironlb-webhook-cert")
		if got.Get("fieldSelector") != tc.want {
			t.Errorf("%q: fieldSelector %q, want %q", tc.query, got.Get("fieldSelector"), tc.want)
		}
		for k := range orig {
			if k != "fieldSelector" && got.Get(k) == "" {
				t.Errorf("%q: parameter %s lost: %v", tc.query, k, got)
			}
		}
	}
}

// recorder is the next RoundTripper: it keeps the requests it is given.
type recorder struct{ got []*http.Request }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = append(r.got, req)
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func TestNameSelectorNarrowsOnlyItsCollections(t *testing.T) {
	secrets := SecretCollection("ironlb-system", "ironlb-webhook-cert")
	webhooks := WebhookConfigurationCollection("ironlb-validating-webhook")
	for _, tc := range []struct {
		method, url, want string // want: the fieldSelector the server gets
	}{
		{"GET", "https://api:6443/api/v1/namespaces/ironlb-system/secrets?watch=true", "metadata.name=ironlb-webhook-cert"},
		{"GET", "https://api:6443/prefix/api/v1/namespaces/ironlb-system/secrets", "metadata.name=ironlb-webhook-cert"},
		{"GET", "https://api:6443/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", "metadata.name=ironlb-validating-webhook"},
		// Not the narrowed collections: left alone.
		{"GET", "https://api:6443/api/v1/namespaces/team-a/secrets", ""},
		{"GET", "https://api:6443/api/v1/namespaces/ironlb-system/secrets/ironlb-webhook-cert", ""},
		{"GET", "https://api:6443/api/v1/namespaces/ironlb-system/configmaps", ""},
		{"PUT", "https://api:6443/api/v1/namespaces/ironlb-system/secrets", ""},
	} {
		rec := &recorder{}
		rt := nameSelector{next: rec, collections: []Collection{secrets, webhooks}}
		req, err := http.NewRequest(tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := req.URL.String()
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if got := rec.got[0].URL.Query().Get("fieldSelector"); got != tc.want {
			t.Errorf("%s %s: fieldSelector %q, want %q", tc.method, tc.url, got, tc.want)
		}
		if req.URL.String() != before {
			t.Errorf("%s %s: the caller's request was changed to %s", tc.method, tc.url, req.URL)
		}
	}
}
