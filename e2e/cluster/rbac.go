package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SystemNamespace is where IronLB runs.
const SystemNamespace = "ironlb-system"

// ApplyRoles creates every ClusterRole and Role in a file such as
// manifests/rbac/<component>/role.yaml, each with a binding of the same
// name to subjects.
func ApplyRoles(ctx context.Context, c client.Client, path string, subjects ...rbacv1.Subject) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("RBAC: %w", err)
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(bufio.NewReader(f), 4096)
	for {
		var u map[string]any
		if err := dec.Decode(&u); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("decode %s: %w", path, err)
		}
		if u == nil {
			continue
		}
		var objs []client.Object
		switch u["kind"] {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &r); err != nil {
				return err
			}
			objs = append(objs, &r, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: r.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.Name},
				Subjects:   subjects,
			})
		case "Role":
			var r rbacv1.Role
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &r); err != nil {
				return err
			}
			objs = append(objs, &r, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name},
				Subjects:   subjects,
			})
		default:
			return fmt.Errorf("%s: unexpected kind %v", path, u["kind"])
		}
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
			}
		}
	}
}
