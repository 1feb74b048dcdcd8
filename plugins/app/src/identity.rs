//! What `spire` and `vault` dependencies give the app: a SPIFFE identity
//! with the Workload API socket it is fetched over, and where Vault is, how
//! the app logs in to it and the paths its policy opens.
//!
//! Both bind the app to its pods' ServiceAccount: SPIRE issues a SPIFFE ID
//! to the pods of a ServiceAccount, and Vault's Kubernetes auth accepts the
//! token of one. So with a `spire` dependency, or a `vault` one the app logs
//! in to with Kubernetes auth, the pods run as a ServiceAccount of their own
//! rather than the namespace's `default`. Its token is mounted only for
//! Kubernetes auth, the one login that presents it.
//!
//! Which ServiceAccount: the one `service_account.name` names, else the one
//! the spire entry for the app names (its `namespace` and `service_account`
//! in the contract), else the vault entry's, else the app's name, the one
//! `capstan/spire` and `capstan/vault-openbao` bind unless told otherwise.
//! Every entry that names a namespace or a ServiceAccount must name the
//! app's: a registration left in the spire component's own namespace (its
//! default), or a spire and a vault entry naming different ServiceAccounts,
//! would leave the pods without an identity or a login, found only when
//! they start, so the plan is refused naming what to change. A backend older
//! than those fields does not say them; a SPIFFE ID of the form
//! `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` (what
//! `capstan/spire` issues) still names the spire entry's.
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

/// The audience the app asks SPIRE to issue the JWT-SVID it logs in to
/// Vault with for.
const AUDIENCE_ENV: &str = "VAULT_AUTH_AUDIENCE";

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
/// each): how the app logs in to Vault depends on whether it has a SPIFFE
/// ID. `asked` is the ServiceAccount the app names (`service_account.name`);
/// the one its pods run as is left in [`Wiring::service_account`].
pub fn wire(
    component: &ComponentId,
    asked: Option<&str>,
    deps: &[Dependency],
    w: &mut Wiring,
) -> Result<(), PlanError> {
    let spire = match single(deps, spire::Outputs::COMPONENT_TYPE)? {
        Some(dep) => Some(read_spire(component, dep)?),
        None => None,
    };
    let vault = match single(deps, vault::Outputs::COMPONENT_TYPE)? {
        Some(dep) => Some(read_vault(component, dep)?),
        None => None,
    };
    let entries: Vec<Entry> = spire
        .as_ref()
        .map(|s| Entry::spire(component, s))
        .into_iter()
        .chain(vault.as_ref().map(|v| Entry::vault(component, v)))
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let (service_account, chosen) = match asked {
        Some(name) => (name, Chosen::Asked),
        None => entries
            .iter()
            .find_map(|e| e.service_account.map(|sa| (sa, Chosen::Entry(e))))
            .unwrap_or((component.name.as_str(), Chosen::AppName)),
    };
    for entry in &entries {
        entry.check(component, service_account, &chosen)?;
    }
    w.service_account = Some(service_account.to_owned());

    let spiffe_id = match &spire {
        Some(s) => Some(wire_spire(s, w)?),
        None => None,
    };
    if let Some(v) = &vault {
        wire_vault(component, v, spiffe_id.as_deref(), w)?;
    }
    Ok(())
}

/// A dependency, its outputs read through its contract, and its entry
/// for the app (what its `apps` output holds under the app's name).
struct Read<'a, C, E> {
    dep: &'a Dependency,
    outputs: C,
    entry: E,
}

type SpireRead<'a> = Read<'a, spire::Outputs, spire::AppIdentity>;
type VaultRead<'a> = Read<'a, vault::Outputs, vault::AppAccess>;

/// The spire dependency's outputs, which must register the app.
fn read_spire<'a>(component: &ComponentId, dep: &'a Dependency) -> Result<SpireRead<'a>, PlanError> {
    let outputs = contracts::read::<spire::Outputs>(dep)?;
    let Some(entry) = outputs.apps.get(&component.name).cloned() else {
        return Err(PlanError::MissingDependency(format!(
            "spire dependency `{}` has no SPIFFE ID for `{app}` in its `apps` output, so its pods would get no \
             identity; add the app to the spire component's `apps` (`apps = {{ {app} = {{}} }}`)",
            dep.name,
            app = component.name
        )));
    };
    Ok(Read { dep, outputs, entry })
}

/// The vault dependency's outputs, which must give the app a policy.
fn read_vault<'a>(component: &ComponentId, dep: &'a Dependency) -> Result<VaultRead<'a>, PlanError> {
    let outputs = contracts::read::<vault::Outputs>(dep)?;
    let Some(entry) = outputs.apps.get(&component.name).cloned() else {
        return Err(PlanError::MissingDependency(format!(
            "vault dependency `{}` has no policy or roles for `{app}` in its `apps` output, so the app could not \
             log in; add the app to the vault component's `apps` (`apps = {{ {app} = {{}} }}`)",
            dep.name,
            app = component.name
        )));
    };
    Ok(Read { dep, outputs, entry })
}

/// A spire or vault entry for the app: the pods it is for, as far as it
/// says, and how to word a refusal of it.
struct Entry<'a> {
    /// `spire` or `vault`.
    kind: &'static str,
    dep: &'a Dependency,
    namespace: Option<&'a str>,
    service_account: Option<&'a str>,
    /// What the dependency gives the app, ending before "the pods of …".
    gives: String,
    /// What goes wrong when those are not the app's pods, after "… in namespace `<ns>`".
    harm: &'static str,
}

impl<'a> Entry<'a> {
    /// The registration: its fields, else what its SPIFFE ID names.
    fn spire(component: &ComponentId, s: &'a SpireRead<'a>) -> Self {
        let identity = &s.entry;
        Entry {
            kind: spire::Outputs::COMPONENT_TYPE,
            dep: s.dep,
            namespace: identity.pods_namespace(),
            service_account: identity.pods_service_account(),
            gives: format!("issues `{}` the SPIFFE ID `{}`, for", component.name, identity.spiffe_id),
            harm: " and would get no identity",
        }
    }

    /// The app's access: the pods its Kubernetes auth role binds, when it
    /// says them (the SPIFFE ID there is the JWT role's, checked apart).
    fn vault(component: &ComponentId, v: &'a VaultRead<'a>) -> Self {
        let access = &v.entry;
        let (gives, harm) = match &access.kubernetes_role {
            Some(role) => (
                format!("binds the Kubernetes auth role `{role}` of `{}` to", component.name),
                " and Vault would refuse their token",
            ),
            None => (format!("gives `{}` its policy and roles for", component.name), ""),
        };
        Entry {
            kind: vault::Outputs::COMPONENT_TYPE,
            dep: v.dep,
            namespace: access.namespace.as_deref(),
            service_account: access.service_account.as_deref(),
            gives,
            harm,
        }
    }

    /// The entry names no other pods than the app's: its namespace and
    /// `service_account`, which the pods run as because of `chosen`.
    fn check(
        &self,
        component: &ComponentId,
        service_account: &str,
        chosen: &Chosen,
    ) -> Result<(), PlanError> {
        let app = &component.name;
        let namespace = component.namespace.as_str();
        let other_namespace = self.namespace.filter(|ns| *ns != namespace);
        let other_account = self.service_account.filter(|sa| *sa != service_account);
        if other_namespace.is_none() && other_account.is_none() {
            return Ok(());
        }
        let mut settings = Vec::new();
        if other_namespace.is_some() {
            settings.push(format!("`apps.{app}.namespace = \"{namespace}\"`"));
        }
        if other_account.is_some() {
            settings.push(format!("`apps.{app}.service_account = \"{service_account}\"`"));
        }
        let mut fix = format!("set {} in the {} component", settings.join(" and "), self.kind);
        if let (None, Some(theirs)) = (other_namespace, other_account) {
            match chosen {
                Chosen::Asked => {
                    fix.push_str(&format!(", or the app's `service_account.name` to `{theirs}`"))
                }
                Chosen::Entry(e) => fix.push_str(&format!(
                    ", or `apps.{app}.service_account = \"{theirs}\"` in the {} component",
                    e.kind
                )),
                Chosen::AppName => {}
            }
        }
        // Where the app's ServiceAccount comes from, when it is the one at odds.
        let why = match (chosen, other_account) {
            (Chosen::Entry(e), Some(_)) => format!(" (the one {} dependency `{}` names)", e.kind, e.dep.name),
            (Chosen::AppName, Some(_)) => " (the app's name)".to_owned(),
            _ => String::new(),
        };
        Err(PlanError::MissingDependency(format!(
            "{} dependency `{}` {} the pods of {}, but the app's pods run as ServiceAccount `{service_account}`{why} \
             in namespace `{namespace}`{}; {fix}",
            self.kind,
            self.dep.name,
            self.gives,
            pods(self.namespace, self.service_account),
            self.harm,
        )))
    }
}

/// Where the ServiceAccount the pods run as comes from.
enum Chosen<'a> {
    /// The app's `service_account.name`.
    Asked,
    /// What a spire or vault entry names.
    Entry(&'a Entry<'a>),
    /// Nothing names one: the app's name.
    AppName,
}

/// "ServiceAccount `a` in namespace `b`", with what an entry says.
fn pods(namespace: Option<&str>, service_account: Option<&str>) -> String {
    match (namespace, service_account) {
        (Some(ns), Some(sa)) => format!("ServiceAccount `{sa}` in namespace `{ns}`"),
        (Some(ns), None) => format!("namespace `{ns}`"),
        (None, Some(sa)) => format!("ServiceAccount `{sa}`"),
        (None, None) => "any namespace".to_owned(),
    }
}

/// The socket, `SPIFFE_ENDPOINT_SOCKET`, `SPIFFE_ID` and
/// `SPIFFE_TRUST_DOMAIN`; returns the app's SPIFFE ID.
fn wire_spire(s: &SpireRead<'_>, w: &mut Wiring) -> Result<String, PlanError> {
    let (dep, spire) = (s.dep, &s.outputs);
    w.reach(dep, &spire.network);
    let id = s.entry.spiffe_id.clone();
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
    w.env.push((SPIFFE_ID_ENV.to_owned(), Env::Plain(id.clone())));
    w.env.push((TRUST_DOMAIN_ENV.to_owned(), Env::Plain(spire.trust_domain.clone())));
    w.own_service_account = true;
    Ok(id)
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
/// `VAULT_AUTH_ROLE`, and `VAULT_AUTH_AUDIENCE` for JWT auth) and the paths
/// the app's policy opens.
fn wire_vault(
    component: &ComponentId,
    read: &VaultRead<'_>,
    spiffe_id: Option<&str>,
    w: &mut Wiring,
) -> Result<(), PlanError> {
    let (dep, v, access) = (read.dep, &read.outputs, &read.entry);
    w.reach(dep, &v.network);
    let app = component.name.as_str();
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
            // The JWT-SVID must be issued for the audience the role binds;
            // a backend that does not say it leaves the app to know it.
            if let (Method::Jwt, Some(audience)) = (method, &v.auth.jwt_audience) {
                w.env.push((AUDIENCE_ENV.to_owned(), Env::Plain(audience.clone())));
            }
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
