package pools

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
)

// maxConditionMessage keeps a Valid condition under the API's 32 KiB limit
// on condition messages, whatever an object holds (a pool with thousands of
// bad ranges).
const maxConditionMessage = 4096

// desiredConfigStatus is the part of an object's status the configuration
// controller owns, given what Compile did with it. It reports whether the
// current spec is to be recorded as the last valid one: only a valid spec
// is, so the last valid spec survives any number of invalid edits and
// restarts.
func desiredConfigStatus(generation int64, prev v1beta1.ConfigStatus, st config.ObjectState) (v1beta1.ConfigStatus, bool) {
	out := v1beta1.ConfigStatus{
		ObservedGeneration:  generation,
		Conditions:          append([]metav1.Condition(nil), prev.Conditions...),
		LastValidGeneration: prev.LastValidGeneration,
	}
	cond := metav1.Condition{
		Type:               v1beta1.ConditionValid,
		Status:             metav1.ConditionTrue,
		Reason:             "Compiled",
		Message:            "the spec is in force",
		ObservedGeneration: generation,
	}
	record := st.Valid()
	if record {
		out.LastValidGeneration = generation
	} else {
		cond.Status, cond.Reason = metav1.ConditionFalse, "Invalid"
		cond.Message = conditionMessage(st)
		if st.InForce == config.InForceLastValid {
			cond.Message += fmt.Sprintf(" (generation %d)", prev.LastValidGeneration)
		}
	}
	meta.SetStatusCondition(&out.Conditions, cond)
	return out, record
}

// conditionMessage lists the problems of the spec, then what is in force.
func conditionMessage(st config.ObjectState) string {
	msg := ""
	for i, e := range st.Errors {
		item := e.Detail
		if e.Field != "" {
			item = e.Field + ": " + e.Detail
		}
		if i > 0 {
			item = "; " + item
		}
		if len(msg)+len(item) > maxConditionMessage {
			msg += fmt.Sprintf("; and %d more problems", len(st.Errors)-i)
			break
		}
		msg += item
	}
	return msg + "; " + st.Summary()
}
