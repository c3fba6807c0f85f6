//! KMS-wrapped data keys (`[encryption] kms_key_id` + `wrapped_keys`) against moto's KMS (the
//! server `scripts/test` starts serves KMS and DynamoDB on one port): start-up unwraps them,
//! rotation keeps older sessions readable, a blob KMS will not open for the configured key stops
//! start-up naming it, and the `admin keys` commands make blobs a configuration accepts.

use std::process::Stdio;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use integration_tests::{TEST_KEY, dynamo_store, dynamodb_endpoint, unique_table};
use shared::App;
use shared::config::{Config, KmsKeyId};
use shared::crypto::Keyring;
use shared::secret::AccessToken;
use shared::store::{Profile, Session, Store, TokenSet};
use shared::types::ProviderId;
use tokio::io::AsyncWriteExt;

const NOW: u64 = 1_800_000_000;

/// A KMS client on the test server.
async fn kms() -> Client {
    let any_key = KmsKeyId::parse("alias/any").unwrap();
    shared::kms::client(&any_key, Some(&dynamodb_endpoint().parse().unwrap()))
        .await
        .unwrap()
}

/// A new KMS key on the test server, by ARN.
async fn new_kms_key(kms: &Client) -> String {
    let created = kms.create_key().send().await.unwrap();
    created.key_metadata.unwrap().arn.unwrap()
}

/// A data key generated under `key`: (plaintext base64, wrapped base64).
async fn data_key(kms: &Client, key: &str) -> (String, String) {
    let out = kms
        .generate_data_key()
        .key_id(key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    (
        STANDARD.encode(out.plaintext.unwrap().into_inner()),
        STANDARD.encode(out.ciphertext_blob.unwrap().into_inner()),
    )
}

/// `plaintext` encrypted under `key`, base64: a wrapped "key" of any length.
async fn wrapped(kms: &Client, key: &str, plaintext: &[u8]) -> String {
    let out = kms
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .unwrap();
    STANDARD.encode(out.ciphertext_blob.unwrap().into_inner())
}

/// What KMS unwraps `blob` to when asked with `key` as the KeyId.
async fn unwrap(kms: &Client, key: &str, blob: &str) -> Vec<u8> {
    kms.decrypt()
        .key_id(key)
        .ciphertext_blob(Blob::new(STANDARD.decode(blob.trim()).unwrap()))
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap()
        .into_inner()
}

/// A configuration as an operator writes it: `wrapped` under `key`, at the test server's KMS,
/// and the `[store]` section given (empty: the embedded store).
fn kms_config(key: &str, wrapped: &[&str], store: &str) -> Config {
    let list = wrapped
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let endpoint = dynamodb_endpoint();
    let text = format!(
        r#"
public_base_url = "https://auth.example.test"
{store}
[encryption]
kms_key_id = "{key}"
wrapped_keys = [{list}]
kms_endpoint = "{endpoint}"
[providers.dev]
preset = "oidc"
issuer = "https://issuer.example.test"
client_id = "c"
client_secret = "s"
"#
    );
    Config::from_toml(&text, |_| None).unwrap()
}

/// The DynamoDB store section for `table` on the test server.
fn dynamodb_section(table: &str) -> String {
    let endpoint = dynamodb_endpoint();
    format!(
        "[store]\nkind = \"dynamodb\"\ntable = \"{table}\"\nendpoint = \"{endpoint}\"\n\
         region = \"us-east-1\"\ncreate_table = true"
    )
}

fn session(key: &str, subject: &str) -> Session {
    Session {
        key: key.to_owned(),
        provider: ProviderId::parse("dev").unwrap(),
        subject: subject.to_owned(),
        profile: Profile::default(),
        sid: None,
        client: None,
        tokens: TokenSet {
            access_token: AccessToken::new(format!("access-{subject}")),
            access_expires_at: NOW + 600,
            refresh_token: None,
            scope: None,
            refreshed_at: 0,
        },
        version: 0,
        lease_until: 0,
        created_at: NOW,
        expires_at: NOW + 3600,
    }
}

/// The start-up error's whole chain, as the Lambda entry point logs it.
async fn startup_failure(config: Config) -> String {
    match App::from_config(config).await {
        Ok(_) => panic!("start-up should have failed"),
        Err(e) => shared::telemetry::Chain(&e).to_string(),
    }
}

fn assert_no_material(message: &str, material: &[&str]) {
    for m in material {
        assert!(
            !message.contains(m),
            "the message holds key material: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kms_configuration_opens_sessions_sealed_under_an_older_key_and_seals_under_the_first() {
    let name =
        "a_kms_configuration_opens_sessions_sealed_under_an_older_key_and_seals_under_the_first";
    if !integration_tests::dynamodb_or_skip(name) {
        return;
    }
    // Arrange: a session sealed while the keyring was [old] alone.
    let kms = kms().await;
    let key = new_kms_key(&kms).await;
    let (old_plain, old_blob) = data_key(&kms, &key).await;
    let (_, new_blob) = data_key(&kms, &key).await;
    let table = unique_table();
    let before_rotation = dynamo_store(&table, &[&old_plain]).await;
    before_rotation
        .create_session(&session("s-old", "old-user"))
        .await
        .unwrap();

    // Act: start with [new, old] wrapped by KMS; write a session.
    let rotated = App::from_config(kms_config(
        &key,
        &[&new_blob, &old_blob],
        &dynamodb_section(&table),
    ))
    .await
    .unwrap();
    let store = rotated.deps().store;
    let old = store.get_session("s-old", NOW).await.unwrap();
    store
        .create_session(&session("s-new", "new-user"))
        .await
        .unwrap();

    // Assert: the old session reads; the new one is sealed under the new key.
    assert_eq!(old.expect("the old session opens").subject, "old-user");
    assert_eq!(
        store
            .get_session("s-new", NOW)
            .await
            .unwrap()
            .unwrap()
            .subject,
        "new-user"
    );
    assert!(
        before_rotation
            .get_session("s-new", NOW)
            .await
            .unwrap()
            .is_none(),
        "a store holding only the old key cannot open what the rotated one sealed"
    );
    let only_new = App::from_config(kms_config(&key, &[&new_blob], &dynamodb_section(&table)))
        .await
        .unwrap();
    let store = only_new.deps().store;
    assert!(
        store.get_session("s-old", NOW).await.unwrap().is_none(),
        "without the old key its session reads as absent, not as an error"
    );
    assert_eq!(
        store
            .get_session("s-new", NOW)
            .await
            .unwrap()
            .unwrap()
            .subject,
        "new-user"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_wrapped_under_another_kms_key_stops_start_up_naming_it() {
    if !integration_tests::dynamodb_or_skip(
        "a_blob_wrapped_under_another_kms_key_stops_start_up_naming_it",
    ) {
        return;
    }
    let kms = kms().await;
    let configured = new_kms_key(&kms).await;
    let other = new_kms_key(&kms).await;
    let (plain, blob) = data_key(&kms, &other).await;

    let message = startup_failure(kms_config(&configured, &[&blob], "")).await;

    assert!(message.contains("encryption.wrapped_keys[0]"), "{message}");
    assert!(
        message.contains("Exception"),
        "names KMS's error code: {message}"
    );
    assert_no_material(&message, &[&plain, &blob]);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_or_tampered_ciphertext_stops_start_up_naming_its_position() {
    let name = "garbage_or_tampered_ciphertext_stops_start_up_naming_its_position";
    if !integration_tests::dynamodb_or_skip(name) {
        return;
    }
    let kms = kms().await;
    let key = new_kms_key(&kms).await;
    let (plain, good) = data_key(&kms, &key).await;
    let (other_plain, other) = data_key(&kms, &key).await;
    let mut bytes = STANDARD.decode(&other).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    let tampered = STANDARD.encode(bytes);
    let garbage = STANDARD.encode([7u8; 96]);

    let tampered_message = startup_failure(kms_config(&key, &[&good, &tampered], "")).await;
    let garbage_message = startup_failure(kms_config(&key, &[&garbage, &good], "")).await;

    assert!(
        tampered_message.contains("encryption.wrapped_keys[1]"),
        "{tampered_message}"
    );
    assert!(
        tampered_message.contains("(InvalidCiphertextException)"),
        "{tampered_message}"
    );
    assert!(
        garbage_message.contains("encryption.wrapped_keys[0]"),
        "{garbage_message}"
    );
    assert!(garbage_message.contains("Exception)"), "{garbage_message}");
    for message in [&tampered_message, &garbage_message] {
        assert_no_material(message, &[&plain, &other_plain, &good, &tampered, &garbage]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrapped_key_that_is_not_32_bytes_is_refused() {
    if !integration_tests::dynamodb_or_skip("a_wrapped_key_that_is_not_32_bytes_is_refused") {
        return;
    }
    let kms = kms().await;
    let key = new_kms_key(&kms).await;
    let short = [0x5au8; 16];
    let blob = wrapped(&kms, &key, &short).await;

    let message = startup_failure(kms_config(&key, &[&blob], "")).await;

    assert!(message.contains("encryption.wrapped_keys[0]"), "{message}");
    assert!(message.contains("16 bytes"), "{message}");
    assert_no_material(&message, &[&STANDARD.encode(short), &blob]);
}

/// Runs the `admin` binary with `args`, `stdin` and extra environment: (success, stdout, stderr).
async fn admin(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let binary =
        tokio::task::spawn_blocking(|| integration_tests::runtime_api::function_binary("admin"))
            .await
            .unwrap();
    let mut child = tokio::process::Command::new(binary)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The one JSON line of `stderr`.
fn security_line(stderr: &str) -> serde_json::Value {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 1, "one security line: {stderr}");
    serde_json::from_str(lines[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_keys_new_prints_only_a_wrapped_32_byte_key_that_a_configuration_accepts() {
    let name = "admin_keys_new_prints_only_a_wrapped_32_byte_key_that_a_configuration_accepts";
    if !integration_tests::dynamodb_or_skip(name) {
        return;
    }
    let kms = kms().await;
    let key = new_kms_key(&kms).await;
    let endpoint = dynamodb_endpoint();

    // The SDK's own endpoint variable, not --kms-endpoint: both must work.
    let (ok, stdout, stderr) = admin(
        &["keys", "new", "--kms-key-id", &key],
        "",
        &[("AWS_ENDPOINT_URL_KMS", &endpoint)],
    )
    .await;

    assert!(ok, "{stderr}");
    let blob = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "only the wrapped key: {stdout}");
    let plaintext = unwrap(&kms, &key, blob).await;
    assert_eq!(plaintext.len(), 32);
    let line = security_line(&stderr);
    assert_eq!(line["action"], "keys.new");
    assert_eq!(line["kms_key_id"], key.as_str());
    assert_eq!(line["outcome"], "success");
    assert_no_material(&stderr, &[&STANDARD.encode(&plaintext), blob]);
    assert_no_material(&stdout, &[&STANDARD.encode(&plaintext)]);
    App::from_config(kms_config(&key, &[blob], ""))
        .await
        .expect("a configuration with the new wrapped key starts");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_keys_wrap_wraps_a_raw_key_so_data_sealed_under_it_stays_readable() {
    let name = "admin_keys_wrap_wraps_a_raw_key_so_data_sealed_under_it_stays_readable";
    if !integration_tests::dynamodb_or_skip(name) {
        return;
    }
    let kms = kms().await;
    let key = new_kms_key(&kms).await;
    let endpoint = dynamodb_endpoint();

    let (ok, stdout, stderr) = admin(
        &[
            "keys",
            "wrap",
            "--kms-key-id",
            &key,
            "--kms-endpoint",
            &endpoint,
        ],
        &format!("{TEST_KEY}\n"),
        &[],
    )
    .await;

    assert!(ok, "{stderr}");
    let blob = stdout.trim();
    assert_eq!(
        unwrap(&kms, &key, blob).await,
        STANDARD.decode(TEST_KEY).unwrap()
    );
    let sealed = Keyring::from_base64(&[TEST_KEY])
        .unwrap()
        .seal(b"token", b"row")
        .unwrap();
    let Some(shared::config::Encryption::Kms(wrapped)) = kms_config(&key, &[blob], "").encryption
    else {
        panic!("a KMS configuration")
    };
    let unwrapped = shared::kms::unwrap_keys(&wrapped).await.unwrap();
    assert_eq!(unwrapped.open(&sealed, b"row").unwrap(), b"token");
    let line = security_line(&stderr);
    assert_eq!(line["action"], "keys.wrap");
    assert_eq!(line["outcome"], "success");
    assert_no_material(&stderr, &[TEST_KEY, blob]);
    assert_no_material(&stdout, &[TEST_KEY]);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_keys_wrap_refuses_a_key_that_is_not_32_bytes_and_logs_the_failure() {
    // Refused before any request, so nothing listens at the endpoint.
    let endpoint = format!("http://127.0.0.1:{}", integration_tests::unused_port());
    let short = STANDARD.encode([9u8; 16]);

    let (ok, stdout, stderr) = admin(
        &[
            "keys",
            "wrap",
            "--kms-key-id",
            "alias/any",
            "--kms-endpoint",
            &endpoint,
        ],
        &short,
        &[],
    )
    .await;

    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    let line = security_line(&stderr);
    assert_eq!(line["action"], "keys.wrap");
    assert_eq!(line["outcome"], "failure");
    assert_eq!(line["error"], "not_a_raw_key");
    assert_no_material(&stderr, &[&short]);
}
