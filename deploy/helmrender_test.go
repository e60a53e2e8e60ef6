package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The chart as the tests read it: rendered by the real helm, each object
// decoded strictly into its Kubernetes API type, as the API server would
// (an unknown, misspelt or duplicated field is an error, and field names
// are matched case-sensitively).

// chartDir is the chart, relative to deploy/helm (where helm runs).
const chartDir = "jobwait"

// releaseName is the release every render is made as.
const releaseName = "rel"

// serviceMonitor is the part of the Prometheus operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the chart writes, with the operator's
// field names: strict decoding refuses any other field.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func (s *serviceMonitor) DeepCopyObject() runtime.Object { c := *s; return &c }

// serviceMonitorKind is the ServiceMonitor's group, version and kind.
var serviceMonitorKind = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// strictDecoder decodes YAML into the types of the kinds the chart makes,
// and no others.
var strictDecoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	s.AddKnownTypeWithName(serviceMonitorKind, &serviceMonitor{})
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: true, Strict: true})
}()

// release is one rendering of the chart, by kind; at most one object of
// each kind but Secret.
type release struct {
	deployment     *appsv1.Deployment
	service        *corev1.Service
	serviceAccount *corev1.ServiceAccount
	pdb            *policyv1.PodDisruptionBudget
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	serviceMonitor *serviceMonitor
	secrets        map[string]*corev1.Secret
}

// render runs `helm template` on the chart with args (-f FILE, --set …)
// and decodes what it writes, failing t on any error.
func render(t *testing.T, args ...string) release {
	t.Helper()
	out, err := renderErr(t, args...)
	require.NoError(t, err)
	r, err := decodeRelease([]byte(out))
	require.NoError(t, err, "decode:\n%s", out)
	return r
}

// renderErr runs `helm template` and returns what it wrote, or its error.
func renderErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helm(t, append([]string{"template", releaseName, chartDir, "--namespace", "jobs"}, args...)...)
}

// decodeRelease decodes a stream of YAML documents strictly.
func decodeRelease(stream []byte) (release, error) {
	r := release{secrets: map[string]*corev1.Secret{}}
	docs := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		if isBlank(doc) {
			continue
		}
		obj, gvk, err := strictDecoder.Decode(doc, nil, nil)
		if err != nil {
			return r, errors.New(err.Error() + " in:\n" + string(doc))
		}
		var dup bool
		switch o := obj.(type) {
		case *appsv1.Deployment:
			dup, r.deployment = r.deployment != nil, o
		case *corev1.Service:
			dup, r.service = r.service != nil, o
		case *corev1.ServiceAccount:
			dup, r.serviceAccount = r.serviceAccount != nil, o
		case *policyv1.PodDisruptionBudget:
			dup, r.pdb = r.pdb != nil, o
		case *autoscalingv2.HorizontalPodAutoscaler:
			dup, r.hpa = r.hpa != nil, o
		case *serviceMonitor:
			dup, r.serviceMonitor = r.serviceMonitor != nil, o
		case *corev1.Secret:
			dup = r.secrets[o.Name] != nil
			r.secrets[o.Name] = o
		default:
			return r, errors.New("the chart makes a " + gvk.String() + ", which no test reads")
		}
		if dup {
			return r, errors.New("two objects of kind " + gvk.Kind)
		}
	}
}

// isBlank reports whether a YAML document holds only comments and space.
func isBlank(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

// container is the Deployment's jobwait container.
func (r release) container(t *testing.T) corev1.Container {
	t.Helper()
	require.NotNil(t, r.deployment, "no Deployment")
	cs := r.deployment.Spec.Template.Spec.Containers
	require.Len(t, cs, 1, "containers")
	return cs[0]
}

// env is the container's environment variable name, and whether it is set.
func (r release) env(t *testing.T, name string) (corev1.EnvVar, bool) {
	t.Helper()
	for _, e := range r.container(t).Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// value is the literal value of environment variable name ("" if unset).
func (r release) value(t *testing.T, name string) string {
	t.Helper()
	e, _ := r.env(t, name)
	return e.Value
}
