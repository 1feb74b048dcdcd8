//! The image rules: what runs is pinned (`no-latest-tag`) and comes from
//! where the operator trusts (`allowed-registries`). Both read every
//! container's image and the images operators' custom resources name.

use capstan_sdk::Violation;
use serde_json::Value;

use super::Context;
use crate::object::{self, list};

/// Every image has a tag other than `latest`, or a digest.
pub(crate) const NO_LATEST_TAG: &str = "no-latest-tag";
/// Every image comes from an allowed registry, or has a digest.
pub(crate) const ALLOWED_REGISTRIES: &str = "allowed-registries";

/// Where operators' custom resources name an image: group, kind, pointer.
/// Each is optional (the operator's default image is its own business).
const CUSTOM_RESOURCE_IMAGES: &[(&str, &str, &str)] = &[
    ("postgresql.cnpg.io", "Cluster", "/spec/imageName"),
    ("rabbitmq.com", "RabbitmqCluster", "/spec/image"),
    ("kafka.strimzi.io", "Kafka", "/spec/kafka/image"),
];

/// One image reference in one object.
struct Site<'a> {
    object: usize,
    /// The JSON pointer of the image field.
    path: String,
    /// How messages name what runs it: `container "api"`, `Cluster "db"`.
    label: String,
    image: &'a str,
}

fn sites<'a>(cx: &'a Context<'_>) -> Vec<Site<'a>> {
    let mut out = Vec::new();
    for pod in &cx.pods {
        for c in pod.containers() {
            if let Some(image) = c.value.get("image").and_then(Value::as_str).filter(|i| !i.is_empty()) {
                out.push(Site {
                    object: pod.object,
                    path: format!("{}/image", c.path),
                    label: c.label,
                    image,
                });
            }
        }
    }
    for (i, o) in cx.objects.iter().enumerate() {
        for (group, kind, at) in CUSTOM_RESOURCE_IMAGES {
            if !object::is(o, group, kind) {
                continue;
            }
            if let Some(image) = o.pointer(at).and_then(Value::as_str).filter(|i| !i.is_empty()) {
                let label = format!("{kind} \"{}\"", object::name(o));
                out.push(Site { object: i, path: (*at).to_owned(), label, image });
            }
        }
    }
    out
}

pub(crate) fn no_latest_tag(cx: &Context<'_>) -> Vec<Violation> {
    sites(cx)
        .into_iter()
        .filter_map(|s| {
            let image = Image::parse(s.image);
            if image.pinned() {
                return None;
            }
            let why = match image.tag {
                None => "has no tag, so it runs whatever `latest` is at pull time",
                Some("latest") => "uses the `latest` tag",
                Some(_) => return None,
            };
            Some(Violation::error(
                NO_LATEST_TAG,
                s.object,
                s.path,
                format!(
                    "{}: image \"{}\" {why}; pin a version tag or a digest (@sha256:…)",
                    s.label, s.image
                ),
            ))
        })
        .collect()
}

pub(crate) fn allowed_registries(cx: &Context<'_>) -> Vec<Violation> {
    let allowed = &cx.params.allowed_registries;
    if allowed.is_empty() {
        return Vec::new();
    }
    sites(cx)
        .into_iter()
        .filter_map(|s| {
            let normalised = normalised(s.image);
            let from_allowed = allowed.iter().any(|prefix| {
                s.image.starts_with(prefix.as_str()) || normalised.starts_with(prefix.as_str())
            });
            if from_allowed || Image::parse(s.image).pinned() {
                return None;
            }
            let also = if normalised == s.image { String::new() } else { format!(" ({normalised})") };
            let prefixes: Vec<String> = allowed.iter().map(|p| format!("`{p}`")).collect();
            Some(Violation::error(
                ALLOWED_REGISTRIES,
                s.object,
                s.path,
                format!(
                    "{}: image \"{}\"{also} is not from an allowed registry ({}); use an image from one of \
                     them, or pin it by digest",
                    s.label,
                    s.image,
                    list(&prefixes, "or")
                ),
            ))
        })
        .collect()
}

/// An image reference: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, PartialEq, Eq)]
struct Image<'a> {
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl<'a> Image<'a> {
    fn parse(reference: &'a str) -> Self {
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (reference, None),
        };
        // A tag follows the last `:` of the last path segment; a `:` before
        // the first `/` is a registry's port.
        let last_segment = name.rsplit('/').next().unwrap_or(name);
        let tag = last_segment.rsplit_once(':').map(|(_, tag)| tag);
        Image { tag, digest }
    }

    /// Pinned by a content digest such as `sha256:…`: the tag, if any, is
    /// then only a label.
    fn pinned(&self) -> bool {
        self.digest
            .and_then(|d| d.split_once(':'))
            .is_some_and(|(algorithm, hex)| !algorithm.is_empty() && !hex.is_empty())
    }
}

/// The image's full name, as a container runtime resolves it: Docker Hub
/// short names (`nginx:1.27`, `bitnami/redis`) live at
/// `docker.io/library/nginx:1.27` and `docker.io/bitnami/redis`.
fn normalised(image: &str) -> String {
    let Some((first, rest)) = image.split_once('/') else {
        return format!("docker.io/library/{image}");
    };
    let is_registry = first.contains('.') || first.contains(':') || first == "localhost";
    let (registry, path) = match (is_registry, first) {
        (true, "index.docker.io" | "registry-1.docker.io" | "docker.io") => ("docker.io", rest),
        (true, _) => return image.to_owned(),
        (false, _) => ("docker.io", image),
    };
    if path.contains('/') { format!("{registry}/{path}") } else { format!("{registry}/library/{path}") }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use capstan_sdk::testkit::{ViolationsExt, check};
    use serde_json::{Value, json};

    use super::*;
    use crate::Baseline;
    use crate::rules::test::{container_with, deployment};

    fn with_images(images: &[&str]) -> Value {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, image)| container_with(&format!("c{i}"), json!({"image": image})))
            .collect();
        deployment(Value::Array(containers))
    }

    const DIGEST: &str = "sha256:4bcf5fbf1c2c5e6d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f";

    #[test]
    fn references_are_parsed_with_ports_tags_and_digests() {
        assert_eq!(Image::parse("nginx"), Image { tag: None, digest: None });
        assert_eq!(Image::parse("localhost:5000/app"), Image { tag: None, digest: None });
        assert_eq!(Image::parse("localhost:5000/app:2"), Image { tag: Some("2"), digest: None });
        let pinned = format!("ghcr.io/acme/app:latest@{DIGEST}");
        assert!(Image::parse(&pinned).pinned());
        assert!(!Image::parse("ghcr.io/acme/app@").pinned());
        assert_eq!(normalised("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(normalised("bitnami/redis:7"), "docker.io/bitnami/redis:7");
        assert_eq!(normalised("docker.io/nginx"), "docker.io/library/nginx");
        assert_eq!(normalised("index.docker.io/bitnami/redis"), "docker.io/bitnami/redis");
        assert_eq!(normalised("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
        assert_eq!(normalised("localhost:5000/app"), "localhost:5000/app");
    }

    #[test]
    fn an_image_without_a_tag_or_with_latest_is_not_pinned() {
        let pinned = format!("nginx@{DIGEST}");
        let v = check::<Baseline>(
            vec![with_images(&["nginx:1.27", "nginx", "nginx:latest", &pinned, "localhost:5000/app"])],
            json!({}),
        )
        .unwrap();
        assert_eq!(
            v.at(NO_LATEST_TAG),
            vec![
                (0, "/spec/template/spec/containers/1/image"),
                (0, "/spec/template/spec/containers/2/image"),
                (0, "/spec/template/spec/containers/4/image"),
            ]
        );
        assert_eq!(
            v.of_rule(NO_LATEST_TAG)[1].message,
            "container \"c2\": image \"nginx:latest\" uses the `latest` tag; pin a version tag or a digest (@sha256:…)"
        );
    }

    #[test]
    fn operators_custom_resources_pin_their_images_too() {
        let cluster = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "db"},
            "spec": {"imageName": "ghcr.io/cloudnative-pg/postgresql:latest",
                     "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}});
        let rabbit = json!({"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "mq"},
            "spec": {"image": "rabbitmq:3.13-management"}});
        let kafka = json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka", "metadata": {"name": "events"},
            "spec": {"kafka": {"image": "quay.io/strimzi/kafka"}}});
        let v = check::<Baseline>(vec![cluster, rabbit, kafka], json!({"allowed_registries": ["ghcr.io/"]}))
            .unwrap();
        assert_eq!(v.at(NO_LATEST_TAG), vec![(0, "/spec/imageName"), (2, "/spec/kafka/image")]);
        assert!(v.of_rule(NO_LATEST_TAG)[0].message.starts_with("Cluster \"db\": image"), "{v:?}");
        assert_eq!(v.at(ALLOWED_REGISTRIES), vec![(1, "/spec/image"), (2, "/spec/kafka/image")]);
    }

    #[test]
    fn with_no_allowed_registries_any_registry_passes() {
        let v = check::<Baseline>(vec![with_images(&["nginx:1.27", "example.com/x:1"])], json!({})).unwrap();
        assert_eq!(v, vec![]);
    }

    #[test]
    fn images_come_from_an_allowed_registry_by_name_or_normalised_name_or_are_pinned() {
        let pinned = format!("quay.io/other/app@{DIGEST}");
        let objects = vec![with_images(&[
            "ghcr.io/acme/api:1.0",
            "ghcr.io/other/api:1.0",
            "nginx:1.27",
            "registry.k8s.io/pause:3.9",
            &pinned,
        ])];
        let params = json!({"allowed_registries": ["ghcr.io/acme/", "registry.k8s.io/"]});
        let v = check::<Baseline>(objects.clone(), params).unwrap();
        assert_eq!(
            v.at(ALLOWED_REGISTRIES),
            vec![
                (0, "/spec/template/spec/containers/1/image"),
                (0, "/spec/template/spec/containers/2/image")
            ]
        );
        assert_eq!(
            v.of_rule(ALLOWED_REGISTRIES)[1].message,
            "container \"c2\": image \"nginx:1.27\" (docker.io/library/nginx:1.27) is not from an allowed registry \
             (`ghcr.io/acme/` or `registry.k8s.io/`); use an image from one of them, or pin it by digest"
        );
        let hub = json!({"allowed_registries": ["ghcr.io/", "docker.io/library/", "registry.k8s.io/"]});
        assert_eq!(check::<Baseline>(objects, hub).unwrap().at(ALLOWED_REGISTRIES), vec![]);
    }

    #[test]
    fn a_rule_turned_off_reports_nothing() {
        let params = json!({"rules": {"no-latest-tag": false, "allowed-registries": false},
                            "allowed_registries": ["ghcr.io/acme/"]});
        assert_eq!(check::<Baseline>(vec![with_images(&["nginx"])], params).unwrap(), vec![]);
    }
}
