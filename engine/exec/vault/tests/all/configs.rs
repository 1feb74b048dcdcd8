//! Configuration objects: written, compared as the server reads them back,
//! corrected; sensitive ones never shown.

use capstan_core::{Sensitive, Text, VaultConfig, VaultOp};
use capstan_vault::VaultError;
use serde_json::json;

use crate::support::{assert_settled, auth, changes, config, effect, env, outcomes, row, unique, words};

#[test]
fn a_role_is_written_then_unchanged_in_the_servers_spellings() {
    let env = env();
    let approle = unique("approle");
    let role = format!("auth/{approle}/role/consent");
    // Durations, comma lists, a single value for a list and a bool as a
    // string: the server reads each back in another spelling.
    let e = effect(
        "role",
        vec![
            auth(&approle, "approle", "apps"),
            config(
                &role,
                json!({
                    "token_ttl": "1h",
                    "token_max_ttl": "24h",
                    "token_policies": "consent, default",
                    "secret_id_bound_cidrs": "10.0.0.0/8",
                    "bind_secret_id": "true",
                    "token_num_uses": 0,
                }),
            ),
        ],
    );
    assert_eq!(env.exec.check(&e).unwrap()[1], format!("{role}: missing"));
    let first = env.exec.apply(&e).unwrap();
    assert_eq!(
        outcomes(&first),
        [row("ensure-auth", &approle, "created"), row("ensure-config", &role, "created")]
    );
    let data = &env.bao.ok("GET", &role, None)["data"];
    assert_eq!((&data["token_ttl"], &data["token_max_ttl"]), (&json!(3600), &json!(86400)));
    assert_eq!(data["token_policies"], json!(["consent", "default"]));
    assert_eq!(data["secret_id_bound_cidrs"], json!(["10.0.0.0/8"]));
    assert_settled(&env, &e);
}

#[test]
fn a_field_changed_by_hand_is_reported_and_corrected() {
    let env = env();
    let approle = unique("approle");
    let role = format!("auth/{approle}/role/consent");
    let e = effect(
        "role",
        vec![
            auth(&approle, "approle", ""),
            config(&role, json!({"token_ttl": "1h", "token_policies": ["consent"], "token_type": "service"})),
        ],
    );
    env.exec.apply(&e).unwrap();
    env.bao.ok("POST", &role, Some(&json!({"token_ttl": "2h", "token_policies": "x"})));

    assert_eq!(
        env.exec.check(&e).unwrap(),
        [
            format!("{role}: token_ttl 2h → declared \"1h\""),
            format!("{role}: token_policies [\"x\"] → declared [\"consent\"]"),
        ]
    );
    let fixed = env.exec.apply(&e).unwrap();
    assert_eq!(words(&fixed), ["unchanged", "changed"]);
    assert_eq!(changes(&fixed, 1), ["token_ttl 2h → \"1h\"", "token_policies [\"x\"] → [\"consent\"]"]);
    let data = &env.bao.ok("GET", &role, None)["data"];
    assert_eq!((&data["token_ttl"], &data["token_policies"]), (&json!(3600), &json!(["consent"])));
    assert_settled(&env, &e);
}

/// A userpass user: its password is never read back, so it is sent on
/// every run; the outcome says so, and never shows it.
#[test]
fn a_sensitive_config_is_sent_but_never_shown() {
    let env = env();
    let userpass = unique("userpass");
    let user = format!("auth/{userpass}/users/consent");
    let password = "correct-horse-battery-staple";
    let secret = |data: serde_json::Value| {
        VaultOp::EnsureConfig(VaultConfig {
            path: user.clone(),
            data: Text::Sensitive(Sensitive::new(data.to_string())),
        })
    };
    let e = effect(
        "user",
        vec![auth(&userpass, "userpass", ""), secret(json!({"password": password, "token_ttl": "1h"}))],
    );
    assert!(!format!("{e:?}").contains(password));

    let first = env.exec.apply(&e).unwrap();
    assert_eq!(words(&first), ["created", "created"]);
    // The password works: the user logs in with it.
    let (status, login) =
        env.bao.call("POST", &format!("auth/{userpass}/login/consent"), Some(&json!({"password": password})));
    assert_eq!(status, 200, "{login}");
    assert!(login["auth"]["client_token"].is_string());

    // Again: only the password, which the server never reads back, is sent.
    let again = env.exec.apply(&e).unwrap();
    assert_eq!(words(&again), ["unchanged", "executed"]);
    assert_eq!(changes(&again, 1), ["write-only fields re-sent: password"]);
    assert_eq!(env.exec.check(&e).unwrap(), Vec::<String>::new(), "a password cannot be compared");

    // A readable field changed by hand: named, never with its value.
    env.bao.ok("POST", &user, Some(&json!({"token_ttl": "3h"})));
    assert_eq!(
        env.exec.check(&e).unwrap(),
        [format!("{user}: token_ttl differs from the declared value (not shown)")]
    );
    let fixed = env.exec.apply(&e).unwrap();
    assert_eq!(changes(&fixed, 1), ["token_ttl changed", "write-only fields re-sent: password"]);
    assert_eq!(env.bao.ok("GET", &user, None)["data"]["token_ttl"], 3600);

    // A write the server refuses: its message never holds the password,
    // though the server may quote what it was sent.
    let refused = effect(
        "user",
        vec![secret(
            json!({"password": password, "token_ttl": format!("{password}h"), "token_type": password}),
        )],
    );
    let err = env.exec.apply(&refused).unwrap_err();
    assert!(matches!(err, VaultError::Http { status: 400, .. }), "{err:?}");
    // OpenBao quotes the duration it could not parse; the quote is replaced.
    assert!(err.to_string().contains(r#"invalid duration "(sensitive)h""#), "{err}");

    for text in [
        first.body.to_string(),
        again.body.to_string(),
        fixed.body.to_string(),
        err.to_string(),
        format!("{err:?}"),
        format!("{:?}", env.exec),
    ] {
        assert!(!text.contains(password), "{text}");
    }
}
