//! The `spec.acme` of the ACME ClusterIssuer: account, solvers and external
//! account binding, from checked inputs.
//!
//! Every credential is a `{name, key}` reference to a Secret cert-manager
//! reads from the cluster resource namespace; no value is ever written here.

use serde_json::{Map, Value, json};

use crate::inputs::acme::{
    Acme, Dns01, Dns01Provider, ExternalAccountBinding, Rfc2136, Route53, SecretKeySelector,
};

/// `spec.acme` of the ClusterIssuer. `http01_class` is the ingress class
/// HTTP-01 challenges go through, `None` when `acme.http01` is off.
pub fn issuer_spec(acme: &Acme, http01_class: Option<&str>) -> Value {
    let mut spec = json!({
        "server": acme.server,
        "email": acme.email,
        // cert-manager creates and keeps the ACME account key here.
        "privateKeySecretRef": { "name": format!("{}-account-key", acme.name) },
        "solvers": solvers(acme, http01_class),
    });
    if let Some(eab) = &acme.external_account_binding {
        spec["externalAccountBinding"] = external_account_binding(eab);
    }
    spec
}

/// HTTP-01 first, DNS-01 second. cert-manager picks, per name, the solver
/// with the most specific selector and, among equals, the first listed; a
/// solver is only considered for the challenge types the CA offers, and
/// for a wildcard CAs offer DNS-01 alone. So plain names keep going
/// through the ingress, wildcards go through DNS, and `dns01.zones` (a
/// zone selector beats none) moves the names in those zones to DNS.
fn solvers(acme: &Acme, http01_class: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(class) = http01_class {
        out.push(json!({ "http01": { "ingress": { "ingressClassName": class } } }));
    }
    if let Some(dns01) = &acme.dns01
        && let Some(provider) = dns01.providers().into_iter().next()
    {
        out.push(dns01_solver(dns01, &provider));
    }
    out
}

fn dns01_solver(dns01: &Dns01, provider: &Dns01Provider<'_>) -> Value {
    let config = match provider {
        Dns01Provider::Route53(r) => json!({ "route53": route53(r) }),
        Dns01Provider::Cloudflare(c) => {
            json!({ "cloudflare": { "apiTokenSecretRef": secret_ref(&c.api_token_secret) } })
        }
        Dns01Provider::Rfc2136(r) => json!({ "rfc2136": rfc2136(r) }),
    };
    let mut solver = json!({ "dns01": config });
    if !dns01.zones.is_empty() {
        solver["selector"] = json!({ "dnsZones": dns01.zones });
    }
    solver
}

fn route53(r: &Route53) -> Value {
    let mut out = Map::new();
    if let Some(region) = &r.region {
        out.insert("region".into(), json!(region));
    }
    if let Some(zone) = &r.hosted_zone_id {
        out.insert("hostedZoneID".into(), json!(zone));
    }
    if let Some(role) = &r.role {
        out.insert("role".into(), json!(role));
    }
    if let Some(key) = &r.access_key {
        out.insert("accessKeyIDSecretRef".into(), secret_ref(&key.access_key_id_secret));
        out.insert("secretAccessKeySecretRef".into(), secret_ref(&key.secret_access_key_secret));
    }
    if let Some(sa) = &r.service_account {
        let mut account = json!({ "name": sa.name });
        if !sa.audiences.is_empty() {
            account["audiences"] = json!(sa.audiences);
        }
        out.insert("auth".into(), json!({ "kubernetes": { "serviceAccountRef": account } }));
    }
    // Neither access_key nor service_account: nothing more, and cert-manager
    // uses its ambient AWS credentials (IRSA, Pod Identity, instance profile).
    Value::Object(out)
}

fn rfc2136(r: &Rfc2136) -> Value {
    let mut out = json!({
        "nameserver": r.nameserver,
        "tsigKeyName": r.tsig_key_name,
        // Always explicit: cert-manager's own default is HMACMD5.
        "tsigAlgorithm": r.tsig_algorithm.as_str(),
        "tsigSecretSecretRef": secret_ref(&r.tsig_secret),
    });
    if let Some(protocol) = r.protocol {
        out["protocol"] = json!(protocol.as_str());
    }
    out
}

fn external_account_binding(eab: &ExternalAccountBinding) -> Value {
    let mut out = json!({ "keyID": eab.key_id, "keySecretRef": secret_ref(&eab.hmac_key_secret) });
    if let Some(algorithm) = eab.key_algorithm {
        out["keyAlgorithm"] = json!(algorithm.as_str());
    }
    out
}

fn secret_ref(r: &SecretKeySelector) -> Value {
    json!({ "name": r.name, "key": r.key })
}
