//! What `spire` and `vault` dependencies give the app: a SPIFFE identity
//! with the Workload API socket it is fetched over, and where Vault is, how
//! the app logs in to it and the paths its policy opens.
//!
//! Both bind the app to its pods' ServiceAccount: SPIRE issues a SPIFFE ID
//! to the pods of a ServiceAccount, and Vault's Kubernetes auth accepts the
//! token of one. So with a `spire` dependency, or a `vault` one the app logs
//! in to with Kubernetes auth, the pods run as a ServiceAccount of their own
//! rather than the namespace's `default`: the one `service_account` names,
//! else one named after the app, the name `capstan/spire` and
//! `capstan/vault-openbao` bind unless told otherwise. Its token is mounted
//! only for Kubernetes auth, the one login that presents it.
//!
//! Neither contract says which ServiceAccount it binds. A SPIFFE ID of the
//! form `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` (what
//! `capstan/spire` issues) does, and is checked against the pods' own: a
//! registration in another namespace (the spire component's, by default)
//! would leave the pods without an identity, found only when they start.
//!
//! Nothing here is a credential: the app proves who it is at run time, to
//! the SPIRE agent on its node and then to Vault.

use capstan_sdk::contracts::{self, Contract as _, spire, vault};
use capstan_sdk::{ComponentId, Dependency, Diagnostic, PlanError};
use serde_json::Value;

use crate::wiring::{Env, Wiring, single};

/// The pod volume holding the Workload API socket's directory.
pub const SOCKET_VOLUME: &str = "spiffe-workload-api";

/// The app's SPIFFE ID, as the SPIFFE libraries' examples name it.
const SPIFFE_ID_ENV: &str = "SPIFFE_ID";

/// The trust domain the app accepts peers from.
const TRUST_DOMAIN_ENV: &str = "SPIFFE_TRUST_DOMAIN";

/// The Workload API socket's directory, mounted read-only in the app container.
#[derive(Clone, Debug, PartialEq)]
pub struct SocketMount {
    /// The pod volume, named [`SOCKET_VOLUME`]: hostPath or CSI, as the
    /// dependency says.
    pub volume: Value,
    /// Where the container mounts it.
    pub mount_path: String,
}

/// Wires the `spire` dependency, then the `vault` one (at most one of
/// each): how the app logs in to Vault depends on whether it has a SPIFFE ID.
/// `service_account` is the ServiceAccount its pods run as.
pub fn wire(
    component: &ComponentId,
    service_account: &str,
    deps: &[Dependency],
    w: &mut Wiring,
) -> Result<(), PlanError> {
    let spiffe_id = match single(deps, spire::Outputs::COMPONENT_TYPE)? {
        Some(dep) => Some(wire_spire(component, service_account, dep, w)?),
        None => None,
    };
    if let Some(dep) = single(deps, vault::Outputs::COMPONENT_TYPE)? {
        wire_vault(component, dep, spiffe_id.as_deref(), w)?;
    }
    Ok(())
}

/// The socket, `SPIFFE_ENDPOINT_SOCKET`, `SPIFFE_ID` and
/// `SPIFFE_TRUST_DOMAIN`; returns the app's SPIFFE ID.
fn wire_spire(
    component: &ComponentId,
    service_account: &str,
    dep: &Dependency,
    w: &mut Wiring,
) -> Result<String, PlanError> {
    let spire = contracts::read::<spire::Outputs>(dep)?;
    w.reach(dep, &spire.network);
    let Some(id) = spire.spiffe_id_for(&component.name) else {
        return Err(PlanError::MissingDependency(format!(
            "spire dependency `{}` has no SPIFFE ID for `{app}` in its `apps` output, so its pods would get no \
             identity; add the app to the spire component's `apps` (`apps = {{ {app} = {{}} }}`)",
            dep.name,
            app = component.name
        )));
    };
    check_spiffe_id(dep, id, component, service_account)?;
    let socket = &spire.workload_api_socket;
    let Some(volume) = socket.pod_volume(SOCKET_VOLUME) else {
        let (kind, field) = match socket.volume {
            spire::SocketVolume::HostPath => ("host-path", "host_path"),
            spire::SocketVolume::Csi => ("csi", "csi_driver"),
        };
        return Err(PlanError::MissingDependency(format!(
            "spire dependency `{}` mounts its Workload API socket as a `{kind}` volume but its \
             `workload_api_socket` has no `{field}`",
            dep.name
        )));
    };
    w.socket = Some(SocketMount { volume, mount_path: socket.mount_path.clone() });
    w.env.push((spire::ENDPOINT_ENV.to_owned(), Env::Plain(socket.endpoint.clone())));
    w.env.push((SPIFFE_ID_ENV.to_owned(), Env::Plain(id.to_owned())));
    w.env.push((TRUST_DOMAIN_ENV.to_owned(), Env::Plain(spire.trust_domain.clone())));
    w.own_service_account = true;
    Ok(id.to_owned())
}

/// The namespace and ServiceAccount a SPIFFE ID names when it has the form
/// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
fn namespace_and_account(id: &str) -> Option<(&str, &str)> {
    let (_, path) = id.strip_prefix("spiffe://")?.split_once('/')?;
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("ns"), Some(ns), Some("sa"), Some(sa), None) => Some((ns, sa)),
        _ => None,
    }
}

/// An ID naming a namespace and ServiceAccount must name the pods'.
fn check_spiffe_id(
    dep: &Dependency,
    id: &str,
    component: &ComponentId,
    service_account: &str,
) -> Result<(), PlanError> {
    let Some((namespace, account)) = namespace_and_account(id) else { return Ok(()) };
    if namespace == component.namespace && account == service_account {
        return Ok(());
    }
    let app = &component.name;
    let fix = if namespace == component.namespace {
        format!(
            "set `apps.{app}.service_account = \"{service_account}\"` in the spire component, or the app's \
             `service_account.name` to `{account}`"
        )
    } else {
        format!("set `apps.{app}.namespace = \"{}\"` in the spire component", component.namespace)
    };
    Err(PlanError::MissingDependency(format!(
        "spire dependency `{}` issues `{app}` the SPIFFE ID `{id}`, for the pods of ServiceAccount `{account}` \
         in namespace `{namespace}`, but the app's pods run as ServiceAccount `{service_account}` in namespace \
         `{}` and would get no identity; {fix}",
        dep.name, component.namespace
    )))
}

/// How the app logs in to Vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// With a JWT-SVID from the Workload API.
    Jwt,
    /// With its ServiceAccount token.
    Kubernetes,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Jwt => "jwt",
            Method::Kubernetes => "kubernetes",
        }
    }
}

/// `VAULT_ADDR`, the login (`VAULT_AUTH_METHOD`, `VAULT_AUTH_PATH`,
/// `VAULT_AUTH_ROLE`) and the paths the app's policy opens.
fn wire_vault(
    component: &ComponentId,
    dep: &Dependency,
    spiffe_id: Option<&str>,
    w: &mut Wiring,
) -> Result<(), PlanError> {
    let v = contracts::read::<vault::Outputs>(dep)?;
    w.reach(dep, &v.network);
    let app = component.name.as_str();
    let Some(access) = v.apps.get(app) else {
        return Err(PlanError::MissingDependency(format!(
            "vault dependency `{}` has no policy or roles for `{app}` in its `apps` output, so the app could not \
             log in; add the app to the vault component's `apps` (`apps = {{ {app} = {{}} }}`)",
            dep.name
        )));
    };
    w.env.push(("VAULT_ADDR".into(), Env::Plain(v.address.clone())));

    // JWT auth when the app has a SPIFFE ID to get a JWT-SVID for: it
    // needs no Kubernetes token in the pod. Kubernetes auth otherwise.
    let jwt = v.auth.jwt.as_deref().zip(access.jwt_role.as_deref()).filter(|_| spiffe_id.is_some());
    let kubernetes = v.auth.kubernetes.as_deref().zip(access.kubernetes_role.as_deref());
    let login = jwt.map(|l| (Method::Jwt, l)).or(kubernetes.map(|l| (Method::Kubernetes, l)));
    match login {
        Some((method, (path, role))) => {
            if let (Method::Jwt, Some(bound), Some(own)) = (method, &access.spiffe_id, spiffe_id)
                && bound != own
            {
                return Err(PlanError::MissingDependency(format!(
                    "vault dependency `{}` binds JWT role `{role}` of `{app}` to the SPIFFE ID `{bound}`, but the \
                     app's `spire` dependency issues it `{own}`: Vault would refuse its JWT-SVID; set \
                     `apps.{app}.spiffe_id = \"{own}\"` in the vault component",
                    dep.name
                )));
            }
            w.env.push(("VAULT_AUTH_METHOD".into(), Env::Plain(method.as_str().to_owned())));
            w.env.push(("VAULT_AUTH_PATH".into(), Env::Plain(format!("auth/{path}"))));
            w.env.push(("VAULT_AUTH_ROLE".into(), Env::Plain(role.to_owned())));
            if method == Method::Kubernetes {
                w.own_service_account = true;
                w.service_account_token = true;
            }
        }
        None => {
            let (why, fix) = match (&access.jwt_role, v.auth.jwt.is_some()) {
                (Some(role), true) => (
                    format!("its only role for it is the JWT role `{role}`, and a JWT-SVID comes from SPIRE"),
                    "add a `spire` dependency to the app, or Kubernetes auth to the vault component",
                ),
                _ => (
                    "it has no Kubernetes or JWT auth role for it".to_owned(),
                    "give the vault component Kubernetes auth (or JWT auth and a `spire` dependency)",
                ),
            };
            w.warnings.push(Diagnostic::warning(
                "",
                format!(
                    "vault dependency `{}` gives `{app}` no way to log in: {why}, so VAULT_AUTH_PATH and \
                     VAULT_AUTH_ROLE are left out; {fix}",
                    dep.name
                ),
            ));
        }
    }

    if let Some(path) = v.pki_issue_path(app) {
        w.env.push(("VAULT_PKI_ISSUE_PATH".into(), Env::Plain(path)));
    }
    if let Some(path) = v.database_creds_path(app) {
        w.env.push(("VAULT_DATABASE_CREDS_PATH".into(), Env::Plain(path)));
    }
    if let Some(path) = v.kv_data_prefix(&component.environment, app) {
        w.env.push(("VAULT_KV_PATH".into(), Env::Plain(path)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::namespace_and_account;

    #[test]
    fn only_an_id_of_the_namespace_and_service_account_form_names_them() {
        assert_eq!(namespace_and_account("spiffe://dev.example/ns/core/sa/api"), Some(("core", "api")));
        assert_eq!(namespace_and_account("spiffe://dev.example/workload/api"), None);
        assert_eq!(namespace_and_account("spiffe://dev.example/ns/core/sa/api/extra"), None);
        assert_eq!(namespace_and_account("spiffe://dev.example"), None);
    }
}
