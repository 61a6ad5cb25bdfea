package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/ironlb/ironlb/config/v1beta1"
)

const kbfd = KindBFDProfile

func TestCompileBFD(t *testing.T) {
	custom := with(bfd("custom"), func(b *v1beta1.BFDProfile) {
		b.Spec.ReceiveInterval = ptr(uint32(10))
		b.Spec.TransmitInterval = ptr(uint32(60000))
		b.Spec.DetectMultiplier = ptr(uint32(255))
		b.Spec.MinimumTTL = ptr(uint32(254))
		b.Spec.PassiveMode = true
	})
	cfg := checkErrs(t, Resources{BFDProfiles: []v1beta1.BFDProfile{custom, bfd("default")}})
	want := []BFDProfile{
		{Name: "custom", ReceiveInterval: 10 * time.Millisecond, TransmitInterval: time.Minute, DetectMultiplier: 255, MinimumTTL: 254, PassiveMode: true},
		{Name: "default", ReceiveInterval: 300 * time.Millisecond, TransmitInterval: 300 * time.Millisecond, DetectMultiplier: 3},
	}
	if got := cfg.BFDProfiles(); !reflect.DeepEqual(got, want) {
		t.Errorf("BFDProfiles:\n got %+v\nwant %+v", got, want)
	}

	set := func(f func(*v1beta1.BFDProfileSpec)) Resources {
		return Resources{BFDProfiles: []v1beta1.BFDProfile{with(bfd("b"), func(b *v1beta1.BFDProfile) { f(&b.Spec) })}}
	}
	runRules(t, []ruleCase{
		{"receive 9", set(func(s *v1beta1.BFDProfileSpec) { s.ReceiveInterval = ptr(uint32(9)) }),
			[]wantErr{{kbfd, "b", "spec.receiveInterval", "9 is out of range 10..60000"}}},
		{"receive 60001", set(func(s *v1beta1.BFDProfileSpec) { s.ReceiveInterval = ptr(uint32(60001)) }),
			[]wantErr{{kbfd, "b", "spec.receiveInterval", "out of range"}}},
		{"transmit 0", set(func(s *v1beta1.BFDProfileSpec) { s.TransmitInterval = ptr(uint32(0)) }),
			[]wantErr{{kbfd, "b", "spec.transmitInterval", "0 is out of range 10..60000"}}},
		{"transmit 60001", set(func(s *v1beta1.BFDProfileSpec) { s.TransmitInterval = ptr(uint32(60001)) }),
			[]wantErr{{kbfd, "b", "spec.transmitInterval", "out of range"}}},
		{"multiplier 1", set(func(s *v1beta1.BFDProfileSpec) { s.DetectMultiplier = ptr(uint32(1)) }),
			[]wantErr{{kbfd, "b", "spec.detectMultiplier", "1 is out of range 2..255"}}},
		{"multiplier 256", set(func(s *v1beta1.BFDProfileSpec) { s.DetectMultiplier = ptr(uint32(256)) }),
			[]wantErr{{kbfd, "b", "spec.detectMultiplier", "out of range"}}},
		{"minimumTTL 0", set(func(s *v1beta1.BFDProfileSpec) { s.MinimumTTL = ptr(uint32(0)) }),
			[]wantErr{{kbfd, "b", "spec.minimumTTL", "0 is out of range 1..254"}}},
		{"minimumTTL 255", set(func(s *v1beta1.BFDProfileSpec) { s.MinimumTTL = ptr(uint32(255)) }),
			[]wantErr{{kbfd, "b", "spec.minimumTTL", "out of range"}}},
		{"duplicate name", Resources{BFDProfiles: []v1beta1.BFDProfile{bfd("b"), bfd("b")}},
			[]wantErr{{kbfd, "b", "metadata.name", "2 objects"}}},
	})
}
