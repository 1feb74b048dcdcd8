//! Each user's credentials Secret, and the outputs' references to it.
//!
//! The Secret holds what every messaging backend's does (`username`,
//! `password`: what the topology operator imports, and what apps read) and
//! `uri`: the user's whole connection URI ([`Server::connection_uri`]), for
//! clients configured with one string. Dapr's `pubsub.rabbitmq` needs it:
//! given the parts instead, it builds the URI with Go's `url.URL`, which
//! escapes the `/` before the vhost as part of the host, so it can only ever
//! reach the default vhost. The URI holds the password, so it is written
//! into the Secret only; the outputs name its key (`uri_key`).

use std::collections::BTreeMap;

use capstan_sdk::contracts::messaging::queues::{self, UserSpec};
use capstan_sdk::contracts::messaging::{Consumer, CredentialsSecret};
use capstan_sdk::prelude::*;
use serde_json::Value;

use crate::Inputs;
use crate::uri::Server;

/// The key of the connection URI in each credentials Secret.
pub const URI_KEY: &str = "uri";

/// The label the messaging-topology-operator (1.20 and later) requires on a
/// Secret a `User` imports: it watches only Secrets carrying it, so it can
/// follow a changed password without caching every Secret of the cluster,
/// and its admission webhook refuses a `User` whose Secret lacks it.
/// Earlier versions ignore it.
pub const TOPOLOGY_OPERATOR_LABEL: &str = "rabbitmq.com/topology-operator";

/// User `user`'s Secret (named as every messaging backend names it), its
/// broker user name `username`, connecting to `server`.
pub fn secret(req: &PlanRequest, user: &str, username: &str, spec: &UserSpec, server: &Server<'_>) -> Value {
    let meta = k8s::Meta::new(
        &req.component,
        queues::credentials_secret_name(&req.component.name, user),
        "messaging-credentials",
    )
    .label("capstan.dev/user", user)
    .label(TOPOLOGY_OPERATOR_LABEL, "true");
    let data = BTreeMap::from([
        ("username".to_owned(), Sensitive::new(username)),
        ("password".to_owned(), spec.password.clone()),
        (URI_KEY.to_owned(), server.connection_uri(username, &spec.password)),
    ]);
    k8s::secret(&meta, &data)
}

/// The outputs' reference to `user`'s Secret, its URI key included.
pub fn reference(req: &PlanRequest, user: &str) -> CredentialsSecret {
    CredentialsSecret { uri_key: Some(URI_KEY.to_owned()), ..queues::credentials_ref(req, user) }
}

/// Every user as a consumer in the outputs (its group prefix included),
/// each Secret reference with its URI key.
pub fn consumers(req: &PlanRequest, inputs: &Inputs) -> BTreeMap<String, Consumer> {
    let mut consumers = queues::consumers(req, &inputs.users, &inputs.queues, true);
    for consumer in consumers.values_mut() {
        consumer.credentials_secret.uri_key = Some(URI_KEY.to_owned());
    }
    consumers
}
