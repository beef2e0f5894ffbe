// cr-reference: the controller-runtime counterpart of operator/bench/runtime-worker.ts, for the
// side-by-side rate in npm run bench:reconcile. Per ConfidentialAgent, exactly the work the TypeScript
// bench controller does: add a finalizer (merge patch with a resourceVersion precondition), write status
// twice (Provisioned, then Ready; merge patches on /status), emit one events.k8s.io/v1 Event. Objects
// already Ready at their generation cost nothing. Prints "FIRST_RECONCILE <unix ms>" once, on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// Version is stamped by build.sh (-X main.Version=...) so a cached binary can be checked against the pin.
var Version = "dev"

const finalizer = "confidential-agent.io/finalizer"

var gv = schema.GroupVersion{Group: "confidential-agent.io", Version: "v1alpha1"}

// Agent is the typed object a kubebuilder user would generate: spec kept opaque, status typed.
type Agent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              json.RawMessage `json:"spec,omitempty"`
	Status            AgentStatus     `json:"status,omitempty"`
}

type AgentStatus struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

type AgentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Agent `json:"items"`
}

func (in *Agent) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = append(json.RawMessage(nil), in.Spec...)
	out.Status.Conditions = nil
	for _, c := range in.Status.Conditions {
		cc := c
		c.LastTransitionTime.DeepCopyInto(&cc.LastTransitionTime)
		out.Status.Conditions = append(out.Status.Conditions, cc)
	}
	return &out
}

func (in *AgentList) DeepCopyObject() runtime.Object {
	out := *in
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]Agent, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*Agent)
	}
	return &out
}

type reconciler struct {
	client.Client
	events recorder.EventRecorder
	first  sync.Once
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.first.Do(func() { fmt.Printf("FIRST_RECONCILE %d\n", time.Now().UnixMilli()) })
	var a Agent
	if err := r.Get(ctx, req.NamespacedName, &a); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !a.DeletionTimestamp.IsZero() {
		if controllerutil.ContainsFinalizer(&a, finalizer) {
			orig := a.DeepCopyObject().(*Agent)
			controllerutil.RemoveFinalizer(&a, finalizer)
			if err := r.Patch(ctx, &a, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, nil
	}
	if !controllerutil.ContainsFinalizer(&a, finalizer) {
		orig := a.DeepCopyObject().(*Agent)
		controllerutil.AddFinalizer(&a, finalizer)
		if err := r.Patch(ctx, &a, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}
	ready := meta.FindStatusCondition(a.Status.Conditions, "Ready")
	if ready != nil && ready.Status == metav1.ConditionTrue && a.Status.ObservedGeneration == a.Generation {
		return ctrl.Result{}, nil
	}
	// Status write 1: provisioned, not yet ready.
	orig := a.DeepCopyObject().(*Agent)
	a.Status.ObservedGeneration = a.Generation
	meta.SetStatusCondition(&a.Status.Conditions, metav1.Condition{Type: "Provisioned", Status: metav1.ConditionTrue, Reason: "InstanceRunning", Message: "bench", ObservedGeneration: a.Generation})
	meta.SetStatusCondition(&a.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "NotAttested", Message: "bench", ObservedGeneration: a.Generation})
	if err := r.Status().Patch(ctx, &a, client.MergeFrom(orig)); err != nil {
		return ctrl.Result{}, err
	}
	// Status write 2: ready.
	orig = a.DeepCopyObject().(*Agent)
	meta.SetStatusCondition(&a.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: "bench", ObservedGeneration: a.Generation})
	if err := r.Status().Patch(ctx, &a, client.MergeFrom(orig)); err != nil {
		return ctrl.Result{}, err
	}
	r.events.Eventf(&a, nil, "Normal", "Ready", "Reconcile", "agent %s is ready", a.Name)
	return ctrl.Result{}, nil
}

func main() {
	namespace := flag.String("namespace", "", "namespace to watch")
	workers := flag.Int("workers", 16, "MaxConcurrentReconciles")
	qps := flag.Float64("qps", -1, "client QPS (-1: no client-side limit, controller-runtime's default)")
	burst := flag.Int("burst", 0, "client burst")
	version := flag.Bool("version", false, "print the pinned controller-runtime version and exit")
	flag.Parse()
	if *version {
		fmt.Println(Version)
		return
	}
	cfg, err := ctrl.GetConfig() // --kubeconfig (registered by controller-runtime)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.QPS = float32(*qps)
	cfg.Burst = *burst
	scheme := runtime.NewScheme()
	scheme.AddKnownTypeWithName(gv.WithKind("ConfidentialAgent"), &Agent{})
	scheme.AddKnownTypeWithName(gv.WithKind("ConfidentialAgentList"), &AgentList{})
	metav1.AddToGroupVersion(scheme, gv)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: server.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{*namespace: {}}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := &reconciler{Client: mgr.GetClient(), events: mgr.GetEventRecorder("cr-reference")}
	err = ctrl.NewControllerManagedBy(mgr).For(&Agent{}).Named("confidentialagent").
		WithOptions(controller.Options{MaxConcurrentReconciles: *workers}).Complete(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
