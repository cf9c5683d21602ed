package k8stest

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func intstrFrom(s string) intstr.IntOrString { return intstr.Parse(s) }

// admits reports whether the NetworkPolicy np, on its own, admits a
// connection from a pod (of no particular labels) in namespace from to
// port/proto of pod, following the NetworkPolicy API's semantics: a rule
// admits when one of its ports and one of its peers match, an empty list
// matching everything. ipBlock peers are not modelled and fail the test.
func admits(t *testing.T, np *networkingv1.NetworkPolicy, pod *corev1.PodTemplateSpec, from string, port int32, proto corev1.Protocol) bool {
	t.Helper()
	isolated := len(np.Spec.PolicyTypes) == 0 // Ingress is implied
	for _, pt := range np.Spec.PolicyTypes {
		if pt == networkingv1.PolicyTypeIngress {
			isolated = true
		}
	}
	if !isolated {
		return true
	}
	for _, rule := range np.Spec.Ingress {
		if portMatches(rule.Ports, pod, port, proto) && peerMatches(t, rule.From, np.Namespace, from) {
			return true
		}
	}
	return false
}

func portMatches(ports []networkingv1.NetworkPolicyPort, pod *corev1.PodTemplateSpec, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.Int && p.EndPort != nil:
			if port >= p.Port.IntVal && port <= *p.EndPort {
				return true
			}
		case p.Port.Type == intstr.Int:
			if port == p.Port.IntVal {
				return true
			}
		default: // a named port: any container's port of that name
			for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
				for _, c := range list {
					for _, cp := range c.Ports {
						cpp := cp.Protocol
						if cpp == "" {
							cpp = corev1.ProtocolTCP
						}
						if cp.Name == p.Port.StrVal && cp.ContainerPort == port && cpp == proto {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

func peerMatches(t *testing.T, peers []networkingv1.NetworkPolicyPeer, policyNamespace, from string) bool {
	t.Helper()
	if len(peers) == 0 {
		return true
	}
	// The API server labels every namespace with its name.
	nsLabels := map[string]string{"kubernetes.io/metadata.name": from}
	for _, p := range peers {
		if p.IPBlock != nil {
			t.Fatalf("ipBlock peers are not modelled: %+v", p.IPBlock)
		}
		nsOK := from == policyNamespace
		if p.NamespaceSelector != nil {
			nsOK = selectsOrEveryone(t, p.NamespaceSelector, nsLabels)
		}
		// The source pod carries no particular labels: only an empty
		// podSelector (every pod) admits it.
		podOK := p.PodSelector == nil || selectsOrEveryone(t, p.PodSelector, nil)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

// selectsOrEveryone is selects, except that an empty selector matches
// everything, as it does in a NetworkPolicy peer.
func selectsOrEveryone(t *testing.T, sel *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		return true
	}
	return selects(t, sel, set)
}

// TestAdmits checks the model the NetworkPolicy tests rely on, on policies
// whose meaning the Kubernetes documentation spells out.
func TestAdmits(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }
	named := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	pod := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8000}},
	}}}}
	policy := func(types []networkingv1.PolicyType, rules ...networkingv1.NetworkPolicyIngressRule) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "app"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: types, Ingress: rules}}
	}
	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	fromNS := func(ns string) []networkingv1.NetworkPolicyPeer {
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}}
	}

	tests := []struct {
		name  string
		np    *networkingv1.NetworkPolicy
		from  string
		port  int32
		proto corev1.Protocol
		want  bool
	}{
		{"no rules: deny all", policy(ingress), "app", 8000, tcp, false},
		{"egress-only policy leaves ingress open", policy([]networkingv1.PolicyType{networkingv1.PolicyTypeEgress}), "x", 8000, tcp, true},
		{"empty rule: allow all", policy(ingress, networkingv1.NetworkPolicyIngressRule{}), "x", 1, udp, true},
		{"port rule, any source", policy(ingress, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: port(80)}}}), "x", 80, tcp, true},
		{"port rule defaults to TCP", policy(ingress, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: port(80)}}}), "x", 80, udp, false},
		{"port range", policy(ingress, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(80), EndPort: ptr(int32(90))}}}), "x", 85, tcp, true},
		{"named port", policy(ingress, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: named("web")}}}), "x", 8000, tcp, true},
		{"named port, other number", policy(ingress, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: named("web")}}}), "x", 8001, tcp, false},
		{"namespace selector admits that namespace", policy(ingress, networkingv1.NetworkPolicyIngressRule{From: fromNS("mon")}), "mon", 8000, tcp, true},
		{"namespace selector refuses others", policy(ingress, networkingv1.NetworkPolicyIngressRule{From: fromNS("mon")}), "app", 8000, tcp, false},
		{"pod selector alone means the policy's namespace", policy(ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}), "app", 8000, tcp, true},
		{"pod selector alone refuses other namespaces", policy(ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}), "mon", 8000, tcp, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := admits(t, tt.np, pod, tt.from, tt.port, tt.proto); got != tt.want {
				t.Errorf("admits = %v, want %v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
