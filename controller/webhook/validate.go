// Package webhook is the validating admission webhook for the ironlb.io
// kinds. It compiles the configuration as it would be after the change with
// the same pure compiler the controller and `validate` use, and rejects the
// change if it introduces an error.
package webhook

import (
	"context"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/configsource"
)

// Path is where the webhook is served.
const Path = "/validate-ironlb-io-v1beta1"

// Validator admits or denies changes to ironlb.io objects.
type Validator struct {
	Reader  client.Reader // a live reader (mgr.GetAPIReader())
	Decoder admission.Decoder
}

// NewValidator returns a Validator that decodes with scheme.
func NewValidator(reader client.Reader, scheme *runtime.Scheme) *Validator {
	return &Validator{Reader: reader, Decoder: admission.NewDecoder(scheme)}
}

// Handle implements admission.Handler.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	before, err := configsource.List(ctx, v.Reader)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("read current configuration: %w", err))
	}
	var after config.Resources
	if req.Operation == admissionv1.Delete {
		after = before.Without(req.Kind.Kind, req.Name)
	} else {
		obj, err := newObject(req.Kind.Kind)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if err := v.Decoder.Decode(req, obj); err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode %s %q: %w", req.Kind.Kind, req.Name, err))
		}
		after = before.With(obj)
	}
	if errs := config.ValidateChange(before, after); len(errs) > 0 {
		return admission.Denied(errs.Error())
	}
	return admission.Allowed("")
}

func newObject(kind string) (client.Object, error) {
	switch kind {
	case config.KindIPAddressPool:
		return &v1beta1.IPAddressPool{}, nil
	case config.KindL2Advertisement:
		return &v1beta1.L2Advertisement{}, nil
	case config.KindBGPAdvertisement:
		return &v1beta1.BGPAdvertisement{}, nil
	case config.KindBGPPeer:
		return &v1beta1.BGPPeer{}, nil
	case config.KindBFDProfile:
		return &v1beta1.BFDProfile{}, nil
	case config.KindCommunity:
		return &v1beta1.Community{}, nil
	}
	return nil, fmt.Errorf("kind %q is not an ironlb.io kind", kind)
}
