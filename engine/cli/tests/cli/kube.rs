//! `--target kube` end to end: the real `capstan` binary against a FAKE
//! Kubernetes API server, because no kube-apiserver can run on the build
//! machines.
//!
//! The fake is kube-fake-client's in-memory API server (server-side apply
//! with `managedFields`, field managers and conflicts) behind the stand-in
//! of `capstan_kube::testing` (discovery, namespace routing, 404 for writes
//! into a namespace that does not exist), served over plain HTTP on a
//! loopback port. Each test writes a kubeconfig naming that port, sets
//! `KUBECONFIG` and runs `capstan` as an operator would; what the cluster
//! holds is then read through the fake directly. The fake runs no
//! controllers, so the test plays the Deployment controller: it writes a
//! finished rollout's status on every Deployment except the ones a test
//! calls stuck (an image that never pulls), which is what the plugins'
//! health answers wait on.

use std::path::PathBuf;

use capstan_kube::ObjectRef;
use capstan_kube::testing::FakeCluster;
use serde_json::{Value, json};

use crate::support::{Run, Stack, app_component};

const CAPSTAN_LABEL: &str = "app.kubernetes.io/managed-by";
const COMPONENT_ANNOTATION: &str = "capstan.dev/component";

/// A stack in environment `dev`, namespace `web` (no component plans a
/// Namespace), and a fake cluster it is applied to.
pub(crate) struct KubeStack {
    pub(crate) stack: Stack,
    pub(crate) kubeconfig: PathBuf,
    /// The fake API server's URL (the `fake` context's cluster).
    url: String,
    // Declared before the runtime its tasks run on, so it is dropped first.
    pub(crate) cluster: FakeCluster,
    pub(crate) rt: tokio::runtime::Runtime,
}

impl KubeStack {
    /// The cluster with the Deployment controller rolling out everything
    /// but `stuck` (`namespace/name`), and a kubeconfig whose current
    /// context is `current` (`fake`, or `unreachable`: nothing listens there).
    pub(crate) fn new(stuck: &[&str], current: &str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let cluster = rt.block_on(FakeCluster::start());
        let url = rt.block_on(cluster.serve());
        rt.block_on(async { cluster.run_deployment_controller(stuck) });
        let stack = Stack::new("locals {\n  org = \"acme\"\n}\n");
        stack.write("envs/dev/env.hcl", "replicas = 2\n");
        stack.write("envs/dev/web/namespace.hcl", "namespace = \"web\"\n");
        stack.write(
            ".kube/fake.yaml",
            &format!(
                "apiVersion: v1
kind: Config
current-context: {current}
clusters:
- name: fake
  cluster:
    server: {url}
- name: unreachable
  cluster:
    server: http://127.0.0.1:1
users:
- name: tester
  user:
    token: test-token-not-a-secret
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
- name: unreachable
  context:
    cluster: unreachable
    user: tester
"
            ),
        );
        let kubeconfig = stack.path(".kube/fake.yaml");
        let url = url.to_string();
        Self { stack, kubeconfig, url, cluster, rt }
    }

    /// An app listening on port 8080, with the environment's replicas.
    pub(crate) fn app(&self, name: &str) {
        let hcl = app_component(&format!("registry.example/{name}:1.0.0"), "local.env.replicas");
        self.stack.write(&format!("envs/dev/web/{name}/component.hcl"), &hcl);
    }

    /// `capstan <args> --target kube --no-color` with `KUBECONFIG` set.
    pub(crate) fn capstan(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--target", "kube", "--no-color"]);
        self.stack.run_env(&all, &[("KUBECONFIG", &self.kubeconfig)])
    }

    pub(crate) fn get(&self, key: &ObjectRef) -> Option<Value> {
        self.rt.block_on(self.cluster.get(key))
    }

    /// Paths of the writes the cluster received after the first `since`.
    fn writes_since(&self, since: usize, method: &str) -> Vec<String> {
        self.cluster.writes()[since..].iter().filter(|w| w.method == method).map(|w| w.path.clone()).collect()
    }
}

fn object(api_version: &str, kind: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: Some("web".into()),
        name: name.into(),
    }
}

pub(crate) fn deployment(name: &str) -> ObjectRef {
    object("apps/v1", "Deployment", name)
}

pub(crate) fn service(name: &str) -> ObjectRef {
    object("v1", "Service", name)
}

pub(crate) fn network_policy(name: &str) -> ObjectRef {
    object("networking.k8s.io/v1", "NetworkPolicy", name)
}

fn namespace_web() -> ObjectRef {
    ObjectRef { namespace: None, ..object("v1", "Namespace", "web") }
}

fn all_output(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[test]
fn apply_reapply_prune_and_destroy_through_the_binary() {
    let k = KubeStack::new(&[], "fake");
    k.app("backend");
    k.stack.write(
        "envs/dev/web/api/component.hcl",
        r#"component {
  type    = "app"
  plugin  = "capstan/app"
  version = "^0.1"
}
dependency "backend" {
  config_path = "../backend"
}
inputs = {
  image    = "registry.example/api:1.0.0"
  replicas = local.env.replicas
  port     = 8080
  env      = { BACKEND_URL = dependency.backend.outputs.service_url }
}
"#,
    );
    // A worker listens on no port: a Deployment only.
    k.stack.write(
        "envs/dev/web/worker/component.hcl",
        "component {\n  type    = \"app\"\n  plugin  = \"capstan/app\"\n  version = \"^0.1\"\n}\ninputs = {\n  image    = \"registry.example/worker:1.0.0\"\n  replicas = 1\n}\n",
    );

    let plan = k.capstan(&["plan", "envs/dev", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "an empty cluster: changes pending: {plan:?}");
    assert!(plan.stdout.contains("+ Deployment web/api"), "{plan:?}");
    assert!(k.cluster.writes().is_empty(), "plan writes nothing: {:?}", k.cluster.writes());

    k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    // Each app is isolated by its NetworkPolicy; api, which calls backend,
    // also lets itself in to backend's pods.
    let applied = [
        ("backend", deployment("backend")),
        ("backend", service("backend")),
        ("backend", network_policy("backend")),
        ("api", deployment("api")),
        ("api", service("api")),
        ("api", network_policy("api")),
        ("api", network_policy("api-to-backend")),
        ("worker", deployment("worker")),
        ("worker", network_policy("worker")),
    ];
    for (component, key) in &applied {
        let live = k.get(key).unwrap_or_else(|| panic!("{key} was applied"));
        let managers = k.rt.block_on(k.cluster.managers(key));
        assert!(
            managers.iter().any(|m| m == "capstan"),
            "{key}: applied as field manager capstan: {managers:?}"
        );
        assert_eq!(live["metadata"]["labels"][CAPSTAN_LABEL], "capstan");
        assert_eq!(
            live["metadata"]["annotations"][COMPONENT_ANNOTATION],
            format!("envs/dev/web/{component}")
        );
    }
    let api = k.get(&deployment("api")).unwrap();
    let env = api["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap();
    assert!(
        env.contains(&json!({"name": "BACKEND_URL", "value": "http://backend.web.svc.cluster.local:8080"})),
        "the dependency's output reached its dependent: {env:?}"
    );
    // No plugin plans Namespace web: the target created it, before anything in it.
    let writes = k.writes_since(0, "PATCH");
    assert_eq!(writes[0], "/api/v1/namespaces/web", "{writes:#?}");
    let ns = k.get(&namespace_web()).expect("namespace web was created");
    assert_eq!(ns["metadata"]["labels"][CAPSTAN_LABEL], "capstan");
    // The dependency is applied (and ready) before its dependent is touched.
    let last_backend = writes.iter().rposition(|p| p.ends_with("/backend")).unwrap();
    let first_api = writes.iter().position(|p| p.ends_with("/api")).unwrap();
    assert!(last_backend < first_api, "{writes:#?}");

    // The same tree again: nothing to change, nothing written.
    let before = k.cluster.writes().len();
    let again = k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(again.stdout.contains("No changes."), "{again:?}");
    assert_eq!(k.cluster.writes().len(), before, "{:#?}", &k.cluster.writes()[before..]);
    assert_eq!(k.capstan(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0);

    // A component leaves the tree: its objects are deleted, nothing else.
    std::fs::remove_dir_all(k.stack.path("envs/dev/web/worker")).unwrap();
    let before = k.cluster.writes().len();
    let removed = k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(removed.stdout.contains("envs/dev/web/worker (removed from the tree)"), "{removed:?}");
    assert_eq!(
        k.writes_since(before, "DELETE"),
        [
            "/apis/networking.k8s.io/v1/namespaces/web/networkpolicies/worker",
            "/apis/apps/v1/namespaces/web/deployments/worker",
        ]
    );
    assert!(k.get(&deployment("worker")).is_none());
    for (_, key) in &applied[..7] {
        assert!(k.get(key).is_some(), "{key} stays");
    }

    // Destroy: the dependent first, each component's objects in reverse plan order.
    let before = k.cluster.writes().len();
    k.capstan(&["destroy", "envs/dev", "--auto-approve"]).ok();
    assert_eq!(
        k.writes_since(before, "DELETE"),
        [
            "/apis/networking.k8s.io/v1/namespaces/web/networkpolicies/api-to-backend",
            "/apis/networking.k8s.io/v1/namespaces/web/networkpolicies/api",
            "/api/v1/namespaces/web/services/api",
            "/apis/apps/v1/namespaces/web/deployments/api",
            "/apis/networking.k8s.io/v1/namespaces/web/networkpolicies/backend",
            "/api/v1/namespaces/web/services/backend",
            "/apis/apps/v1/namespaces/web/deployments/backend",
        ]
    );
    for (_, key) in &applied {
        assert!(k.get(key).is_none(), "{key} is gone");
    }
    // Namespace web was created for the objects, not planned by a
    // component; others may share it, so it stays.
    assert!(k.get(&namespace_web()).is_some());
    let state = k.stack.run(&["state", "list", "."]).ok();
    assert!(!state.stdout.contains("envs/dev/web"), "{state:?}");
}

#[test]
fn a_field_another_manager_owns_fails_the_apply_naming_the_object_the_field_and_the_manager() {
    let k = KubeStack::new(&[], "fake");
    k.app("api");
    k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();

    // An operator scales by hand with kubectl's server-side apply, taking the field.
    let scaled = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "web"}, "spec": {"replicas": 5}});
    k.rt.block_on(k.cluster.force_apply_as("kubectl", &deployment("api"), scaled));

    k.stack.write("envs/dev/env.hcl", "replicas = 3\n");
    let run = k.capstan(&["apply", "envs/dev", "--auto-approve"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        all_output(&run).contains(
            "Deployment web/api: server-side apply conflicts with field manager \"kubectl\" on .spec.replicas"
        ),
        "{run:?}"
    );
    assert_eq!(k.get(&deployment("api")).unwrap()["spec"]["replicas"], 5, "never forced");
}

#[test]
fn each_component_waits_for_its_own_ready_timeout_else_the_runs() {
    let k = KubeStack::new(&["web/slow", "web/stalled"], "fake");
    k.app("fine");
    k.stack.write(
        "envs/dev/web/slow/component.hcl",
        &app_component("registry.example/slow:1.0.0", "1")
            .replace("  version = \"^0.1\"\n", "  version = \"^0.1\"\n  ready_timeout = \"1s\"\n"),
    );
    k.app("stalled");

    let started = std::time::Instant::now();
    let run = k.capstan(&["apply", "envs/dev", "--auto-approve", "--ready-timeout", "3s"]);
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{run:?}");
    let out = all_output(&run);
    assert!(
        out.contains(
            "component envs/dev/web/slow: not ready after 1s:\n  Deployment web/slow: waiting for the controller to see the new spec"
        ),
        "its own ready_timeout: {run:?}"
    );
    assert!(out.contains("component envs/dev/web/stalled: not ready after 3s:"), "--ready-timeout: {run:?}");
    // The summary table's row (the plan lists the component first).
    let fine = run.stdout.lines().rfind(|l| l.starts_with("envs/dev/web/fine ")).unwrap_or_default();
    assert!(fine.contains("applied"), "an independent component finishes: {run:?}");
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");

    // A timeout that is not a duration is a configuration error where it is written.
    k.stack.write(
        "envs/dev/web/slow/component.hcl",
        &app_component("registry.example/slow:1.0.0", "1")
            .replace("  version = \"^0.1\"\n", "  version = \"^0.1\"\n  ready_timeout = \"soon\"\n"),
    );
    let run = k.capstan(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("error: `ready_timeout`: \"soon\" is not a duration (try 30s, 10m, 500ms or 1h)"),
        "{run:?}"
    );
    assert!(run.stderr.contains("--> envs/dev/web/slow/component.hcl:5:19"), "{run:?}");
}

#[test]
fn the_context_flag_picks_the_cluster_as_kubectl_does() {
    // The kubeconfig's current context points where nothing listens.
    let k = KubeStack::new(&[], "unreachable");
    k.app("api");

    let run = k.capstan(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "the current context's cluster is unreachable: {run:?}");
    assert!(
        run.stderr.contains("connecting to the cluster of context \"unreachable\" at http://127.0.0.1:1/"),
        "one error, naming the context and where it tried: {run:?}"
    );

    k.capstan(&["apply", "envs/dev", "--auto-approve", "--context", "fake"]).ok();
    assert!(k.get(&deployment("api")).is_some(), "applied to the context named");

    let run = k.capstan(&["plan", "envs/dev", "--context", "staging"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("kubeconfig has no context named \"staging\" (contexts: fake, unreachable)"),
        "{run:?}"
    );
}

#[test]
fn an_environment_runs_only_against_the_cluster_its_env_hcl_binds_it_to() {
    // The current context is unreachable; env.hcl names the context to use.
    let k = KubeStack::new(&[], "unreachable");
    k.app("api");
    let bound = |server: &str| {
        format!("replicas = 2\n\ntarget \"kube\" {{\n  context = \"fake\"\n  server  = \"{server}\"\n}}\n")
    };
    k.stack.write("envs/dev/env.hcl", &bound(&k.url));
    k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(k.get(&deployment("api")).is_some(), "applied to the context env.hcl names, without a flag");

    // Bound to production's API server: the same context is refused, before any change.
    k.stack.write("envs/dev/env.hcl", &bound("https://prod.k8s.example:6443"));
    k.app("worker");
    let writes = k.cluster.writes().len();
    let run = k.capstan(&["apply", "envs/dev", "--auto-approve"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "environment dev is bound to the cluster at https://prod.k8s.example:6443 (envs/dev/env.hcl:5:"
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains(&format!("context \"fake\" is the cluster at {}", k.url)), "{run:?}");
    assert_eq!(k.cluster.writes().len(), writes, "nothing written");
    assert!(k.get(&deployment("worker")).is_none());

    // A flag choosing another context is said loudly, and still checked.
    k.stack.write("envs/dev/env.hcl", &bound(&k.url));
    let run = k.capstan(&["plan", "envs/dev", "--context", "unreachable"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("WARNING: environment dev: context is unreachable for this run, not fake"),
        "{run:?}"
    );
    assert!(run.stderr.contains("context \"unreachable\" is the cluster at http://127.0.0.1:1"), "{run:?}");
}

/// In a pod (the service variables set) with no kubeconfig, the run turns to
/// the pod's ServiceAccount; a kubeconfig, where there is one, still wins. No
/// pod runs here: the variables point at a loopback port where nothing
/// listens, and the ServiceAccount is the machine's standard directory
/// (the CLI offers no other), which a build machine does not have.
#[test]
fn in_a_pod_without_kubeconfig_the_run_uses_the_service_account_and_a_kubeconfig_still_wins() {
    let k = KubeStack::new(&[], "fake");
    k.app("api");
    let pod = [
        ("KUBERNETES_SERVICE_HOST", std::path::Path::new("127.0.0.1")),
        ("KUBERNETES_SERVICE_PORT", std::path::Path::new("1")),
        // Empty counts as unset, whatever the machine running the tests has.
        ("KUBECONFIG", std::path::Path::new("")),
    ];
    let token = std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token");

    let run = k.stack.run_env(&["plan", "envs/dev", "--target", "kube", "--no-color"], &pod);
    assert_eq!(run.code, 1, "{run:?}");
    if token.is_file() {
        // This machine is a pod: its token is taken, and goes nowhere.
        assert!(
            run.stderr
                .contains("connecting to the cluster of context \"in-cluster\" at https://127.0.0.1:1/"),
            "{run:?}"
        );
    } else {
        assert!(run.stderr.contains("no kubeconfig found (KUBECONFIG is not set and "), "{run:?}");
        assert!(
            run.stderr.contains(&format!(
                "and no in-cluster configuration (the pod's ServiceAccount token {} does not exist",
                token.display()
            )),
            "the service variables reached the engine: {run:?}"
        );
    }

    // --kubeconfig (as KUBECONFIG) is used before the pod's ServiceAccount.
    let kubeconfig = k.kubeconfig.to_str().unwrap();
    let apply =
        ["apply", "envs/dev", "--auto-approve", "--target", "kube", "--no-color", "--kubeconfig", kubeconfig];
    let run = k.stack.run_env(&apply, &pod);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(k.get(&deployment("api")).is_some(), "applied to the kubeconfig's cluster");
}
