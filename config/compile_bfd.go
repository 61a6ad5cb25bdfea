package config

import (
	"time"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// BFD defaults, the CRD's +kubebuilder:default values (FRR bfdd's defaults
// too: 300ms intervals, multiplier 3).
const (
	defaultBFDInterval   = 300 // milliseconds
	defaultBFDMultiplier = 3
)

// compileBFDProfiles checks the CRD ranges and applies defaults. Profiles
// have no references and cannot conflict.
func (c *compiler) compileBFDProfiles(in []*v1beta1.BFDProfile) []BFDProfile {
	out := make([]BFDProfile, 0, len(in))
	for _, p := range in {
		v := newVersioned(&p.ObjectMeta, &p.Spec, p.Status.LastValidSpec)
		b, ok := choose(c, KindBFDProfile, v, func(s *v1beta1.BFDProfileSpec, a *attempt[BFDProfile]) {
			a.value = compileBFDProfile(obj{&a.own, KindBFDProfile, p.Name}, s)
		})
		if ok {
			out = append(out, b)
		}
	}
	return out
}

func compileBFDProfile(o obj, s *v1beta1.BFDProfileSpec) BFDProfile {
	get := func(field string, v *uint32, def, lo, hi uint32) uint32 {
		if v == nil {
			return def
		}
		if *v < lo || *v > hi {
			o.errorf(field, "%d is out of range %d..%d", *v, lo, hi)
		}
		return *v
	}
	return BFDProfile{
		Name:             o.name,
		ReceiveInterval:  time.Duration(get("spec.receiveInterval", s.ReceiveInterval, defaultBFDInterval, 10, 60000)) * time.Millisecond,
		TransmitInterval: time.Duration(get("spec.transmitInterval", s.TransmitInterval, defaultBFDInterval, 10, 60000)) * time.Millisecond,
		DetectMultiplier: get("spec.detectMultiplier", s.DetectMultiplier, defaultBFDMultiplier, 2, 255),
		PassiveMode:      s.PassiveMode,
		MinimumTTL:       get("spec.minimumTTL", s.MinimumTTL, 0, 1, 254),
	}
}
