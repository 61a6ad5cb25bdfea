package controller_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// TestMetricsPlainHTTPWithSecureOff: -metrics-secure=false serves the
// metrics over plain HTTP to a client without a token, for operators who
// want that. (The secure default is proven in e2e/monitoring.)
func TestMetricsPlainHTTPWithSecureOff(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.startController("-metrics-bind-address", addr, "-metrics-secure=false")
	var body string
	waitFor(t, 30*time.Second, "plain HTTP metrics without a token", func() (bool, error) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("status %d", resp.StatusCode)
		}
		return err == nil, err
	})
	if !strings.Contains(body, "ironlb_") {
		t.Errorf("plain HTTP answer holds no ironlb_ metric:\n%.300s", body)
	}
}
