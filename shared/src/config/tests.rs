use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn base() -> String {
    r#"
public_base_url = "https://auth.example.com/"
allowed_origins = ["https://app.example.com"]
session_ttl = "30d"
transaction_ttl = "10m"
refresh_skew = "60s"

[encryption]
keys = ["${TOKEN_KEY}"]

[providers.corp]
preset = "oidc"
issuer = "https://login.example.com"
client_id = "client-1"
client_secret = "${CORP_SECRET}"
"#
    .to_owned()
}

fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN_KEY" => Some(KEY.into()),
        "CORP_SECRET" => Some("s3cr3t-value".into()),
        _ => None,
    }
}

fn error_key(text: &str) -> String {
    match Config::from_toml(text, env) {
        Ok(_) => panic!("expected a configuration error"),
        Err(e) => e.key,
    }
}

#[test]
fn valid_configuration_is_typed_and_expanded() {
    let c = Config::from_toml(&base(), env).unwrap();
    assert_eq!(c.public_base_url.as_str(), "https://auth.example.com/");
    assert_eq!(c.session_ttl, Duration::from_secs(30 * 86_400));
    assert_eq!(c.transaction_ttl, Duration::from_secs(600));
    assert!(c.cookie_secure);
    let corp = &c.providers[&ProviderId::parse("corp").unwrap()];
    assert_eq!(
        corp.client_secret.current().unwrap().expose(),
        "s3cr3t-value"
    );
    assert_eq!(corp.client_auth, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(corp.scopes, ["openid", "email", "profile"]);
    assert!(!format!("{c:?}").contains("s3cr3t"));
}

#[test]
fn missing_environment_variable_names_the_key_not_the_value() {
    let err = Config::from_toml(&base(), |n| (n == "TOKEN_KEY").then(|| KEY.into())).unwrap_err();
    assert_eq!(err.key, "providers.corp.client_secret");
    assert!(err.message.contains("CORP_SECRET"));
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    let text = base().replace("refresh_skew = \"60s\"", "refresh_skw = \"60s\"");
    let err = Config::from_toml(&text, env).unwrap_err();
    assert!(err.message.contains("refresh_skw"), "{err}");
}

#[test]
fn bad_values_name_their_key() {
    assert_eq!(
        error_key(&base().replace("\"10m\"", "\"ten minutes\"")),
        "transaction_ttl"
    );
    assert_eq!(
        error_key(&base().replace("https://login.example.com", "http://login.example.com")),
        "providers.corp.issuer"
    );
    assert_eq!(
        error_key(&base().replace(
            "[\"https://app.example.com\"]",
            "[\"https://app.example.com/x\"]"
        )),
        "allowed_origins[0]"
    );
    assert_eq!(
        error_key(&base().replace("preset = \"oidc\"", "preset = \"myspace\"")),
        "providers.corp.preset"
    );
    assert_eq!(
        error_key(&format!("{}\nscopes = [\"email\"]\n", base())),
        "providers.corp.scopes"
    );
    assert_eq!(
        error_key(&base().replace("${TOKEN_KEY}", "c2hvcnQ=")),
        "encryption.keys[0]"
    );
    assert_eq!(
        error_key(&format!(
            "default_return_to = \"//evil.example\"\n{}",
            base()
        )),
        "default_return_to"
    );
    assert_eq!(
        error_key(&format!("mobile_redirects = [\"myapp:/cb\"]\n{}", base())),
        "mobile_redirects[0]"
    );
}

#[test]
fn google_and_kakao_presets_fill_in_their_issuer_and_defaults() {
    let text = format!(
        "{}\n[providers.google]\npreset = \"google\"\nclient_id = \"g\"\nclient_secret = \"gs\"\n\
         \n[providers.kakao]\npreset = \"kakao\"\nclient_id = \"k\"\nclient_secret = \"ks\"\n",
        base()
    );
    let c = Config::from_toml(&text, env).unwrap();
    let google = &c.providers[&ProviderId::parse("google").unwrap()];
    assert_eq!(google.issuer(), Some("https://accounts.google.com"));
    assert_eq!(google.client_auth, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(
        google.extra_auth_params,
        [("access_type".to_owned(), "offline".to_owned())]
    );
    let kakao = &c.providers[&ProviderId::parse("kakao").unwrap()];
    assert_eq!(kakao.issuer(), Some("https://kauth.kakao.com"));
    assert_eq!(kakao.client_auth, ClientAuthMethod::ClientSecretPost);
    assert_eq!(kakao.scopes, ["openid"]);
}

fn with_provider(block: &str) -> String {
    format!(
        "public_base_url = \"https://auth.example.com\"\n\
         allowed_origins = [\"https://app.example.com\"]\n{block}"
    )
}

fn one_provider(block: &str) -> ProviderConfig {
    let config = Config::from_toml(&with_provider(block), env).unwrap();
    config.providers.into_values().next().unwrap()
}

fn four_lines(preset: &str) -> String {
    format!(
        "[providers.p]\npreset = \"{preset}\"\nclient_id = \"id-1\"\n\
         client_secret = \"secret-1\"\n"
    )
}

#[test]
fn every_preset_loads_from_four_lines() {
    for (preset, oidc, authorize) in [
        ("google", true, None),
        ("kakao", true, None),
        (
            "naver",
            false,
            Some("https://nid.naver.com/oauth2.0/authorize"),
        ),
        (
            "facebook",
            false,
            Some("https://www.facebook.com/v23.0/dialog/oauth"),
        ),
        (
            "github",
            false,
            Some("https://github.com/login/oauth/authorize"),
        ),
    ] {
        let p = one_provider(&four_lines(preset));
        assert_eq!(p.is_oidc(), oidc, "{preset}");
        assert_eq!(
            p.endpoints.authorization.as_ref().map(Url::as_str),
            authorize,
            "{preset}"
        );
    }
    let github = one_provider(&four_lines("github"));
    assert_eq!(
        github.endpoints.revocation.as_ref().unwrap().as_str(),
        "https://api.github.com/applications/id-1/grant"
    );
    assert_eq!(github.issuer(), Some("https://github.com/login/oauth"));
}

#[test]
fn kakao_speaks_openid_connect_only_when_openid_is_requested() {
    let oidc = one_provider(&four_lines("kakao"));
    assert_eq!(oidc.issuer(), Some("https://kauth.kakao.com"));
    let plain = one_provider(&format!(
        "{}scopes = [\"profile_nickname\", \"account_email\"]\n",
        four_lines("kakao")
    ));
    assert!(!plain.is_oidc());
    assert_eq!(
        plain.endpoints.userinfo.unwrap().as_str(),
        "https://kapi.kakao.com/v2/user/me"
    );
    assert_eq!(plain.userinfo.unwrap().subject, "/id");
}

#[test]
fn preset_endpoints_can_be_overridden_with_https_or_loopback_http() {
    let google = one_provider(&format!(
        "{}issuer = \"http://127.0.0.1:9/google\"\n",
        four_lines("google")
    ));
    assert_eq!(google.issuer(), Some("http://127.0.0.1:9/google"));
    assert_eq!(
        google.accepted_issuers,
        ["http://127.0.0.1:9/google", "127.0.0.1:9/google"]
    );
    let naver = one_provider(&format!(
        "{}token_endpoint = \"http://localhost:7/oauth2.0/token\"\n",
        four_lines("naver")
    ));
    assert_eq!(
        naver.endpoints.token.unwrap().as_str(),
        "http://localhost:7/oauth2.0/token"
    );
    let plain_http = with_provider(&format!(
        "{}userinfo_endpoint = \"http://api.example.com/me\"\n",
        four_lines("naver")
    ));
    assert_eq!(error_key(&plain_http), "providers.p.userinfo_endpoint");
    let facebook = one_provider(&format!(
        "{}api_version = \"v24.0\"\n",
        four_lines("facebook")
    ));
    assert_eq!(
        facebook.endpoints.token.unwrap().as_str(),
        "https://graph.facebook.com/v24.0/oauth/access_token"
    );
}

#[test]
fn a_generic_oauth2_provider_needs_its_endpoints_and_a_subject_pointer() {
    let block = "[providers.acme]\npreset = \"oauth2\"\nclient_id = \"a\"\n\
         client_secret = \"b\"\n\
         authorization_endpoint = \"https://acme.example/oauth/authorize\"\n\
         token_endpoint = \"https://acme.example/oauth/token\"\n\
         userinfo_endpoint = \"https://api.acme.example/me\"\n";
    assert_eq!(
        error_key(&with_provider(&format!("{block}subject = \"id\"\n"))),
        "providers.acme.subject"
    );
    let acme = one_provider(&format!(
        "{block}subject = \"/id\"\nprofile = {{ name = \"/name\", picture = \"/avatar_url\" }}\n"
    ));
    let map = acme.userinfo.unwrap();
    assert_eq!(
        (map.subject.as_str(), map.picture),
        ("/id", vec!["/avatar_url".to_owned()])
    );
    let missing = with_provider(&block.replace("token_endpoint", "tokens_endpoint"));
    assert_eq!(error_key(&missing), "providers.acme.tokens_endpoint");
    let no_token = with_provider(&block.replace(
        "token_endpoint = \"https://acme.example/oauth/token\"\n",
        "",
    ));
    assert_eq!(error_key(&no_token), "providers.acme.token_endpoint");
}

#[test]
fn an_unsupported_preset_is_named() {
    let unknown = base().replace("preset = \"oidc\"", "preset = \"myspace\"");
    let err = Config::from_toml(&unknown, env).unwrap_err();
    assert_eq!(err.key, "providers.corp.preset");
    assert!(
        err.message.contains("myspace") && err.message.contains("apple"),
        "{err}"
    );
}

#[test]
fn plain_http_origins_are_refused_while_cookies_are_secure() {
    let http = base().replace(
        "[\"https://app.example.com\"]",
        "[\"http://app.example.com\"]",
    );
    let err = Config::from_toml(&http, env).unwrap_err();
    assert_eq!(err.key, "allowed_origins[0]");
    assert!(err.message.contains("https"), "{err}");
    // Development: loopback over plain http, or every origin once cookies are not secure.
    let loopback = base().replace(
        "[\"https://app.example.com\"]",
        "[\"http://127.0.0.1:3000\", \"http://localhost:5173\"]",
    );
    assert!(Config::from_toml(&loopback, env).is_ok());
    let insecure = format!("cookie_secure = false\n{http}");
    assert!(Config::from_toml(&insecure, env).is_ok());
}

#[test]
fn a_default_return_to_with_dot_segments_stops_start_up() {
    for bad in [
        "/..//evil.example",
        "/.//evil.example",
        "/%2e%2e//evil.example",
    ] {
        let text = format!("default_return_to = \"{bad}\"\n{}", base());
        assert_eq!(error_key(&text), "default_return_to", "{bad}");
    }
}

#[test]
fn type_errors_name_the_nested_key() {
    let text = base().replace("client_id = \"client-1\"", "client_id = 5");
    assert_eq!(error_key(&text), "providers.corp.client_id");
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_duration("30d"), Some(Duration::from_secs(2_592_000)));
    assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
    assert_eq!(parse_duration("m"), None);
    assert_eq!(parse_duration("5w"), None);
}

#[test]
fn a_configuration_with_every_preset_and_both_kakao_modes_starts() {
    let blocks: String = ["google", "kakao", "naver", "facebook", "github"]
        .iter()
        .map(|p| four_lines(p).replace("[providers.p]", &format!("[providers.{p}]")))
        .collect();
    let text = with_provider(&format!(
        "{blocks}\
         [providers.kakao-plain]\npreset = \"kakao\"\nclient_id = \"k\"\nclient_secret = \"s\"\n\
         scopes = [\"profile_nickname\"]\n\
         [providers.acme]\npreset = \"oauth2\"\nclient_id = \"a\"\nclient_secret = \"b\"\n\
         authorization_endpoint = \"https://acme.example/authorize\"\n\
         token_endpoint = \"https://acme.example/token\"\n\
         userinfo_endpoint = \"https://acme.example/me\"\nsubject = \"/id\"\n"
    ));
    let config = Config::from_toml(&text, env).unwrap();
    let kinds: Vec<(String, bool)> = config
        .providers
        .iter()
        .map(|(id, p)| (id.to_string(), p.is_oidc()))
        .collect();
    assert_eq!(kinds.len(), 7);
    assert!(kinds.contains(&("kakao".into(), true)));
    assert!(kinds.contains(&("kakao-plain".into(), false)));
    let app = crate::app::App::new(
        config,
        std::sync::Arc::new(crate::store::memory::MemoryStore::new()),
    );
    assert!(app.is_ok(), "the application starts");
}

fn p8() -> String {
    crate::provider::client_secret::tests::p8().0
}

fn apple_block(extra: &str) -> String {
    format!(
        "[providers.apple]\npreset = \"apple\"\nclient_id = \"com.example.web\"\n\
         team_id = \"ABCDE12345\"\nkey_id = \"XYZ987ABCD\"\n\
         private_key = \"\"\"\n{}\"\"\"\n{extra}",
        p8()
    )
}

#[test]
fn apple_mints_its_client_secret_and_answers_by_form_post() {
    let apple = one_provider(&apple_block(""));
    assert!(apple.is_oidc());
    assert_eq!(apple.issuer(), Some("https://appleid.apple.com"));
    assert_eq!(
        apple.scopes,
        ["name", "email"],
        "Apple's scopes carry no openid"
    );
    assert_eq!(
        apple.response_mode,
        crate::provider::presets::ResponseMode::FormPost
    );
    assert_eq!(apple.client_auth, ClientAuthMethod::ClientSecretPost);
    let secret = apple.client_secret.current().unwrap();
    let header = jsonwebtoken::decode_header(secret.expose()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("XYZ987ABCD"));
    assert!(
        !format!("{apple:?}").contains(secret.expose()),
        "never printed"
    );
}

/// The `sub` a minted client secret names.
fn minted_for(credential: &crate::provider::client_secret::ClientCredential) -> String {
    let secret = credential.current().unwrap();
    let claims = secret.expose().split('.').nth(1).unwrap();
    let claims = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims);
    let claims: serde_json::Value = serde_json::from_slice(&claims.unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

#[test]
fn a_native_code_is_exchanged_as_the_first_app_with_a_secret_minted_for_it() {
    let apple = one_provider(&apple_block(
        "native_client_ids = [\"com.example.ios\", \"com.example.other\"]\n",
    ));
    let code_client = apple.code_client();
    assert_eq!(code_client.id, "com.example.ios");
    assert_eq!(minted_for(code_client.credential), "com.example.ios");
    assert_eq!(minted_for(apple.web_client().credential), "com.example.web");
    // A session remembers the app; only the first app and the web client are known.
    assert_eq!(apple.client_named(None).unwrap().id, "com.example.web");
    assert_eq!(
        apple.client_named(Some("com.example.web")).unwrap().id,
        "com.example.web"
    );
    assert_eq!(
        apple.client_named(Some("com.example.ios")).unwrap().id,
        "com.example.ios"
    );
    assert!(apple.client_named(Some("com.example.other")).is_none());

    // Without apps, the web client exchanges codes; a configured secret serves both.
    let web_only = one_provider(&apple_block(""));
    assert_eq!(web_only.code_client().id, "com.example.web");
    let google = one_provider(&format!(
        "{}native_client_ids = [\"web-or-android\"]\n",
        four_lines("google")
    ));
    let code_client = google.code_client();
    assert_eq!(code_client.id, "web-or-android");
    assert_eq!(
        code_client.secret().unwrap().expose(),
        google.web_client().secret().unwrap().expose()
    );
}

#[test]
fn apple_refuses_a_configured_secret_a_missing_key_or_a_key_that_does_not_sign() {
    let with_secret = with_provider(&apple_block("client_secret = \"s\"\n"));
    assert_eq!(error_key(&with_secret), "providers.apple.client_secret");
    let no_key = with_provider(
        "[providers.apple]\npreset = \"apple\"\nclient_id = \"c\"\n\
         team_id = \"T\"\nkey_id = \"K\"\n",
    );
    assert_eq!(error_key(&no_key), "providers.apple.private_key");
    let bad_key = with_provider(
        "[providers.apple]\npreset = \"apple\"\nclient_id = \"c\"\n\
         team_id = \"T\"\nkey_id = \"K\"\nprivate_key = \"not-a-key-SECRET\"\n",
    );
    let err = Config::from_toml(&bad_key, env).unwrap_err();
    assert_eq!(err.key, "providers.apple.private_key");
    assert!(!err.message.contains("SECRET"), "{err}");
    let team_elsewhere = with_provider(&format!("{}team_id = \"T\"\n", four_lines("google")));
    assert_eq!(error_key(&team_elsewhere), "providers.p.team_id");
}

#[test]
fn any_provider_may_answer_by_form_post() {
    let google = one_provider(&format!(
        "{}response_mode = \"form_post\"\n",
        four_lines("google")
    ));
    assert_eq!(
        google.response_mode,
        crate::provider::presets::ResponseMode::FormPost
    );
    let bad = with_provider(&format!(
        "{}response_mode = \"fragment\"\n",
        four_lines("google")
    ));
    assert_eq!(error_key(&bad), "providers.p.response_mode");
}

const KMS_ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// Stand-ins for KMS ciphertext blobs: any non-empty base64 parses; only KMS can tell more.
const BLOB_NEW: &str = "AQIDAHhBbG9iLW5ldy1ibG9iLWJ5dGVzLWZvci10ZXN0cw==";
const BLOB_OLD: &str = "AQIDAHhBbG9iLW9sZC1ibG9iLWJ5dGVzLWZvci10ZXN0cw==";

/// `base()` with `[encryption]` replaced by `section`'s lines.
fn with_encryption(section: &str) -> String {
    base().replace("keys = [\"${TOKEN_KEY}\"]", section)
}

fn kms_section() -> String {
    format!("kms_key_id = \"{KMS_ARN}\"\nwrapped_keys = [\"{BLOB_NEW}\", \"{BLOB_OLD}\"]")
}

#[test]
fn kms_wrapped_keys_are_typed_with_the_region_of_their_key_and_redacted() {
    let c = Config::from_toml(&with_encryption(&kms_section()), env).unwrap();
    let Some(Encryption::Kms(kms)) = &c.encryption else {
        panic!("expected KMS-wrapped keys, got {:?}", c.encryption)
    };
    assert_eq!(kms.key_id.as_str(), KMS_ARN);
    assert_eq!(kms.key_id.region(), Some("eu-west-1"));
    assert_eq!(kms.wrapped.len(), 2);
    assert!(kms.endpoint.is_none());
    assert!(c.encryption.as_ref().unwrap().keyring().is_none());
    let debug = format!("{c:?}");
    assert!(
        !debug.contains(BLOB_NEW) && !debug.contains(BLOB_OLD),
        "{debug}"
    );
    assert!(!debug.contains("[1, 2, 3"), "no blob bytes either: {debug}");
}

#[test]
fn raw_keys_are_still_a_keyring() {
    let c = Config::from_toml(&base(), env).unwrap();
    assert!(matches!(c.encryption, Some(Encryption::Keys(_))));
}

#[test]
fn a_kms_endpoint_is_accepted_for_a_local_kms_server() {
    let text = with_encryption(&format!(
        "{}\nkms_endpoint = \"http://127.0.0.1:5000\"",
        kms_section()
    ));
    let c = Config::from_toml(&text, env).unwrap();
    let Some(Encryption::Kms(kms)) = &c.encryption else {
        panic!("expected KMS-wrapped keys")
    };
    assert_eq!(
        kms.endpoint.as_ref().map(Url::as_str),
        Some("http://127.0.0.1:5000/")
    );
}

#[test]
fn kms_wrapped_keys_that_cannot_be_used_name_their_key() {
    let wrapped = |list: &str| format!("kms_key_id = \"{KMS_ARN}\"\nwrapped_keys = {list}");
    assert_eq!(
        error_key(&with_encryption(&wrapped(&format!(
            "[\"{BLOB_NEW}\", \"not base64!\"]"
        )))),
        "encryption.wrapped_keys[1]"
    );
    assert_eq!(
        error_key(&with_encryption(&wrapped("[\"\"]"))),
        "encryption.wrapped_keys[0]"
    );
    assert_eq!(
        error_key(&with_encryption(&wrapped("[]"))),
        "encryption.wrapped_keys"
    );
    assert_eq!(
        error_key(&with_encryption(&format!("kms_key_id = \"{KMS_ARN}\""))),
        "encryption.wrapped_keys"
    );
    assert_eq!(
        error_key(&with_encryption(&format!(
            "wrapped_keys = [\"{BLOB_NEW}\"]"
        ))),
        "encryption.kms_key_id"
    );
    assert_eq!(
        error_key(&with_encryption(&format!(
            "kms_key_id = \"\"\nwrapped_keys = [\"{BLOB_NEW}\"]"
        ))),
        "encryption.kms_key_id"
    );
    assert_eq!(
        error_key(&with_encryption(&format!(
            "kms_key_id = \"arn:aws:kms:eu-west-1:111122223333\"\nwrapped_keys = [\"{BLOB_NEW}\"]"
        ))),
        "encryption.kms_key_id"
    );
    assert_eq!(
        error_key(&with_encryption(&format!(
            "{}\nkms_endpoint = \"localhost:5000\"",
            kms_section()
        ))),
        "encryption.kms_endpoint"
    );
}

#[test]
fn raw_keys_and_kms_wrapped_keys_together_are_refused_naming_the_section() {
    let both = format!("keys = [\"${{TOKEN_KEY}}\"]\n{}", kms_section());
    let err = Config::from_toml(&with_encryption(&both), env).unwrap_err();
    assert_eq!(err.key, "encryption");
    assert!(err.message.contains("not both"), "{err}");
    let keys_and_endpoint = "keys = [\"${TOKEN_KEY}\"]\nkms_endpoint = \"http://127.0.0.1:5000\"";
    assert_eq!(error_key(&with_encryption(keys_and_endpoint)), "encryption");
}

#[test]
fn an_encryption_section_without_keys_is_refused_and_unknown_keys_still_are() {
    assert_eq!(error_key(&with_encryption("")), "encryption");
    let err = Config::from_toml(
        &with_encryption(&format!("{}\nkms_region = \"eu-west-1\"", kms_section())),
        env,
    )
    .unwrap_err();
    assert!(err.message.contains("kms_region"), "{err}");
}

#[test]
fn a_kms_configuration_serves_a_dynamodb_store() {
    let text = format!(
        "{}\n[store]\nkind = \"dynamodb\"\ntable = \"auth\"\n",
        with_encryption(&kms_section())
    );
    let c = Config::from_toml(&text, env).unwrap();
    assert!(matches!(c.encryption, Some(Encryption::Kms(_))));
}

#[test]
fn native_sign_in_keys_are_read_and_checked() {
    let kakao = one_provider(&format!(
        "{}native_client_ids = [\"com.example.ios\"]\napp_id = \"123456\"\n\
         native_trust_access_token = true\n",
        four_lines("kakao")
    ));
    assert_eq!(kakao.native.client_ids, ["com.example.ios"]);
    assert_eq!(kakao.native.app_id.as_deref(), Some("123456"));
    assert!(kakao.native.trust_access_token);
    let plain = one_provider(&four_lines("google"));
    assert_eq!(plain.native, NativeApps::default());

    let refused = |preset: &str, lines: &str| {
        error_key(&with_provider(&format!("{}{lines}\n", four_lines(preset))))
    };
    assert_eq!(
        refused("google", "app_id = \"123\""),
        "providers.p.app_id",
        "only Kakao has an app id"
    );
    assert_eq!(refused("kakao", "app_id = \"12a\""), "providers.p.app_id");
    assert_eq!(refused("kakao", "app_id = \"\""), "providers.p.app_id");
    assert_eq!(
        refused("google", "native_client_ids = [\"ok\", \"has space\"]"),
        "providers.p.native_client_ids[1]"
    );
    assert_eq!(
        refused("google", "native_client_ids = [\"\"]"),
        "providers.p.native_client_ids[0]"
    );
}
