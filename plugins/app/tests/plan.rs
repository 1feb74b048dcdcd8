//! The app plugin's plans, checked by content through the SDK test kit
//! (defaults merged, schema and `validate` applied, as the engine does).
//!
//! Module index:
//! - basics: objects, labels, limits, security context, probes, outputs
//! - optional objects: HPA, PDB, Ingress, ServiceMonitor only when asked
//! - dependencies: postgres, messaging, dapr, waf, cert-manager, app
//! - identity: vault (address, login, paths) and spire (socket, SPIFFE ID),
//!   the ServiceAccount they bind, refusals naming the fix
//! - network policies: isolation, egress to dependencies, ingress from the
//!   WAF and Prometheus, callers letting themselves in, inputs, refusals
//! - bad inputs: typed errors naming the path

#![allow(clippy::unwrap_used, reason = "tests")]

use capstan_plugin_app::App;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, container_env};
use serde_json::{Value, json};

fn api() -> PlanCall {
    PlanCall::new(json!({ "image": "registry.example.com/oob/consent:1.4.2", "port": 8080 })).component(
        "staging",
        "core",
        "oob-consent",
    )
}

fn container(plan: &ComponentPlan) -> &Value {
    &plan.expect_object("Deployment", "oob-consent")["spec"]["template"]["spec"]["containers"][0]
}

fn invalid(result: Result<ComponentPlan, PlanError>) -> Vec<Diagnostic> {
    match result {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

mod basics {
    use super::*;

    #[test]
    fn metadata_is_consistent_and_defaults_fit_the_schema() {
        let m = check_metadata::<App>();
        assert_eq!(
            (m.name.as_str(), m.component_type.as_str(), m.backend.as_str()),
            ("capstan/app", "app", "kubernetes")
        );
        assert_eq!(m.input_schema["required"], json!(["image", "replicas", "resources"]));
        assert!(m.capabilities.is_empty(), "the app plugin needs no effects");
    }

    #[test]
    fn a_minimal_app_is_a_deployment_and_a_service_with_standard_labels() {
        let plan = api().run::<App>().unwrap();
        assert_eq!(
            plan.object_ids(),
            ["Deployment/oob-consent", "Service/oob-consent", "NetworkPolicy/oob-consent"]
        );
        let deploy = plan.expect_object("Deployment", "oob-consent");
        let labels = &deploy["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], "oob-consent");
        assert_eq!(labels["app.kubernetes.io/instance"], "oob-consent");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "capstan");
        assert_eq!(labels["app.kubernetes.io/component"], "server");
        assert_eq!(deploy["metadata"]["namespace"], "core");
        assert_eq!(deploy["spec"]["replicas"], 2, "the default replica count");
        // The selector must match the pod labels, and the Service must select the same pods.
        let selector = &deploy["spec"]["selector"]["matchLabels"];
        for (k, v) in selector.as_object().unwrap() {
            assert_eq!(&deploy["spec"]["template"]["metadata"]["labels"][k], v);
        }
        let svc = plan.expect_object("Service", "oob-consent");
        assert_eq!(&svc["spec"]["selector"], selector);
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"})
        );
    }

    #[test]
    fn resources_default_and_limits_are_always_set() {
        let plan = api().run::<App>().unwrap();
        assert_eq!(
            container(&plan)["resources"],
            json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
        );
        let plan =
            PlanCall::new(json!({"image": "x", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}))
                .run::<App>()
                .unwrap();
        let c = &plan.objects[0]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["resources"]["limits"], json!({"cpu": "2", "memory": "1Gi"}));
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "100m", "memory": "128Mi"}),
            "merged over the defaults"
        );
    }

    #[test]
    fn a_null_cpu_limit_drops_the_default_one_and_keeps_the_memory_limit() {
        // `resources = { limits = { cpu = null } }` in HCL: null replaces the
        // default in the merge, and the container gets no CPU limit at all.
        let plan = PlanCall::new(json!({
            "image": "registry.example.com/oob/consent:1.4.2", "port": 8080,
            "resources": {"limits": {"cpu": null}},
        }))
        .component("staging", "core", "oob-consent")
        .run::<App>()
        .unwrap();
        let resources = &container(&plan)["resources"];
        assert_eq!(
            resources,
            &json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}})
        );
        assert!(resources["limits"].get("cpu").is_none(), "no `cpu: null` left in the manifest");
    }

    #[test]
    fn pods_run_restricted_non_root_with_a_writable_tmp_only() {
        let plan = api().run::<App>().unwrap();
        let pod = &plan.expect_object("Deployment", "oob-consent")["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
        assert_ne!(pod["securityContext"]["runAsUser"], 0);
        assert_eq!(pod["automountServiceAccountToken"], false);
        let sc = &container(&plan)["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(container(&plan)["volumeMounts"], json!([{"name": "tmp", "mountPath": "/tmp"}]));
        assert_eq!(pod["volumes"], json!([{"name": "tmp", "emptyDir": {}}]));
    }

    #[test]
    fn probes_follow_the_port_and_health_path() {
        let plan = api().run::<App>().unwrap();
        assert_eq!(container(&plan)["readinessProbe"]["tcpSocket"]["port"], "http");
        let plan = PlanCall::new(json!({"image": "x", "port": 8080, "health_path": "/healthz"}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        assert_eq!(container(&plan)["livenessProbe"]["httpGet"], json!({"path": "/healthz", "port": "http"}));
        let worker = PlanCall::new(json!({"image": "x"}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        assert_eq!(
            worker.object_ids(),
            ["Deployment/oob-consent", "NetworkPolicy/oob-consent"],
            "no port, no Service"
        );
        assert!(container(&worker).get("readinessProbe").is_none());
        assert_eq!(worker.output("service_url"), None, "no service_url without a port");
        assert_eq!(worker.output("network"), None, "nothing to reach without a port");
    }

    #[test]
    fn a_health_command_probes_a_worker_and_a_worker_without_one_is_warned_of() {
        let worker = PlanCall::new(json!({"image": "x", "health_command": ["/app/healthcheck", "--quick"]}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        let c = container(&worker);
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            assert_eq!(c[probe]["exec"]["command"], json!(["/app/healthcheck", "--quick"]), "{probe}");
        }
        assert_eq!(c["startupProbe"]["failureThreshold"], 24, "startup_seconds applies to it too");
        assert!(c.get("ports").is_none());
        // With a port too, the command replaces the TCP check.
        let plan = PlanCall::new(json!({"image": "x", "port": 8080, "health_command": ["/app/healthcheck"]}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        assert_eq!(container(&plan)["livenessProbe"]["exec"]["command"], json!(["/app/healthcheck"]));
        assert!(container(&plan)["livenessProbe"].get("tcpSocket").is_none());

        let bare = json!({"image": "x", "replicas": 1,
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}});
        let warnings = App::validate(&bare);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!((warnings[0].path.as_str(), warnings[0].severity), ("/health_command", Severity::Warning));
        let mut probed = bare.clone();
        probed["health_command"] = json!(["/app/healthcheck"]);
        assert!(App::validate(&probed).is_empty());

        let both = PlanCall::new(
            json!({"image": "x", "port": 8080, "health_path": "/h", "health_command": ["/app/healthcheck"]}),
        );
        assert_eq!(invalid(both.run::<App>())[0].path, "/health_command");
        assert_eq!(
            invalid(PlanCall::new(json!({"image": "x", "health_command": [""]})).run::<App>())[0].path,
            "/health_command"
        );
    }

    #[test]
    fn the_service_url_output_names_the_cluster_dns_name() {
        let plan = api().run::<App>().unwrap();
        assert_eq!(
            plan.output("service_url"),
            Some(&json!("http://oob-consent.core.svc.cluster.local:8080"))
        );
        assert_eq!(plan.output("public_url"), None);
    }

    #[test]
    fn plain_env_is_inline_and_sensitive_env_goes_through_a_secret() {
        let plan =
            PlanCall::new(json!({"image": "x", "env": {"LOG_LEVEL": "debug", "API_TOKEN": "tok-123"}}))
                .component("staging", "core", "oob-consent")
                .sensitive("/env/API_TOKEN")
                .run::<App>()
                .unwrap();
        let deploy = plan.expect_object("Deployment", "oob-consent");
        assert_eq!(container_env(deploy, "LOG_LEVEL").unwrap()["value"], "debug");
        assert_eq!(
            container_env(deploy, "API_TOKEN").unwrap()["valueFrom"]["secretKeyRef"],
            json!({"name": "oob-consent-env", "key": "API_TOKEN"})
        );
        assert!(!deploy.to_string().contains("tok-123"), "the token must not be inline");
        let secret = plan.expect_object("Secret", "oob-consent-env");
        assert_eq!(secret["stringData"], json!({"API_TOKEN": "tok-123"}));
    }

    fn pod(plan: &ComponentPlan) -> &Value {
        &plan.expect_object("Deployment", "oob-consent")["spec"]["template"]
    }

    #[test]
    fn a_listening_app_gets_a_startup_probe_that_holds_off_liveness() {
        let plan = PlanCall::new(json!({"image": "x", "port": 8080, "health_path": "/healthz"}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        let c = container(&plan);
        assert_eq!(c["startupProbe"]["httpGet"], c["livenessProbe"]["httpGet"], "the same check");
        assert_eq!(c["startupProbe"]["periodSeconds"], 5);
        assert_eq!(c["startupProbe"]["failureThreshold"], 24, "120 s by default");
        assert!(c["livenessProbe"].get("initialDelaySeconds").is_none(), "the startup probe waits instead");
        let tuned = PlanCall::new(json!({"image": "x", "port": 8080, "startup_seconds": 31}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        assert_eq!(container(&tuned)["startupProbe"]["failureThreshold"], 7, "rounded up");
        assert_eq!(container(&tuned)["startupProbe"]["tcpSocket"]["port"], "http");
        let worker = PlanCall::new(json!({"image": "x"}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        assert!(container(&worker).get("startupProbe").is_none(), "nothing to probe without a port");
        let d = invalid(PlanCall::new(json!({"image": "x", "startup_seconds": 0})).run::<App>());
        assert_eq!(d[0].path, "/startup_seconds");
    }

    #[test]
    fn pods_spread_over_nodes_and_zones_when_there_can_be_several() {
        let plan = api().run::<App>().unwrap();
        let spread = &pod(&plan)["spec"]["topologySpreadConstraints"];
        let selector = &plan.expect_object("Deployment", "oob-consent")["spec"]["selector"];
        let keys: Vec<_> =
            spread.as_array().unwrap().iter().map(|c| c["topologyKey"].as_str().unwrap()).collect();
        assert_eq!(keys, ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
        for c in spread.as_array().unwrap() {
            assert_eq!((&c["maxSkew"], &c["whenUnsatisfiable"]), (&json!(1), &json!("ScheduleAnyway")));
            assert_eq!(&c["labelSelector"], selector, "the app's own pods");
        }
        let run = |inputs: Value| {
            let plan =
                PlanCall::new(inputs).component("staging", "core", "oob-consent").run::<App>().unwrap();
            pod(&plan)["spec"].get("topologySpreadConstraints").is_some()
        };
        assert!(!run(json!({"image": "x", "replicas": 1})), "one pod has nothing to spread");
        assert!(run(json!({"image": "x", "replicas": 1, "autoscaling": {"min": 1, "max": 3, "cpu": 70}})));
        assert!(!run(json!({"image": "x", "topology_spread": false})));
    }

    #[test]
    fn a_service_account_of_its_own_on_request_with_no_token_mounted() {
        let plain = api().run::<App>().unwrap();
        assert!(plain.objects_of_kind("ServiceAccount").is_empty());
        assert!(pod(&plain)["spec"].get("serviceAccountName").is_none(), "the namespace's default");
        assert_eq!(pod(&plain)["spec"]["automountServiceAccountToken"], false);

        let role = "arn:aws:iam::123456789012:role/oob-consent";
        let plan = PlanCall::new(json!({"image": "x", "port": 8080,
                "service_account": {"annotations": {"eks.amazonaws.com/role-arn": role}}}))
        .component("staging", "core", "oob-consent")
        .run::<App>()
        .unwrap();
        let sa = plan.expect_object("ServiceAccount", "oob-consent");
        assert_eq!(sa["metadata"]["annotations"], json!({"eks.amazonaws.com/role-arn": role}));
        assert_eq!(sa["metadata"]["labels"]["app.kubernetes.io/managed-by"], "capstan");
        assert_eq!(sa["automountServiceAccountToken"], false);
        assert_eq!(pod(&plan)["spec"]["serviceAccountName"], "oob-consent");
        assert_eq!(pod(&plan)["spec"]["automountServiceAccountToken"], false);

        let named = PlanCall::new(json!({"image": "x",
                "service_account": {"name": "consent-api", "automount_token": true}}))
        .component("staging", "core", "oob-consent")
        .run::<App>()
        .unwrap();
        assert_eq!(
            named.expect_object("ServiceAccount", "consent-api")["automountServiceAccountToken"],
            true
        );
        assert_eq!(pod(&named)["spec"]["serviceAccountName"], "consent-api");
        assert_eq!(pod(&named)["spec"]["automountServiceAccountToken"], true);

        let d = invalid(
            PlanCall::new(json!({"image": "x",
                "service_account": {"name": "Consent_API", "annotations": {"bad key!": "v"}}}))
            .run::<App>(),
        );
        let paths: Vec<_> = d.iter().map(|d| d.path.as_str()).collect();
        assert!(paths.contains(&"/service_account/name"), "{d:?}");
        assert!(paths.iter().any(|p| p.starts_with("/service_account/annotations")), "{d:?}");
    }

    #[test]
    fn the_default_health_rule_reads_the_deployment_rollout() {
        let live = json!({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}});
        assert!(matches!(App::health(&live), Health::Progressing(_)));
    }
}

mod optional_objects {
    use super::*;

    fn full() -> PlanCall {
        PlanCall::new(json!({
            "image": "x", "port": 8080,
            "autoscaling": {"min": 2, "max": 6, "cpu": 70},
            "pdb": {"min_available": 1},
            "ingress": {"host": "consent.example.com"},
            "service_monitor": {},
        }))
        .component("staging", "core", "oob-consent")
    }

    #[test]
    fn hpa_pdb_ingress_and_service_monitor_only_when_asked() {
        let plain = api().run::<App>().unwrap();
        for kind in ["HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "ServiceMonitor"] {
            assert!(plain.objects_of_kind(kind).is_empty(), "{kind} without asking");
        }
        let plan = full().run::<App>().unwrap();
        assert_eq!(
            plan.object_ids(),
            [
                "Deployment/oob-consent",
                "Service/oob-consent",
                "HorizontalPodAutoscaler/oob-consent",
                "PodDisruptionBudget/oob-consent",
                "Ingress/oob-consent",
                "ServiceMonitor/oob-consent",
                "NetworkPolicy/oob-consent",
            ]
        );
    }

    #[test]
    fn autoscaling_owns_the_replica_count() {
        let plan = full().run::<App>().unwrap();
        assert!(plan.expect_object("Deployment", "oob-consent")["spec"].get("replicas").is_none());
        let hpa = plan.expect_object("HorizontalPodAutoscaler", "oob-consent");
        assert_eq!(hpa["apiVersion"], "autoscaling/v2");
        assert_eq!(
            hpa["spec"]["scaleTargetRef"],
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "oob-consent"})
        );
        assert_eq!(
            (hpa["spec"]["minReplicas"].clone(), hpa["spec"]["maxReplicas"].clone()),
            (json!(2), json!(6))
        );
        assert_eq!(hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
    }

    #[test]
    fn an_autoscaled_app_without_a_pdb_gets_one_evicting_a_pod_at_a_time() {
        let plan = PlanCall::new(json!({"image": "x", "autoscaling": {"min": 2, "max": 6, "cpu": 70}}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        let pdb = plan.expect_object("PodDisruptionBudget", "oob-consent");
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
        assert!(pdb["spec"].get("minAvailable").is_none());
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"],
            plan.expect_object("Deployment", "oob-consent")["spec"]["selector"]["matchLabels"]
        );
        let fixed = PlanCall::new(json!({"image": "x", "replicas": 3})).run::<App>().unwrap();
        assert!(fixed.objects_of_kind("PodDisruptionBudget").is_empty(), "no autoscaler, no budget unasked");
    }

    #[test]
    fn pdb_selects_the_apps_pods() {
        let plan = full().run::<App>().unwrap();
        let pdb = plan.expect_object("PodDisruptionBudget", "oob-consent");
        assert_eq!(pdb["apiVersion"], "policy/v1");
        assert_eq!(pdb["spec"]["minAvailable"], 1);
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"],
            plan.expect_object("Deployment", "oob-consent")["spec"]["selector"]["matchLabels"]
        );
        let pct = PlanCall::new(json!({"image": "x", "pdb": {"min_available": "50%"}})).run::<App>().unwrap();
        assert_eq!(pct.expect_object("PodDisruptionBudget", "app")["spec"]["minAvailable"], "50%");
    }

    #[test]
    fn ingress_routes_to_the_service_with_tls_and_the_public_url() {
        let plan = full().run::<App>().unwrap();
        let ing = plan.expect_object("Ingress", "oob-consent");
        assert_eq!(ing["apiVersion"], "networking.k8s.io/v1");
        let rule = &ing["spec"]["rules"][0];
        assert_eq!(rule["host"], "consent.example.com");
        assert_eq!(rule["http"]["paths"][0]["pathType"], "Prefix");
        assert_eq!(
            rule["http"]["paths"][0]["backend"]["service"],
            json!({"name": "oob-consent", "port": {"name": "http"}})
        );
        assert_eq!(
            ing["spec"]["tls"],
            json!([{"hosts": ["consent.example.com"], "secretName": "oob-consent-tls"}])
        );
        assert!(ing["spec"].get("ingressClassName").is_none(), "no class without a WAF or an explicit one");
        assert_eq!(plan.output("public_url"), Some(&json!("https://consent.example.com/")));
    }

    #[test]
    fn service_monitor_scrapes_the_http_port_of_the_service() {
        let plan = full().run::<App>().unwrap();
        let sm = plan.expect_object("ServiceMonitor", "oob-consent");
        assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(sm["spec"]["endpoints"], json!([{"port": "http", "path": "/metrics", "interval": "30s"}]));
        assert_eq!(
            sm["spec"]["selector"]["matchLabels"],
            plan.expect_object("Service", "oob-consent")["spec"]["selector"]
        );
    }
}

mod dependencies {
    use super::*;

    fn postgres() -> Value {
        json!({"host": "db-rw.data.svc.cluster.local", "port": 5432, "database": "platform", "user": "platform",
               "password_secret": {"name": "db-platform", "key": "password"},
               "databases": {"oob-consent": {"database": "consent", "user": "consent_user",
                                             "password_secret": {"name": "db-consent", "key": "password"}}}})
    }

    #[test]
    fn postgres_outputs_become_database_env_with_the_password_by_reference() {
        let plan = api().dependency("db", "postgres", postgres()).run::<App>().unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        let value = |n: &str| container_env(d, n).unwrap_or_else(|| panic!("no {n}"))["value"].clone();
        assert_eq!(value("DATABASE_HOST"), "db-rw.data.svc.cluster.local");
        assert_eq!(value("DATABASE_PORT"), "5432");
        assert_eq!(value("DATABASE_NAME"), "consent", "the per-app database");
        assert_eq!(value("DATABASE_USER"), "consent_user");
        let pw = container_env(d, "DATABASE_PASSWORD").unwrap();
        assert_eq!(
            pw,
            &json!({"name": "DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-consent", "key": "password"}}})
        );
        assert_eq!(
            value("DATABASE_URL"),
            "postgresql://consent_user:$(DATABASE_PASSWORD)@db-rw.data.svc.cluster.local:5432/consent"
        );
        // $(VAR) only expands from variables defined earlier in the list.
        let names: Vec<_> = d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        let pos = |n| names.iter().position(|x| *x == n).unwrap();
        assert!(pos("DATABASE_PASSWORD") < pos("DATABASE_URL"));
    }

    #[test]
    fn the_database_url_percent_encodes_the_user_and_the_database() {
        let pg = json!({"host": "db", "port": 5432, "database": "consent/eu", "user": "a@b:c/d",
            "password_secret": {"name": "db-consent", "key": "password"}});
        let plan = api().dependency("db", "postgres", pg).run::<App>().unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert_eq!(
            container_env(d, "DATABASE_URL").unwrap()["value"],
            "postgresql://a%40b%3Ac%2Fd:$(DATABASE_PASSWORD)@db:5432/consent%2Feu"
        );
        assert_eq!(container_env(d, "DATABASE_USER").unwrap()["value"], "a@b:c/d", "the variable stays raw");
        assert_eq!(container_env(d, "DATABASE_NAME").unwrap()["value"], "consent/eu");
    }

    #[test]
    fn a_password_marked_sensitive_by_the_dependency_never_reaches_the_plan() {
        let mut outputs = contracts::outputs(
            &serde_json::from_value::<contracts::postgres::Outputs>(postgres()).unwrap(),
            &[],
        )
        .unwrap();
        outputs.push(Output {
            name: "superuser_password".into(),
            value: json!("pg-root-s3cret"),
            sensitive: true,
        });
        let plan = api().dependency_outputs("db", "postgres", outputs).run::<App>().unwrap();
        let text = serde_json::to_string(&plan).unwrap();
        assert!(!text.contains("pg-root-s3cret"));
    }

    #[test]
    fn several_postgres_dependencies_are_prefixed_by_their_names() {
        let plan = api()
            .dependency("db", "postgres", postgres())
            .dependency("reports", "postgres", postgres())
            .run::<App>()
            .unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert!(container_env(d, "DB_DATABASE_HOST").is_some());
        assert!(container_env(d, "REPORTS_DATABASE_HOST").is_some());
        assert!(container_env(d, "DATABASE_HOST").is_none());
    }

    #[test]
    fn a_password_secret_in_another_namespace_is_refused_clearly() {
        let mut pg = postgres();
        pg["databases"]["oob-consent"]["password_secret"]["namespace"] = json!("data");
        let err = api().dependency("db", "postgres", pg).run::<App>().unwrap_err();
        match err {
            PlanError::Failed(m) => {
                assert!(m.contains("Secret data/db-consent") && m.contains("`core`"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_postgres_dependency_without_a_host_is_a_missing_dependency_error() {
        let mut pg = postgres();
        pg.as_object_mut().unwrap().remove("host");
        let err = api().dependency("db", "postgres", pg).run::<App>().unwrap_err();
        assert_eq!(
            err,
            PlanError::MissingDependency(
                "dependency `db` (postgres) has unusable outputs: missing field `host`".into()
            )
        );
    }

    #[test]
    fn a_type_capstan_does_not_ship_is_wired_by_the_contract_rule() {
        let outputs = vec![
            Output { name: "host".into(), value: json!("redis.cache.svc"), sensitive: false },
            Output { name: "port".into(), value: json!(6379), sensitive: false },
            Output {
                name: "tls".into(),
                value: json!({"enabled": true, "server_name": "redis"}),
                sensitive: false,
            },
            Output {
                name: "password_secret".into(),
                value: json!({"name": "cache-auth", "key": "password"}),
                sensitive: false,
            },
            Output { name: "admin_token".into(), value: json!("tok-never-in-a-manifest"), sensitive: true },
        ];
        let plan = api().dependency_outputs("sessions", "cache", outputs).run::<App>().unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        let value =
            |name: &str| container_env(d, name).unwrap_or_else(|| panic!("no {name}"))["value"].clone();
        assert_eq!(value("SESSIONS_HOST"), "redis.cache.svc");
        assert_eq!(value("SESSIONS_PORT"), "6379");
        assert_eq!(value("SESSIONS_TLS_ENABLED"), "true");
        assert_eq!(value("SESSIONS_TLS_SERVER_NAME"), "redis");
        assert_eq!(
            container_env(d, "SESSIONS_PASSWORD_SECRET").unwrap()["valueFrom"]["secretKeyRef"],
            json!({"name": "cache-auth", "key": "password"})
        );
        assert!(container_env(d, "SESSIONS_ADMIN_TOKEN").is_none());
        assert!(!serde_json::to_string(&plan.objects).unwrap().contains("tok-never-in-a-manifest"));
    }

    #[test]
    fn a_secret_reference_of_another_namespace_is_refused_for_any_type() {
        let outputs = vec![Output {
            name: "password_secret".into(),
            value: json!({"name": "cache-auth", "key": "password", "namespace": "cache"}),
            sensitive: false,
        }];
        let err = api().dependency_outputs("sessions", "cache", outputs).run::<App>().unwrap_err();
        let PlanError::Failed(why) = err else { panic!("{err:?}") };
        assert!(
            why.contains("Secret cache/cache-auth") && why.contains("dependency `sessions` (cache)"),
            "{why}"
        );
    }

    #[test]
    fn messaging_outputs_become_broker_env_and_queue_names() {
        let plan = api()
            .dependency("broker", "messaging", json!({
                "protocol": "amqp", "endpoint": "amqp://rabbitmq.messaging.svc:5672/oob",
                "credentials_secret": {"name": "broker-oob", "username_key": "username", "password_key": "password"},
                "queues": {"consent-events": "staging.consent-events", "payments": "staging.payments"}}))
            .run::<App>()
            .unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert_eq!(container_env(d, "MESSAGING_PROTOCOL").unwrap()["value"], "amqp");
        assert_eq!(
            container_env(d, "MESSAGING_ENDPOINT").unwrap()["value"],
            "amqp://rabbitmq.messaging.svc:5672/oob"
        );
        assert_eq!(
            container_env(d, "MESSAGING_QUEUE_CONSENT_EVENTS").unwrap()["value"],
            "staging.consent-events"
        );
        assert_eq!(container_env(d, "MESSAGING_QUEUE_PAYMENTS").unwrap()["value"], "staging.payments");
        assert_eq!(
            container_env(d, "MESSAGING_PASSWORD").unwrap()["valueFrom"]["secretKeyRef"],
            json!({"name": "broker-oob", "key": "password"})
        );
        assert_eq!(
            container_env(d, "MESSAGING_USERNAME").unwrap()["valueFrom"]["secretKeyRef"]["key"],
            "username"
        );
    }

    #[test]
    fn sqs_without_credentials_gets_region_and_queue_urls_only() {
        let plan = api()
            .dependency(
                "broker",
                "messaging",
                json!({
                "protocol": "sqs", "endpoint": "https://sqs.sa-east-1.amazonaws.com", "region": "sa-east-1",
                "queues": {"payments": "https://sqs.sa-east-1.amazonaws.com/123456789012/prod-payments"}}),
            )
            .run::<App>()
            .unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert_eq!(container_env(d, "MESSAGING_REGION").unwrap()["value"], "sa-east-1");
        assert!(container_env(d, "MESSAGING_PASSWORD").is_none());
    }

    #[test]
    fn dapr_adds_sidecar_annotations_and_component_names() {
        let plan = api()
            .dependency("dapr", "dapr", json!({"pubsub": "pubsub", "statestore": "statestore"}))
            .run::<App>()
            .unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert_eq!(
            d["spec"]["template"]["metadata"]["annotations"],
            json!({"dapr.io/app-id": "oob-consent", "dapr.io/app-port": "8080", "dapr.io/enabled": "true"})
        );
        assert_eq!(container_env(d, "DAPR_PUBSUB_NAME").unwrap()["value"], "pubsub");
        assert!(api().run::<App>().unwrap().expect_object("Deployment", "oob-consent")["spec"]["template"]["metadata"]
            .get("annotations").is_none());
    }

    #[test]
    fn the_dapr_configuration_the_dependency_names_is_attached() {
        let plan = api()
            .dependency("dapr", "dapr", json!({"pubsub": "pubsub", "configuration": "tracing-mtls"}))
            .run::<App>()
            .unwrap();
        let annotations =
            &plan.expect_object("Deployment", "oob-consent")["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["dapr.io/config"], "tracing-mtls");
        let err = api().dependency("dapr", "dapr", json!({"configuration": 3})).run::<App>().unwrap_err();
        assert!(
            matches!(&err, PlanError::MissingDependency(m) if m.contains("`configuration`") && m.contains("`dapr`")),
            "{err:?}"
        );
    }

    fn with_ingress() -> PlanCall {
        PlanCall::new(json!({"image": "x", "port": 8080, "ingress": {"host": "consent.example.com"}}))
            .component("production", "core", "oob-consent")
    }

    #[test]
    fn waf_and_cert_manager_shape_the_ingress() {
        let plan = with_ingress()
            .dependency(
                "waf",
                "waf",
                json!({"ingress_class": "nginx-waf", "annotations": {
                "nginx.ingress.kubernetes.io/enable-modsecurity": "true",
                "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on"}}),
            )
            .dependency(
                "certs",
                "cert-manager",
                json!({"issuer": {"kind": "ClusterIssuer", "name": "regulated-ca"}}),
            )
            .run::<App>()
            .unwrap();
        let ing = plan.expect_object("Ingress", "oob-consent");
        assert_eq!(ing["spec"]["ingressClassName"], "nginx-waf");
        let ann = &ing["metadata"]["annotations"];
        assert_eq!(ann["nginx.ingress.kubernetes.io/enable-modsecurity"], "true");
        assert_eq!(ann["nginx.ingress.kubernetes.io/auth-tls-verify-client"], "on");
        assert_eq!(ann["cert-manager.io/cluster-issuer"], "regulated-ca");
        assert_eq!(ing["spec"]["tls"][0]["secretName"], "oob-consent-tls");
    }

    #[test]
    fn a_namespaced_issuer_uses_the_issuer_annotation_and_no_tls_means_no_issuer() {
        let certs = json!({"issuer": {"kind": "Issuer", "name": "acme-staging"}});
        let plan = with_ingress().dependency("certs", "cert-manager", certs.clone()).run::<App>().unwrap();
        assert_eq!(
            plan.expect_object("Ingress", "oob-consent")["metadata"]["annotations"],
            json!({"cert-manager.io/issuer": "acme-staging"})
        );
        let plain = PlanCall::new(
            json!({"image": "x", "port": 8080, "ingress": {"host": "h.example.com", "tls": false}}),
        )
        .dependency("certs", "cert-manager", certs)
        .run::<App>()
        .unwrap();
        let ing = plain.expect_object("Ingress", "app");
        assert!(ing["spec"].get("tls").is_none() && ing["metadata"].get("annotations").is_none());
        assert_eq!(plain.output("public_url"), Some(&json!("http://h.example.com/")));
    }

    #[test]
    fn an_ingress_class_that_would_bypass_the_waf_is_refused() {
        let err = PlanCall::new(
            json!({"image": "x", "port": 8080, "ingress": {"host": "h.example.com", "class": "nginx"}}),
        )
        .dependency("waf", "waf", json!({"ingress_class": "nginx-waf"}))
        .run::<App>();
        let d = invalid(err);
        assert_eq!(d[0].path, "/ingress/class");
        assert!(d[0].message.contains("bypass the WAF"), "{}", d[0].message);
    }

    #[test]
    fn two_wafs_are_ambiguous() {
        let waf = json!({"ingress_class": "a"});
        let err = with_ingress()
            .dependency("w1", "waf", waf.clone())
            .dependency("w2", "waf", waf)
            .run::<App>()
            .unwrap_err();
        assert!(matches!(err, PlanError::Failed(m) if m.contains("`w1` and `w2`")));
    }

    #[test]
    fn another_apps_service_url_becomes_env() {
        let plan = api()
            .dependency(
                "directory",
                "app",
                json!({"service_url": "http://oob-directory-sync.core.svc.cluster.local:8080"}),
            )
            .run::<App>()
            .unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert_eq!(
            container_env(d, "DIRECTORY_SERVICE_URL").unwrap()["value"],
            "http://oob-directory-sync.core.svc.cluster.local:8080"
        );
    }

    /// Two apps with sidecars talk through them (Dapr service invocation,
    /// mutual TLS between the sidecars); without a sidecar on either side,
    /// straight to the Service. The callee says its Dapr id.
    #[test]
    fn apps_with_sidecars_call_each_other_through_dapr() {
        let callee = json!({"service_url": "http://oob-directory-sync.core.svc.cluster.local:8080",
                            "dapr_invoke_id": "oob-directory-sync.core"});
        let dapr = json!({"pubsub": "pubsub"});
        let url = |plan: &ComponentPlan| {
            container_env(plan.expect_object("Deployment", "oob-consent"), "DIRECTORY_SERVICE_URL").unwrap()["value"]
                .clone()
        };
        let both = api().dependency("directory", "app", callee.clone()).dependency("dapr", "dapr", dapr);
        let both = both.run::<App>().unwrap();
        assert_eq!(url(&both), "http://localhost:3500/v1.0/invoke/oob-directory-sync.core/method");
        let caller_without = api().dependency("directory", "app", callee).run::<App>().unwrap();
        assert_eq!(url(&caller_without), "http://oob-directory-sync.core.svc.cluster.local:8080");
    }

    #[test]
    fn an_app_with_a_sidecar_says_its_dapr_id_and_one_without_does_not() {
        let with = api().dependency("dapr", "dapr", json!({"pubsub": "pubsub"})).run::<App>().unwrap();
        assert_eq!(with.output("dapr_invoke_id"), Some(&json!("oob-consent.core")));
        assert_eq!(api().run::<App>().unwrap().output("dapr_invoke_id"), None);
    }

    #[test]
    fn the_operators_env_overrides_a_dependency_value_without_duplicates() {
        let plan = PlanCall::new(json!({"image": "x", "env": {"DATABASE_HOST": "pgbouncer.data.svc"}}))
            .dependency("db", "postgres", postgres())
            .run::<App>()
            .unwrap();
        let env =
            plan.objects[0]["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap().clone();
        let hosts: Vec<_> = env.iter().filter(|e| e["name"] == "DATABASE_HOST").collect();
        assert_eq!(hosts, [&json!({"name": "DATABASE_HOST", "value": "pgbouncer.data.svc"})]);
    }

    /// A log collector: its push endpoint, the CA to verify it with, and its
    /// pods, with the CA in the collector's namespace or the app's.
    fn logs(ca_namespace: &str) -> Value {
        json!({"collector_endpoint": "tls://logs.platform.svc.cluster.local:24224", "labels": [],
               "ca_secret": {"name": "logs-tls", "key": "ca.crt", "namespace": ca_namespace},
               "network": [{"namespace": "platform", "pod_labels": {"app.kubernetes.io/name": "logs"},
                            "ports": [24224]}]})
    }

    #[test]
    fn a_log_collector_gives_its_endpoint_its_ca_file_and_the_egress_to_reach_it() {
        let plan = api().dependency("logs", "logs", logs("core")).run::<App>().unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        let value = |n: &str| container_env(d, n).unwrap_or_else(|| panic!("no {n}"))["value"].clone();
        assert_eq!(value("LOGS_ENDPOINT"), "tls://logs.platform.svc.cluster.local:24224");
        assert_eq!(value("LOGS_CA_CERT_FILE"), "/var/run/capstan/logs/ca.crt");
        let volumes = d["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
        assert!(volumes.iter().any(|v| v["secret"]["secretName"] == "logs-tls"), "{volumes:?}");
        let egress = &plan.expect_object("NetworkPolicy", "oob-consent")["spec"]["egress"];
        assert!(
            egress
                .as_array()
                .unwrap()
                .iter()
                .any(|rule| rule["ports"] == json!([{"protocol": "TCP", "port": 24224}])
                    && rule["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                        == "platform"),
            "{egress}"
        );
    }

    #[test]
    fn a_collectors_ca_in_another_namespace_is_not_mounted_and_the_plan_still_works() {
        let plan = api().dependency("logs", "logs", logs("platform")).run::<App>().unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert!(container_env(d, "LOGS_ENDPOINT").is_some());
        assert!(
            container_env(d, "LOGS_CA_CERT_FILE").is_none(),
            "a pod cannot mount another namespace's Secret"
        );
    }
}

mod identity {
    use super::*;

    /// What `capstan/vault-openbao` publishes for `oob-consent` in `core`
    /// with every engine and both auth methods.
    fn vault() -> Value {
        json!({"address": "https://openbao.security.svc:8200",
               "mounts": {"pki": "pki", "database": "database", "kv": "secret"},
               "auth": {"kubernetes": "kubernetes", "jwt": "jwt", "jwt_audience": "openbao.staging.example"},
               "apps": {"oob-consent": {"policy": "capstan-staging-oob-consent", "pki_role": "oob-consent",
                   "database_role": "oob-consent", "kubernetes_role": "oob-consent", "jwt_role": "oob-consent",
                   "spiffe_id": "spiffe://staging.example/ns/core/sa/oob-consent",
                   "namespace": "core", "service_account": "oob-consent"}},
               "network": [{"namespace": "security", "pod_labels": {"app.kubernetes.io/name": "openbao"},
                            "ports": [8200]}]})
    }

    /// What `capstan/spire` publishes with `oob-consent` registered in `core`.
    fn spire() -> Value {
        json!({"trust_domain": "staging.example", "server_address": "spire-server.spire.svc:8081",
               "workload_api_socket": {"volume": "host-path", "host_path": "/run/spire/agent-sockets",
                   "mount_path": "/spiffe-workload-api", "socket_path": "/spiffe-workload-api/spire-agent.sock",
                   "endpoint": "unix:///spiffe-workload-api/spire-agent.sock"},
               "apps": {"oob-consent": {"spiffe_id": "spiffe://staging.example/ns/core/sa/oob-consent",
                                        "namespace": "core", "service_account": "oob-consent"}},
               "network": [{"namespace": "spire", "pod_labels": {"app.kubernetes.io/name": "spire-server"},
                            "ports": [8081]}]})
    }

    /// `outputs` as a backend older than the contract's `namespace`,
    /// `service_account` and `jwt_audience` publishes them.
    fn older(mut outputs: Value) -> Value {
        for entry in outputs["apps"].as_object_mut().unwrap().values_mut() {
            let entry = entry.as_object_mut().unwrap();
            entry.remove("namespace");
            entry.remove("service_account");
        }
        if let Some(auth) = outputs.get_mut("auth") {
            auth.as_object_mut().unwrap().remove("jwt_audience");
        }
        outputs
    }

    /// `outputs` with the entry of `oob-consent` saying these pods.
    fn for_pods(mut outputs: Value, namespace: &str, service_account: &str) -> Value {
        let entry = &mut outputs["apps"]["oob-consent"];
        entry["namespace"] = json!(namespace);
        entry["service_account"] = json!(service_account);
        outputs
    }

    fn deployment(plan: &ComponentPlan) -> &Value {
        plan.expect_object("Deployment", "oob-consent")
    }

    fn pod_spec(plan: &ComponentPlan) -> &Value {
        &deployment(plan)["spec"]["template"]["spec"]
    }

    fn value(plan: &ComponentPlan, name: &str) -> Value {
        container_env(deployment(plan), name).unwrap_or_else(|| panic!("no {name}"))["value"].clone()
    }

    fn names(plan: &ComponentPlan) -> Vec<String> {
        container(plan)["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn refusal(result: Result<ComponentPlan, PlanError>) -> String {
        match result {
            Err(PlanError::MissingDependency(why)) => why,
            other => panic!("expected a dependency error, got {other:?}"),
        }
    }

    #[test]
    fn vault_gives_its_address_a_kubernetes_login_the_apps_paths_and_the_egress_to_reach_it() {
        let plan = api().dependency("vault", "vault", vault()).run::<App>().unwrap();
        assert_eq!(value(&plan, "VAULT_ADDR"), "https://openbao.security.svc:8200");
        assert_eq!(value(&plan, "VAULT_AUTH_METHOD"), "kubernetes", "no spire dependency: no JWT-SVID");
        assert_eq!(value(&plan, "VAULT_AUTH_PATH"), "auth/kubernetes");
        assert_eq!(value(&plan, "VAULT_AUTH_ROLE"), "oob-consent");
        assert_eq!(value(&plan, "VAULT_PKI_ISSUE_PATH"), "pki/issue/oob-consent");
        assert_eq!(value(&plan, "VAULT_DATABASE_CREDS_PATH"), "database/creds/oob-consent");
        assert_eq!(value(&plan, "VAULT_KV_PATH"), "secret/data/staging/oob-consent");
        assert!(
            names(&plan).iter().all(|n| !n.starts_with("VAULT_APPS") && n != "VAULT_ADDRESS"),
            "read by its contract, not wired as any type's outputs: {:?}",
            names(&plan)
        );
        let egress = &plan.expect_object("NetworkPolicy", "oob-consent")["spec"]["egress"];
        assert_eq!(
            egress[1],
            json!({"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "security"}},
                           "podSelector": {"matchLabels": {"app.kubernetes.io/name": "openbao"}}}],
                   "ports": [{"protocol": "TCP", "port": 8200}]})
        );
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn kubernetes_auth_runs_the_pods_as_the_apps_own_service_account_with_its_token_mounted() {
        let plan = api().dependency("vault", "vault", vault()).run::<App>().unwrap();
        let sa = plan.expect_object("ServiceAccount", "oob-consent");
        assert_eq!(sa["metadata"]["namespace"], "core");
        assert_eq!(sa["automountServiceAccountToken"], true);
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "oob-consent", "the role's bound ServiceAccount");
        assert_eq!(pod_spec(&plan)["automountServiceAccountToken"], true, "the login presents the token");
        assert!(
            pod_spec(&plan)["volumes"].as_array().unwrap().iter().all(|v| v["name"] != "spiffe-workload-api")
        );

        // The operator's ServiceAccount settings stay; the token is mounted all the same.
        let role = "arn:aws:iam::123456789012:role/oob-consent";
        let named = PlanCall::new(json!({"image": "x", "port": 8080,
                "service_account": {"annotations": {"eks.amazonaws.com/role-arn": role}}}))
        .component("staging", "core", "oob-consent")
        .dependency("vault", "vault", vault())
        .run::<App>()
        .unwrap();
        let sa = named.expect_object("ServiceAccount", "oob-consent");
        assert_eq!(sa["metadata"]["annotations"], json!({"eks.amazonaws.com/role-arn": role}));
        assert_eq!(pod_spec(&named)["automountServiceAccountToken"], true);
    }

    #[test]
    fn vault_and_spire_log_in_with_the_jwt_svid_from_the_mounted_workload_api_socket() {
        let plan = api()
            .dependency("vault", "vault", vault())
            .dependency("spire", "spire", spire())
            .run::<App>()
            .unwrap();
        assert_eq!(value(&plan, "VAULT_AUTH_METHOD"), "jwt");
        assert_eq!(value(&plan, "VAULT_AUTH_PATH"), "auth/jwt");
        assert_eq!(value(&plan, "VAULT_AUTH_ROLE"), "oob-consent");
        assert_eq!(value(&plan, "SPIFFE_ENDPOINT_SOCKET"), "unix:///spiffe-workload-api/spire-agent.sock");
        assert_eq!(value(&plan, "SPIFFE_ID"), "spiffe://staging.example/ns/core/sa/oob-consent");
        assert_eq!(value(&plan, "SPIFFE_TRUST_DOMAIN"), "staging.example");
        assert!(names(&plan).iter().all(|n| !n.starts_with("SPIRE_")), "{:?}", names(&plan));

        let volumes = pod_spec(&plan)["volumes"].as_array().unwrap();
        let socket =
            volumes.iter().find(|v| v["name"] == "spiffe-workload-api").expect("the socket's volume");
        assert_eq!(socket["hostPath"], json!({"path": "/run/spire/agent-sockets", "type": "Directory"}));
        let mounts = container(&plan)["volumeMounts"].as_array().unwrap();
        assert!(
            mounts.contains(
                &json!({"name": "spiffe-workload-api", "mountPath": "/spiffe-workload-api", "readOnly": true})
            ),
            "{mounts:?}"
        );

        // The SPIFFE ID selects the ServiceAccount; nothing presents its token.
        let sa = plan.expect_object("ServiceAccount", "oob-consent");
        assert_eq!(sa["automountServiceAccountToken"], false);
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "oob-consent");
        assert_eq!(pod_spec(&plan)["automountServiceAccountToken"], false);
        let sc = &container(&plan)["securityContext"];
        assert_eq!((&sc["runAsNonRoot"], &sc["readOnlyRootFilesystem"]), (&json!(true), &json!(true)));
    }

    #[test]
    fn spire_alone_mounts_the_socket_and_a_csi_socket_is_a_csi_volume() {
        let mut csi = spire();
        csi["workload_api_socket"] = json!({"volume": "csi", "csi_driver": "csi.spiffe.io",
            "mount_path": "/spiffe-workload-api", "socket_path": "/spiffe-workload-api/spire-agent.sock",
            "endpoint": "unix:///spiffe-workload-api/spire-agent.sock"});
        let plan = api().dependency("spire", "spire", csi).run::<App>().unwrap();
        let volumes = pod_spec(&plan)["volumes"].as_array().unwrap();
        assert!(
            volumes.contains(
                &json!({"name": "spiffe-workload-api", "csi": {"driver": "csi.spiffe.io", "readOnly": true}})
            ),
            "{volumes:?}"
        );
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "oob-consent");
        assert!(container_env(deployment(&plan), "VAULT_ADDR").is_none());
        let egress = &plan.expect_object("NetworkPolicy", "oob-consent")["spec"]["egress"];
        assert_eq!(egress.as_array().unwrap().len(), 2, "DNS and the spire `network`: {egress}");
    }

    #[test]
    fn an_app_missing_from_the_vaults_or_spires_apps_is_refused_saying_what_to_add() {
        let mut other = vault();
        other["apps"] = json!({"oob-payments": {"policy": "capstan-staging-oob-payments"}});
        assert_eq!(
            refusal(api().dependency("secrets", "vault", other).run::<App>()),
            "vault dependency `secrets` has no policy or roles for `oob-consent` in its `apps` output, so the app \
             could not log in; add the app to the vault component's `apps` (`apps = { oob-consent = {} }`)"
        );
        let mut unregistered = spire();
        unregistered.as_object_mut().unwrap().remove("apps");
        assert_eq!(
            refusal(api().dependency("identity", "spire", unregistered).run::<App>()),
            "spire dependency `identity` has no SPIFFE ID for `oob-consent` in its `apps` output, so its pods \
             would get no identity; add the app to the spire component's `apps` (`apps = { oob-consent = {} }`)"
        );
    }

    #[test]
    fn a_spiffe_id_for_other_pods_than_the_apps_is_refused_naming_the_fix() {
        // Registered in the spire component's own namespace, its default.
        let mut elsewhere = for_pods(spire(), "spire", "oob-consent");
        elsewhere["apps"]["oob-consent"]["spiffe_id"] =
            json!("spiffe://staging.example/ns/spire/sa/oob-consent");
        let why = refusal(api().dependency("spire", "spire", elsewhere).run::<App>());
        assert!(
            why.contains("namespace `spire`")
                && why.contains("in namespace `core`")
                && why.contains("set `apps.oob-consent.namespace = \"core\"` in the spire component"),
            "{why}"
        );
        // The operator named the ServiceAccount, the registration did not.
        let named = PlanCall::new(json!({"image": "x", "service_account": {"name": "consent-api"}}))
            .component("staging", "core", "oob-consent")
            .dependency("spire", "spire", spire());
        let why = refusal(named.run::<App>());
        assert!(
            why.contains("run as ServiceAccount `consent-api`")
                && why.contains("`apps.oob-consent.service_account = \"consent-api\"`"),
            "{why}"
        );
        // An ID of another form names no ServiceAccount and is taken as it is.
        let mut custom = spire();
        custom["apps"]["oob-consent"]["spiffe_id"] = json!("spiffe://staging.example/consent");
        let plan = api().dependency("spire", "spire", custom).run::<App>().unwrap();
        assert_eq!(value(&plan, "SPIFFE_ID"), "spiffe://staging.example/consent");
    }

    #[test]
    fn the_pods_run_as_the_service_account_the_spire_entry_names() {
        // Registered for ServiceAccount `consent-api`: the pods run as it,
        // with no `service_account` of the app's own.
        let plan = api()
            .dependency("spire", "spire", for_pods(spire(), "core", "consent-api"))
            .dependency("vault", "vault", for_pods(vault(), "core", "consent-api"))
            .run::<App>()
            .unwrap();
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "consent-api");
        let sa = plan.expect_object("ServiceAccount", "consent-api");
        assert_eq!(sa["metadata"]["namespace"], "core");
        assert!(
            plan.object("ServiceAccount", "oob-consent").is_none(),
            "no ServiceAccount of the app's name"
        );
        assert_eq!(value(&plan, "VAULT_AUTH_METHOD"), "jwt");

        // The fields, not the ID, say which pods: an ID of another form.
        let mut custom = for_pods(spire(), "core", "consent-api");
        custom["apps"]["oob-consent"]["spiffe_id"] = json!("spiffe://staging.example/consent");
        let plan = api().dependency("spire", "spire", custom).run::<App>().unwrap();
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "consent-api");
        assert_eq!(value(&plan, "SPIFFE_ID"), "spiffe://staging.example/consent");

        // Vault alone, with Kubernetes auth: the ServiceAccount its role binds, token mounted.
        let plan = api()
            .dependency("vault", "vault", for_pods(vault(), "core", "consent-api"))
            .run::<App>()
            .unwrap();
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "consent-api");
        assert_eq!(plan.expect_object("ServiceAccount", "consent-api")["automountServiceAccountToken"], true);
        assert_eq!(value(&plan, "VAULT_AUTH_METHOD"), "kubernetes");
    }

    #[test]
    fn an_older_backend_names_the_pods_by_its_spiffe_id_only() {
        // No `namespace` or `service_account`: the ID's `/ns/<ns>/sa/<sa>` says them.
        let mut worker = older(spire());
        worker["apps"]["oob-consent"]["spiffe_id"] =
            json!("spiffe://staging.example/ns/core/sa/consent-worker");
        let plan = api()
            .dependency("spire", "spire", worker.clone())
            .dependency("vault", "vault", older(vault()))
            .run::<App>();
        let why = refusal(plan);
        assert!(
            why.contains("Vault would refuse its JWT-SVID"),
            "the JWT role's SPIFFE ID is still checked: {why}"
        );
        let plan = api().dependency("spire", "spire", worker).run::<App>().unwrap();
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "consent-worker");

        // And an ID of the app's pods, with an older vault: as before.
        let plan = api()
            .dependency("spire", "spire", older(spire()))
            .dependency("vault", "vault", older(vault()))
            .run::<App>()
            .unwrap();
        assert_eq!(pod_spec(&plan)["serviceAccountName"], "oob-consent");
        assert_eq!(value(&plan, "VAULT_AUTH_METHOD"), "jwt");
        assert!(
            container_env(deployment(&plan), "VAULT_AUTH_AUDIENCE").is_none(),
            "an older vault does not say the audience"
        );

        // Registered in another namespace: refused as when the fields say it.
        let mut elsewhere = older(spire());
        elsewhere["apps"]["oob-consent"]["spiffe_id"] =
            json!("spiffe://staging.example/ns/spire/sa/oob-consent");
        let why = refusal(api().dependency("spire", "spire", elsewhere).run::<App>());
        assert!(why.contains("set `apps.oob-consent.namespace = \"core\"` in the spire component"), "{why}");
    }

    #[test]
    fn spire_and_vault_entries_for_other_pods_are_refused_naming_the_dependency_and_the_fix() {
        // They disagree on the ServiceAccount: the app runs as spire's.
        let why = refusal(
            api()
                .dependency("identity", "spire", for_pods(spire(), "core", "consent-api"))
                .dependency("secrets", "vault", vault())
                .run::<App>(),
        );
        assert_eq!(
            why,
            "vault dependency `secrets` binds the Kubernetes auth role `oob-consent` of `oob-consent` to the pods \
             of ServiceAccount `oob-consent` in namespace `core`, but the app's pods run as ServiceAccount \
             `consent-api` (the one spire dependency `identity` names) in namespace `core` and Vault would refuse \
             their token; set `apps.oob-consent.service_account = \"consent-api\"` in the vault component, or \
             `apps.oob-consent.service_account = \"oob-consent\"` in the spire component"
        );

        // Vault's entry in another namespace (the vault component's, its default).
        let why = refusal(
            api()
                .dependency("spire", "spire", spire())
                .dependency("vault", "vault", for_pods(vault(), "security", "oob-consent"))
                .run::<App>(),
        );
        assert!(
            why.starts_with("vault dependency `vault`")
                && why.contains("in namespace `security`")
                && why.ends_with("set `apps.oob-consent.namespace = \"core\"` in the vault component"),
            "{why}"
        );

        // The app names its ServiceAccount, the vault entry another one.
        let named = PlanCall::new(json!({"image": "x", "service_account": {"name": "consent-api"}}))
            .component("staging", "core", "oob-consent")
            .dependency("vault", "vault", vault());
        let why = refusal(named.run::<App>());
        assert!(
            why.contains(
                "run as ServiceAccount `consent-api` in namespace `core` and Vault would refuse their token"
            ) && why.ends_with(
                "set `apps.oob-consent.service_account = \"consent-api\"` in the vault component, or the \
                     app's `service_account.name` to `oob-consent`"
            ),
            "{why}"
        );

        // Both wrong in spire: both settings named.
        let named = PlanCall::new(json!({"image": "x", "service_account": {"name": "consent-api"}}))
            .component("staging", "core", "oob-consent")
            .dependency("spire", "spire", for_pods(spire(), "spire", "api"));
        let why = refusal(named.run::<App>());
        assert!(
            why.ends_with(
                "set `apps.oob-consent.namespace = \"core\"` and `apps.oob-consent.service_account = \
                 \"consent-api\"` in the spire component"
            ),
            "{why}"
        );
    }

    #[test]
    fn a_jwt_login_is_told_the_audience_to_ask_its_jwt_svid_for() {
        let plan = api()
            .dependency("vault", "vault", vault())
            .dependency("spire", "spire", spire())
            .run::<App>()
            .unwrap();
        assert_eq!(value(&plan, "VAULT_AUTH_METHOD"), "jwt");
        assert_eq!(value(&plan, "VAULT_AUTH_AUDIENCE"), "openbao.staging.example");
        let names = names(&plan);
        let at = |name: &str| names.iter().position(|n| n == name).unwrap();
        assert_eq!(at("VAULT_AUTH_AUDIENCE"), at("VAULT_AUTH_ROLE") + 1, "beside the rest of the login");

        // Kubernetes auth presents the pod's token: no audience to ask for.
        let plan = api().dependency("vault", "vault", vault()).run::<App>().unwrap();
        assert_eq!(value(&plan, "VAULT_AUTH_METHOD"), "kubernetes");
        assert!(container_env(deployment(&plan), "VAULT_AUTH_AUDIENCE").is_none());
    }

    #[test]
    fn a_jwt_role_bound_to_another_spiffe_id_is_refused() {
        let mut stale = vault();
        stale["apps"]["oob-consent"]["spiffe_id"] = json!("spiffe://staging.example/ns/core/sa/old");
        let why = refusal(
            api().dependency("vault", "vault", stale).dependency("spire", "spire", spire()).run::<App>(),
        );
        assert!(
            why.contains("Vault would refuse its JWT-SVID")
                && why.contains(
                    "set `apps.oob-consent.spiffe_id = \"spiffe://staging.example/ns/core/sa/oob-consent\"`"
                ),
            "{why}"
        );
    }

    #[test]
    fn a_vault_with_no_login_the_app_can_use_is_a_warning_and_no_auth_variables() {
        let mut jwt_only = vault();
        jwt_only["auth"] = json!({"jwt": "jwt"});
        jwt_only["apps"]["oob-consent"].as_object_mut().unwrap().remove("kubernetes_role");
        let plan = api().dependency("vault", "vault", jwt_only).run::<App>().unwrap();
        assert!(names(&plan).iter().all(|n| !n.starts_with("VAULT_AUTH")), "{:?}", names(&plan));
        assert_eq!(value(&plan, "VAULT_ADDR"), "https://openbao.security.svc:8200");
        assert_eq!(plan.warnings.len(), 1);
        assert_eq!((plan.warnings[0].path.as_str(), plan.warnings[0].severity), ("", Severity::Warning));
        assert!(
            plan.warnings[0].message.contains("add a `spire` dependency to the app"),
            "{}",
            plan.warnings[0].message
        );
        assert!(plan.objects_of_kind("ServiceAccount").is_empty(), "nothing binds a ServiceAccount");
        assert_eq!(pod_spec(&plan)["automountServiceAccountToken"], false);
    }

    #[test]
    fn paths_of_engines_the_vault_lacks_are_left_out_and_two_vaults_are_ambiguous() {
        let mut kv_only = vault();
        kv_only["mounts"] = json!({"kv": "kv"});
        let plan = api().dependency("vault", "vault", kv_only).run::<App>().unwrap();
        assert_eq!(value(&plan, "VAULT_KV_PATH"), "kv/data/staging/oob-consent");
        assert!(container_env(deployment(&plan), "VAULT_PKI_ISSUE_PATH").is_none());
        assert!(container_env(deployment(&plan), "VAULT_DATABASE_CREDS_PATH").is_none());

        let err = api()
            .dependency("a", "vault", vault())
            .dependency("b", "vault", vault())
            .run::<App>()
            .unwrap_err();
        assert!(matches!(&err, PlanError::Failed(m) if m.contains("one `vault` dependency")), "{err:?}");
        let err = api()
            .dependency("a", "spire", spire())
            .dependency("b", "spire", spire())
            .run::<App>()
            .unwrap_err();
        assert!(matches!(&err, PlanError::Failed(m) if m.contains("`a` and `b`")), "{err:?}");
    }
}

mod network_policies {
    use super::*;

    /// The selector of the app `oob-consent`'s pods, as every policy names them.
    fn consent_pods() -> Value {
        json!({"app.kubernetes.io/component": "server", "app.kubernetes.io/instance": "oob-consent",
               "app.kubernetes.io/name": "oob-consent"})
    }

    fn policy(plan: &ComponentPlan) -> &Value {
        &plan.expect_object("NetworkPolicy", "oob-consent")["spec"]
    }

    fn pods(namespace: &str, labels: Value) -> Value {
        json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
               "podSelector": {"matchLabels": labels}})
    }

    fn tcp(ports: &[u16]) -> Value {
        ports.iter().map(|p| json!({"protocol": "TCP", "port": p})).collect()
    }

    fn dns() -> Value {
        json!({"to": [pods("kube-system", json!({"k8s-app": "kube-dns"}))],
               "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]})
    }

    const ANYWHERE: [&str; 2] = ["0.0.0.0/0", "::/0"];

    fn anywhere() -> Value {
        ANYWHERE.iter().map(|cidr| json!({"ipBlock": {"cidr": cidr}})).collect()
    }

    #[test]
    fn an_app_alone_is_isolated_both_ways_and_reaches_dns_only() {
        let plan = api().run::<App>().unwrap();
        let np = plan.expect_object("NetworkPolicy", "oob-consent");
        assert_eq!(np["apiVersion"], "networking.k8s.io/v1");
        assert_eq!(np["metadata"]["namespace"], "core");
        assert_eq!(np["spec"]["podSelector"], json!({"matchLabels": consent_pods()}));
        assert_eq!(
            np["spec"]["podSelector"]["matchLabels"],
            plan.expect_object("Deployment", "oob-consent")["spec"]["selector"]["matchLabels"],
            "the policy selects exactly the Deployment's pods"
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert!(np["spec"].get("ingress").is_none(), "no ingress rule: nothing may connect");
        assert_eq!(np["spec"]["egress"], json!([dns()]));
        assert_eq!(plan.output("network_policies"), Some(&json!(true)));
    }

    #[test]
    fn every_dependencys_network_becomes_one_egress_rule_per_peer() {
        let db = json!({"namespace": "data", "pod_labels": {"cnpg.io/cluster": "db"}, "ports": [5432]});
        let plan = api()
            .dependency("db", "postgres", json!({"host": "db-rw.data.svc", "port": 5432, "database": "a",
                "user": "a", "password_secret": {"name": "db-a", "key": "password"}, "network": [db]}))
            .dependency("broker", "messaging", json!({"protocol": "kafka", "endpoint": "b:9093",
                "network": [{"namespace": "kafka", "pod_labels": {"strimzi.io/cluster": "bus"}, "ports": [9093]}]}))
            .dependency("dapr", "dapr", json!({"pubsub": "pubsub", "network": [
                {"namespace": "dapr-system", "pod_labels": {"app": "dapr-sentry"}, "ports": [50001]},
                // The state store's server again, on another port: one rule, both ports.
                {"namespace": "data", "pod_labels": {"cnpg.io/cluster": "db"}, "ports": [5432, 8000]},
                {"ports": [443]},
            ]}))
            .run::<App>()
            .unwrap();
        assert_eq!(
            policy(&plan)["egress"],
            json!([
                dns(),
                {"to": [pods("dapr-system", json!({"app": "dapr-sentry"}))], "ports": tcp(&[50001])},
                {"to": [pods("data", json!({"cnpg.io/cluster": "db"}))], "ports": tcp(&[5432, 8000])},
                {"to": [pods("kafka", json!({"strimzi.io/cluster": "bus"}))], "ports": tcp(&[9093])},
                {"to": anywhere(), "ports": tcp(&[443])},
            ])
        );
    }

    #[test]
    fn a_public_app_is_reached_by_the_ingress_controller_and_prometheus_on_its_port_only() {
        let controller =
            json!({"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"});
        let plan =
            PlanCall::new(json!({"image": "x", "port": 8080, "ingress": {"host": "consent.example.com"},
                                        "service_monitor": {}}))
            .component("production", "core", "oob-consent")
            .dependency(
                "waf",
                "waf",
                json!({"ingress_class": "nginx",
                "ingress_from": [{"namespace": "ingress-nginx", "pod_labels": controller}]}),
            )
            .run::<App>()
            .unwrap();
        assert_eq!(
            policy(&plan)["ingress"],
            json!([
                {"from": [pods("ingress-nginx", controller)], "ports": tcp(&[8080])},
                {"from": [pods("monitoring", json!({"app.kubernetes.io/name": "prometheus"}))], "ports": tcp(&[8080])},
            ])
        );
    }

    #[test]
    fn behind_a_waf_that_names_no_pods_the_port_is_open_to_every_address() {
        // A cloud load balancer (the AWS WAF's ALB) sends from outside the cluster.
        let ingress = json!({"image": "x", "port": 8080, "ingress": {"host": "consent.example.com"}});
        let plan = PlanCall::new(ingress.clone())
            .component("production", "core", "oob-consent")
            .dependency("waf", "waf", json!({"ingress_class": "alb"}))
            .run::<App>()
            .unwrap();
        assert_eq!(policy(&plan)["ingress"], json!([{"ports": tcp(&[8080])}]));
        let without_waf =
            PlanCall::new(ingress).component("production", "core", "oob-consent").run::<App>().unwrap();
        assert_eq!(policy(&without_waf)["ingress"], json!([{"ports": tcp(&[8080])}]));
    }

    #[test]
    fn the_network_output_names_the_pods_the_port_and_the_dapr_sidecar() {
        let plain = api().run::<App>().unwrap();
        assert_eq!(
            plain.output("network"),
            Some(&json!([{"namespace": "core", "pod_labels": consent_pods(), "ports": [8080]}]))
        );
        let with_dapr = api().dependency("dapr", "dapr", json!({"pubsub": "pubsub"})).run::<App>().unwrap();
        assert_eq!(
            with_dapr.output("network"),
            Some(&json!([{"namespace": "core", "pod_labels": consent_pods(), "ports": [8080, 50002]}])),
            "callers' sidecars deliver invocations to the sidecar's internal gRPC port"
        );
    }

    fn directory(isolated: Option<bool>, namespace: &str) -> Value {
        let mut outputs = json!({"service_url": format!("http://directory.{namespace}.svc.cluster.local:8080"),
            "network": [{"namespace": namespace, "pod_labels": {"app.kubernetes.io/name": "directory"},
                         "ports": [8080, 50002]}]});
        if let Some(isolated) = isolated {
            outputs["network_policies"] = json!(isolated);
        }
        outputs
    }

    #[test]
    fn a_caller_reaches_the_app_it_depends_on_and_lets_itself_in() {
        let plan = api().dependency("directory", "app", directory(Some(true), "core")).run::<App>().unwrap();
        let callee = json!({"app.kubernetes.io/name": "directory"});
        assert_eq!(
            policy(&plan)["egress"][1],
            json!({"to": [pods("core", callee.clone())], "ports": tcp(&[8080, 50002])})
        );
        let let_in = plan.expect_object("NetworkPolicy", "oob-consent-to-directory");
        assert_eq!(let_in["metadata"]["namespace"], "core");
        assert_eq!(
            let_in["spec"],
            json!({"podSelector": {"matchLabels": callee}, "policyTypes": ["Ingress"],
                   "ingress": [{"from": [pods("core", consent_pods())], "ports": tcp(&[8080, 50002])}]})
        );
    }

    #[test]
    fn a_callee_in_another_namespace_gets_the_policy_there_named_after_the_callers_namespace() {
        let plan =
            api().dependency("Directory_API", "app", directory(Some(true), "shared")).run::<App>().unwrap();
        let let_in = plan.expect_object("NetworkPolicy", "core.oob-consent-to-directory-api");
        assert_eq!(let_in["metadata"]["namespace"], "shared");
        assert_eq!(let_in["spec"]["ingress"][0]["from"], json!([pods("core", consent_pods())]));
    }

    #[test]
    fn an_open_callee_is_reached_but_not_isolated_by_its_callers() {
        // A policy of the caller's selecting the callee's pods would shut out
        // everyone else: only a callee that says it is isolated gets one.
        for said in [None, Some(false)] {
            let plan = api().dependency("directory", "app", directory(said, "core")).run::<App>().unwrap();
            assert_eq!(plan.objects_of_kind("NetworkPolicy").len(), 1, "{said:?}: the app's own only");
            assert_eq!(policy(&plan)["egress"].as_array().unwrap().len(), 2, "{said:?}: DNS and the callee");
        }
    }

    #[test]
    fn turned_off_the_app_renders_no_policy_of_its_own_but_still_lets_itself_into_isolated_callees() {
        let plan = PlanCall::new(json!({"image": "x", "port": 8080, "network_policy": {"enabled": false}}))
            .component("staging", "core", "oob-consent")
            .dependency("directory", "app", directory(Some(true), "core"))
            .run::<App>()
            .unwrap();
        assert_eq!(plan.object("NetworkPolicy", "oob-consent"), None);
        assert!(plan.object("NetworkPolicy", "oob-consent-to-directory").is_some());
        assert_eq!(plan.output("network_policies"), Some(&json!(false)), "its callers must not isolate it");
    }

    #[test]
    fn dns_prometheus_and_extra_egress_are_inputs() {
        let plan = PlanCall::new(json!({"image": "x", "port": 8080, "service_monitor": {},
            "network_policy": {
                "dns": {"namespace": "dns", "pod_labels": {}},
                "prometheus": {"namespace": "observability", "pod_labels": {"app": "vmagent"}},
                "egress": [{"ports": [443]}, {"namespace": "search", "pod_labels": {"app": "opensearch"}, "ports": [9200]}],
            }}))
            .component("staging", "core", "oob-consent")
            .run::<App>()
            .unwrap();
        let spec = policy(&plan);
        assert_eq!(
            spec["egress"],
            json!([
                {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}}, "podSelector": {}}],
                 "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [pods("search", json!({"app": "opensearch"}))], "ports": tcp(&[9200])},
                {"to": anywhere(), "ports": tcp(&[443])},
            ])
        );
        assert_eq!(spec["ingress"][0]["from"], json!([pods("observability", json!({"app": "vmagent"}))]));
    }

    #[test]
    fn a_third_party_types_network_output_is_read_as_peers_not_env() {
        let outputs = vec![
            Output { name: "host".into(), value: json!("redis.cache.svc"), sensitive: false },
            Output {
                name: "network".into(),
                value: json!([{"namespace": "cache", "pod_labels": {"app": "redis"}, "ports": [6379]}]),
                sensitive: false,
            },
        ];
        let plan = api().dependency_outputs("sessions", "cache", outputs).run::<App>().unwrap();
        assert_eq!(
            policy(&plan)["egress"][1],
            json!({"to": [pods("cache", json!({"app": "redis"}))], "ports": tcp(&[6379])})
        );
        let d = plan.expect_object("Deployment", "oob-consent");
        assert!(container_env(d, "SESSIONS_NETWORK").is_none());
        // An output of that name meaning something else stays configuration.
        let vpc = vec![Output { name: "network".into(), value: json!("vpc-0abc"), sensitive: false }];
        let plan = api().dependency_outputs("sessions", "cache", vpc).run::<App>().unwrap();
        let d = plan.expect_object("Deployment", "oob-consent");
        assert_eq!(container_env(d, "SESSIONS_NETWORK").unwrap()["value"], "vpc-0abc");
        assert_eq!(policy(&plan)["egress"], json!([dns()]));
    }

    #[test]
    fn a_peer_that_would_open_too_much_or_that_kubernetes_refuses_is_refused_naming_the_dependency() {
        let cases = [
            (json!({"pod_labels": {"app": "db"}, "ports": [5432]}), "it names pod labels but no namespace"),
            (json!({}), "a server outside the cluster with no ports would open every address"),
            (json!({"namespace": "Data", "ports": [5432]}), "`Data` cannot name a namespace"),
            (
                json!({"namespace": "data", "pod_labels": {"app": "a b"}}),
                "`app: a b` is not a Kubernetes label",
            ),
        ];
        for (peer, why) in cases {
            let err = api()
                .dependency(
                    "db",
                    "postgres",
                    json!({"host": "h", "port": 5432, "database": "a", "user": "a",
                    "password_secret": {"name": "s", "key": "k"}, "network": [peer]}),
                )
                .run::<App>()
                .unwrap_err();
            assert_eq!(
                err,
                PlanError::MissingDependency(format!(
                    "dependency `db` has an unusable `network` peer: {why}"
                ))
            );
        }
    }

    #[test]
    fn a_caller_with_a_dependency_name_too_long_for_the_policy_is_refused() {
        let long = "d".repeat(250);
        let err = api().dependency(&long, "app", directory(Some(true), "core")).run::<App>().unwrap_err();
        let PlanError::Failed(why) = err else { panic!("{err:?}") };
        assert!(why.contains("longer than Kubernetes' 253 characters"), "{why}");
    }
}

mod bad_inputs {
    use super::*;

    #[test]
    fn a_missing_image_is_named_by_the_schema_and_by_the_plugin_itself() {
        let d = invalid(PlanCall::new(json!({"port": 8080})).run::<App>());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("image"), "{}", d[0].message);
        // Without the engine's schema step, the plugin's own parsing says the same.
        let d = invalid(PlanCall::new(json!({"replicas": 1})).without_defaults().run::<App>());
        assert_eq!(d[0].path, "/image");
    }

    #[test]
    fn zero_replicas_is_refused_at_its_path() {
        let d = invalid(PlanCall::new(json!({"image": "x", "replicas": 0})).run::<App>());
        assert_eq!(d[0].path, "/replicas");
        let raw = json!({"image": "x", "replicas": 0,
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}});
        let d = invalid(PlanCall::new(raw).without_defaults().run::<App>());
        assert_eq!(d[0].path, "/replicas");
        assert!(d[0].message.contains("nonzero"), "{}", d[0].message);
    }

    #[test]
    fn bad_quantities_unknown_fields_and_bad_env_names_point_at_the_value() {
        let d = invalid(
            PlanCall::new(json!({"image": "x", "resources": {"limits": {"memory": "lots"}}})).run::<App>(),
        );
        assert_eq!(d[0].path, "/resources/limits/memory");
        let d = invalid(PlanCall::new(json!({"image": "x", "replicaz": 3})).run::<App>());
        assert_eq!(d[0].path, "");
        assert!(d[0].message.contains("replicaz"), "{}", d[0].message);
        let d = invalid(PlanCall::new(json!({"image": "x", "env": {"1BAD": "v"}})).run::<App>());
        assert!(d.iter().any(|d| d.path.starts_with("/env")), "{d:?}");
    }

    #[test]
    fn schema_messages_do_not_repeat_a_sensitive_value() {
        let d = invalid(
            PlanCall::new(json!({"image": "x", "env": {"TOKEN": 12345678}}))
                .sensitive("/env/TOKEN")
                .run::<App>(),
        );
        assert_eq!(d[0].path, "/env/TOKEN");
        assert!(!d[0].message.contains("12345678"), "{}", d[0].message);
    }

    #[test]
    fn cross_field_rules_need_a_port_and_an_ordered_range() {
        let d = invalid(
            PlanCall::new(json!({"image": "x", "ingress": {"host": "h"}, "service_monitor": {}}))
                .run::<App>(),
        );
        let paths: Vec<_> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["/ingress", "/service_monitor"]);
        let d = invalid(
            PlanCall::new(json!({"image": "x", "autoscaling": {"min": 5, "max": 2, "cpu": 80}})).run::<App>(),
        );
        assert_eq!(d[0].path, "/autoscaling/min");
        // The plugin checks again in plan, without trusting the engine's validate step.
        let raw = json!({"image": "x", "replicas": 1, "ingress": {"host": "h"},
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}});
        assert_eq!(invalid(PlanCall::new(raw).without_defaults().run::<App>())[0].path, "/ingress");
    }

    #[test]
    fn network_policy_pods_kubernetes_would_refuse_point_at_the_value() {
        // Without defaults, so the plugin's own checks answer, not the schema.
        let raw = json!({"image": "x", "replicas": 1,
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "network_policy": {
            "dns": {"namespace": "Kube_System", "pod_labels": {}},
            "prometheus": {"namespace": "monitoring", "pod_labels": {"-bad": "x", "app": "not ok!"}},
            "egress": [{"pod_labels": {"app": "db"}, "ports": [5432]}, {"ports": []}],
        }});
        let d = invalid(PlanCall::new(raw).without_defaults().run::<App>());
        let found: Vec<(&str, &str)> = d.iter().map(|d| (d.path.as_str(), d.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (
                    "/network_policy/dns/namespace",
                    "`Kube_System` cannot name a namespace: lower-case letters, digits and `-`, at most 63"
                ),
                (
                    "/network_policy/prometheus/pod_labels/-bad",
                    "`-bad` is not a label key (`prefix/name`, as `app.kubernetes.io/name`)"
                ),
                (
                    "/network_policy/prometheus/pod_labels/app",
                    "`not ok!` is not a label value: at most 63 letters, digits, `-`, `_` and `.`, \
                     alphanumeric at both ends"
                ),
                (
                    "/network_policy/egress/0/pod_labels",
                    "pod labels need a `namespace`; leave both out for a server outside the cluster"
                ),
                (
                    "/network_policy/egress/1/ports",
                    "list the ports to reach there; none would mean every port"
                ),
            ]
        );
        // The schema says the same about no ports, before the plugin is asked.
        let d = invalid(
            PlanCall::new(json!({"image": "x", "network_policy": {"egress": [{"ports": []}]}})).run::<App>(),
        );
        assert_eq!(d[0].path, "/network_policy/egress/0/ports");
    }

    #[test]
    fn a_component_name_kubernetes_cannot_use_is_refused_naming_it() {
        for bad in ["3ds-server", "Consent", "oob_consent", "trailing-"] {
            let err = PlanCall::new(json!({"image": "x"}))
                .component("staging", "core", bad)
                .run::<App>()
                .unwrap_err();
            assert!(
                matches!(&err, PlanError::Failed(m) if m.contains(&format!("`{bad}`"))),
                "{bad}: {err:?}"
            );
        }
        assert!(
            PlanCall::new(json!({"image": "x"}))
                .component("staging", "core", "oob-consent-2")
                .run::<App>()
                .is_ok()
        );
    }

    #[test]
    fn a_pdb_that_would_block_drains_is_a_warning_not_an_error() {
        let inputs = json!({"image": "x", "port": 8080, "replicas": 2, "pdb": {"min_available": 2}});
        let warnings = App::validate(&{
            let mut v = capstan_sdk::testkit::defaults_of(&App::metadata());
            capstan_sdk::testkit::merge(&mut v, inputs.clone());
            v
        });
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            (warnings[0].severity, warnings[0].path.as_str()),
            (Severity::Warning, "/pdb/min_available")
        );
        assert!(PlanCall::new(inputs).run::<App>().is_ok());
    }
}
