//! `admin sessions …` as an operator runs it: the binary, the deployment's configuration and
//! the deployed table's shape (moto), after real sign-ins through the app.

use std::process::Stdio;

use integration_tests::{
    BackendKind, Harness, TEST_KEY, client_secret, dynamodb_endpoint, dynamodb_or_skip,
    sha256_b64url,
};
use serde_json::Value;

/// The harness's configuration pointed at its table, as an operator's copy of the deployed
/// configuration would be.
fn operator_config(h: &Harness) -> tempfile_path::Path {
    let text = format!(
        "{}\n[store]\nkind = \"dynamodb\"\ntable = \"{}\"\nendpoint = \"{}\"\n",
        h.config_text,
        h.store.table,
        dynamodb_endpoint()
    );
    tempfile_path::Path::write(&text)
}

/// A file removed when dropped.
mod tempfile_path {
    pub struct Path(std::path::PathBuf);
    impl Path {
        pub fn write(text: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "admin-config-{}.toml",
                integration_tests::unique_table()
            ));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }
        pub fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Runs `admin sessions <args> --config <config>`: (success, stdout, stderr).
async fn sessions(config: &str, args: &[&str]) -> (bool, String, String) {
    let binary =
        tokio::task::spawn_blocking(|| integration_tests::runtime_api::function_binary("admin"))
            .await
            .unwrap();
    let out = tokio::process::Command::new(binary)
        .arg("sessions")
        .args(args)
        .args(["--config", config])
        .env("SECRET_DEV", client_secret("dev"))
        .env("ADMIN_ACTOR", "ops-test")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The one security event of an action.
fn event(stderr: &str) -> Value {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 1, "one security line: {stderr}");
    serde_json::from_str(lines[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_lists_and_ends_a_users_sessions_on_the_deployed_table() {
    if !dynamodb_or_skip("an_operator_lists_and_ends_a_users_sessions_on_the_deployed_table") {
        return;
    }
    // The deployment's keys: the functions hash events under the first one, as admin does.
    let h = Harness::builder()
        .backend(BackendKind::Dynamodb)
        .setting(&format!("[encryption]\nkeys = [\"{TEST_KEY}\"]"))
        .spawn()
        .await;
    let mut first = h.browser();
    let first_id = first.sign_in("dev", "alice").await;
    let mut second = h.browser();
    let second_id = second.sign_in("dev", "alice").await;
    let mut bob = h.browser();
    bob.sign_in("dev", "bob").await;
    let login_uids: Vec<String> = h
        .events
        .lines()
        .iter()
        .filter(|e| e["metadata"]["event_code"] == "login_succeeded")
        .map(|e| e["session"]["uid"].as_str().unwrap().to_owned())
        .collect();
    let config = operator_config(&h);
    let config = config.as_str();

    // List: alice's two sessions, named by the uids her login events carry; nothing secret.
    let (ok, out, err) =
        sessions(config, &["list", "--provider", "dev", "--subject", "alice"]).await;
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let mut uids: Vec<String> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session"].as_str().unwrap().to_owned())
        .collect();
    uids.sort();
    let mut alice_uids = login_uids[..2].to_vec();
    alice_uids.sort();
    assert_eq!(uids, alice_uids);
    for s in listed["sessions"].as_array().unwrap() {
        assert_eq!(s["refreshable"], true);
        assert_eq!(s["provider_session"], true);
        assert!(s["expires_at"].as_u64().unwrap() > h.now());
    }
    let listing = event(&err);
    assert_eq!(listing["metadata"]["event_code"], "admin_sessions_listed");
    assert_eq!(listing["actor"]["user"]["name"], "ops-test");
    assert_eq!(listing["unmapped"]["sessions"], 2);
    let alice_user_uid = h
        .events
        .lines()
        .iter()
        .find(|e| e["session"]["uid"] == login_uids[0].as_str())
        .map(|e| e["user"]["uid"].clone())
        .unwrap();
    assert_eq!(
        listing["user"]["uid"], alice_user_uid,
        "the functions' user.uid"
    );
    let first_tokens = h.session_for(&first_id).await.tokens;
    for secret in [
        first_id.as_str(),
        second_id.as_str(),
        sha256_b64url(&first_id).as_str(),
        first_tokens.access_token.expose(),
        first_tokens.refresh_token.as_ref().unwrap().expose(),
        "alice@example.com",
    ] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "printed {secret}"
        );
    }
    assert!(
        !err.contains("alice"),
        "the event names the user by hash only: {err}"
    );

    // End one: the first sign-in's session, by the uid from its login event.
    let (ok, out, err) = sessions(
        config,
        &[
            "end-one",
            "--provider",
            "dev",
            "--subject",
            "alice",
            "--session",
            &login_uids[0],
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["ended"], 1);
    assert_eq!(event(&err)["metadata"]["event_code"], "admin_session_ended");
    first.session().await.assert_error(401, "unauthenticated");
    assert_eq!(second.session().await.status, 200);

    // A uid that is not alice's live session (bob's, the one just ended, or one that starts
    // with `-` as a base64url hash may) ends nothing, and is read as a value, not a flag.
    let bob_uid = &login_uids[2];
    for uid in [
        bob_uid.as_str(),
        login_uids[0].as_str(),
        "-9abcdefghijklmnopqrstu",
    ] {
        let (ok, _, err) = sessions(
            config,
            &[
                "end-one",
                "--provider",
                "dev",
                "--subject",
                "alice",
                "--session",
                uid,
            ],
        )
        .await;
        assert!(!ok);
        assert!(err.contains("no live session"), "{err}");
    }
    assert_eq!(bob.session().await.status, 200);

    // Count: every live session.
    let (ok, out, err) = sessions(config, &["count"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["live_sessions"],
        2
    );
    assert_eq!(
        event(&err)["metadata"]["event_code"],
        "admin_sessions_counted"
    );

    // End all of alice's; bob keeps his.
    let (ok, out, err) = sessions(
        config,
        &["end-all", "--provider", "dev", "--subject", "alice"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["ended"], 1);
    let ended = event(&err);
    assert_eq!(ended["metadata"]["event_code"], "admin_sessions_ended");
    assert_eq!(ended["activity_name"], "Logoff");
    second.session().await.assert_error(401, "unauthenticated");
    assert_eq!(bob.session().await.status, 200);
    let (_, out, _) = sessions(config, &["count"]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["live_sessions"],
        1
    );

    // A provider the configuration does not have.
    let (ok, _, err) = sessions(
        config,
        &["list", "--provider", "nope", "--subject", "alice"],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("no provider \"nope\""), "{err}");
}
