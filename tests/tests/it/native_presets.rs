//! Every preset with a native SDK, through the shipped binaries: one configuration naming
//! Apple, Google, Kakao, Facebook and Naver (each served by its fixture), and for each the
//! credential kinds its SDK hands an app. Ours become a bearer session; another app's are
//! `invalid_grant`. Run once through the local runner and once through the session function's
//! Lambda binary.

use integration_tests::fixtures::{
    AppleAppKey, AppleFixture, AppleSetup, FixtureKind, FixtureServer, GoogleFixture, GoogleSetup,
    SdkApp, ServerAuthCode,
};
use integration_tests::runtime_api::{Outcome, RuntimeApi, function_binary};
use serde_json::{Value, json};

const BUNDLE_ID: &str = "com.example.ios";
const WEB_CLIENT: &str = "1234-web.apps.googleusercontent.com";
const ANDROID_CLIENT: &str = "1234-android.apps.googleusercontent.com";
const NONCE: &str = "native-presets-nonce-0123456789";

/// The five providers' fixtures and the app key Apple's secrets are minted from.
struct Presets {
    apple: AppleFixture,
    apple_key: AppleAppKey,
    google: GoogleFixture,
    kakao: FixtureServer,
    facebook: FixtureServer,
    naver: FixtureServer,
}

/// One request an app would send, and what it must get.
struct Case {
    provider: &'static str,
    what: &'static str,
    body: Value,
    /// `None`: a session; `Some(code)`: this 400 error.
    refused: Option<&'static str>,
}

impl Presets {
    async fn start() -> Self {
        let apple_key = AppleAppKey::generate();
        let apple = AppleFixture::spawn(AppleSetup {
            client_id: "com.example.web".into(),
            team_id: "ABCDE12345".into(),
            key_id: "KEY1234567".into(),
            public_key: apple_key.public_key.clone(),
        })
        .await;
        apple.add_native_app(BUNDLE_ID);
        let google = GoogleFixture::spawn(GoogleSetup {
            web_client_id: WEB_CLIENT.into(),
            web_client_secret: "google-secret".into(),
        })
        .await;
        Self {
            apple,
            apple_key,
            google,
            kakao: FixtureServer::spawn(FixtureKind::KakaoOAuth2, "kakao-app", "kakao-secret")
                .await,
            facebook: FixtureServer::spawn(FixtureKind::Facebook, "4242", "facebook-secret").await,
            naver: FixtureServer::spawn(FixtureKind::Naver, "naver-app", "naver-secret").await,
        }
    }

    /// Endpoint lines for a plain OAuth 2.0 fixture.
    fn endpoints(fx: &FixtureServer) -> String {
        format!(
            "authorization_endpoint = \"{}\"\ntoken_endpoint = \"{}\"\n\
             userinfo_endpoint = \"{}\"\nrevocation_endpoint = \"{}\"\n",
            fx.authorization_endpoint(),
            fx.token_endpoint(),
            fx.userinfo_endpoint(),
            fx.revocation_endpoint().unwrap()
        )
    }

    /// The whole configuration file.
    fn config(&self) -> String {
        format!(
            "public_base_url = \"https://auth.example.com\"\n\
             allowed_origins = [\"https://app.example.com\"]\n\n\
             [providers.apple]\npreset = \"apple\"\nclient_id = \"com.example.web\"\n\
             native_client_ids = [\"{BUNDLE_ID}\"]\nteam_id = \"ABCDE12345\"\n\
             key_id = \"KEY1234567\"\nissuer = \"{apple}\"\n\
             private_key = \"\"\"\n{pem}\"\"\"\n\n\
             [providers.google]\npreset = \"google\"\nclient_id = \"{WEB_CLIENT}\"\n\
             client_secret = \"google-secret\"\nissuer = \"{google}\"\n\
             native_client_ids = [\"{WEB_CLIENT}\", \"{ANDROID_CLIENT}\"]\n\n\
             [providers.kakao]\npreset = \"kakao\"\nclient_id = \"kakao-app\"\n\
             client_secret = \"kakao-secret\"\napp_id = \"{kakao_app}\"\n\
             scopes = [\"profile_nickname\", \"account_email\"]\n{kakao}\n\
             [providers.facebook]\npreset = \"facebook\"\nclient_id = \"4242\"\n\
             client_secret = \"facebook-secret\"\n{facebook}\n\
             [providers.naver]\npreset = \"naver\"\nclient_id = \"naver-app\"\n\
             client_secret = \"naver-secret\"\nnative_trust_access_token = true\n{naver}",
            apple = self.apple.issuer(),
            pem = self.apple_key.private_key_pem,
            google = self.google.issuer(),
            kakao_app = self.kakao.kakao_app_id(),
            kakao = Self::endpoints(&self.kakao),
            facebook = Self::endpoints(&self.facebook),
            naver = Self::endpoints(&self.naver),
        )
    }

    /// Fresh credentials: for each preset, each kind its SDK hands our app, and another app's.
    fn cases(&self) -> Vec<Case> {
        let code = |body| json!({ "authorization_code": body });
        let id_token = |token: String| json!({ "id_token": token, "nonce": NONCE });
        let access = |token: String| json!({ "access_token": token });
        let google_code = |server: &str| {
            self.google.sdk_server_auth_code(ServerAuthCode {
                server_client_id: server.into(),
                app_client_id: ANDROID_CLIENT.into(),
                nonce: None,
                offline: true,
            })
        };
        let case = |provider, what, body, refused| Case {
            provider,
            what,
            body,
            refused,
        };
        let naver_ours = self.naver.sdk_tokens(SdkApp::Ours);
        vec![
            case(
                "apple",
                "our app's authorizationCode",
                code(self.apple.sdk_authorization_code(BUNDLE_ID, None)),
                None,
            ),
            case(
                "apple",
                "another app's authorizationCode",
                code(self.apple.sdk_authorization_code("com.attacker.app", None)),
                Some("invalid_grant"),
            ),
            case(
                "apple",
                "our app's identityToken",
                id_token(self.apple.sdk_identity_token(BUNDLE_ID, Some(NONCE))),
                None,
            ),
            case(
                "apple",
                "another app's identityToken",
                id_token(
                    self.apple
                        .sdk_identity_token("com.attacker.app", Some(NONCE)),
                ),
                Some("invalid_grant"),
            ),
            case(
                "google",
                "our serverAuthCode",
                code(google_code(WEB_CLIENT)),
                None,
            ),
            case(
                "google",
                "another server's serverAuthCode",
                code(google_code("9999-attacker.apps.googleusercontent.com")),
                Some("invalid_grant"),
            ),
            case(
                "google",
                "our app's id_token",
                id_token(
                    self.google
                        .sdk_id_token(WEB_CLIENT, ANDROID_CLIENT, Some(NONCE)),
                ),
                None,
            ),
            case(
                "google",
                "another app's id_token",
                id_token(self.google.sdk_id_token(
                    "9999-attacker.apps.googleusercontent.com",
                    "9999-attacker-android",
                    Some(NONCE),
                )),
                Some("invalid_grant"),
            ),
            case(
                "kakao",
                "our app's access token",
                access(self.kakao.sdk_access_token(SdkApp::Ours)),
                None,
            ),
            case(
                "kakao",
                "another app's access token",
                access(self.kakao.sdk_access_token(SdkApp::Other)),
                Some("invalid_grant"),
            ),
            case(
                "facebook",
                "our app's access token",
                access(self.facebook.sdk_access_token(SdkApp::Ours)),
                None,
            ),
            case(
                "facebook",
                "another app's access token",
                access(self.facebook.sdk_access_token(SdkApp::Other)),
                Some("invalid_grant"),
            ),
            case(
                "naver",
                "a trusted access token and its refresh token",
                json!({
                    "access_token": naver_ours.access_token,
                    "refresh_token": naver_ours.refresh_token,
                }),
                None,
            ),
            case(
                "naver",
                "a token Naver does not know",
                access("AAAA-not-a-naver-token".into()),
                Some("invalid_grant"),
            ),
            case(
                "kakao",
                "a kind Kakao's SDK does not hand out",
                code("kakao-code".into()),
                Some("unsupported_grant_type"),
            ),
            case(
                "facebook",
                "an id_token, which Facebook Login does not issue",
                id_token(
                    self.google
                        .sdk_id_token(WEB_CLIENT, ANDROID_CLIENT, Some(NONCE)),
                ),
                Some("unsupported_grant_type"),
            ),
        ]
    }
}

/// Asserts one answer (`status`, JSON `body`) is what `case` must get.
fn assert_answer(case: &Case, status: u16, body: &Value) {
    let label = format!("{}: {} → {status} {body}", case.provider, case.what);
    match case.refused {
        None => {
            assert_eq!(status, 200, "{label}");
            assert_eq!(body["token_type"], "Bearer", "{label}");
            assert!(body["session_token"].as_str().is_some(), "{label}");
        }
        Some(code) => {
            assert_eq!(status, 400, "{label}");
            assert_eq!(body["error"], code, "{label}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_native_sdk_credential_through_the_local_runner() {
    let presets = Presets::start().await;
    let config = std::env::temp_dir().join(format!(
        "native-presets-{}.toml",
        shared::crypto::random_token(6)
    ));
    std::fs::write(&config, presets.config()).unwrap();
    let local = super::local_runner::Local::start_with(Some(&config)).await;
    let http = reqwest::Client::new();

    let post = |path: String, body: String, bearer: Option<String>| {
        let mut request = http
            .post(format!("http://{}{path}", local.addr))
            .header("content-type", "application/json")
            .body(body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
    };

    let mut sessions = Vec::new();
    for case in presets.cases() {
        let path = format!("/auth/{}/native", case.provider);
        let (status, body) = post(path, case.body.to_string(), None).await;
        assert_answer(&case, status, &body);
        if let Some(session) = body["session_token"].as_str() {
            sessions.push(session.to_owned());
        }
    }
    // The Apple code's session refreshes at Apple as the app it was issued to.
    let force = json!({ "force": true }).to_string();
    let (status, _) = post("/auth/refresh".into(), force, Some(sessions[0].clone())).await;
    assert_eq!(status, 200);
    let refresh = presets.apple.stats().grant("refresh_token");
    assert_eq!(refresh.count, 1);
    assert_eq!(refresh.form("client_id").as_deref(), Some(BUNDLE_ID));

    let (stdout, _) = local.stop().await;
    let _ = std::fs::remove_file(&config);
    let events = |code: &str| stdout.lines().filter(|l| l.contains(code)).count();
    assert_eq!(events("\"native_signed_in\""), 7, "one event per session");
    assert_eq!(events("\"native_refused\""), 9, "one event per refusal");
    for session in &sessions {
        assert!(
            !stdout.contains(session.as_str()),
            "a session token was printed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_native_sdk_credential_through_the_session_lambda_binary() {
    let presets = Presets::start().await;
    let binary = tokio::task::spawn_blocking(|| function_binary("session"))
        .await
        .unwrap();
    let mut api = RuntimeApi::start().await.unwrap();
    let config = presets.config();
    api.spawn_function(&binary, &[("AUTH_CONFIG", &config)])
        .unwrap();

    let cases = presets.cases();
    for case in &cases {
        let event = super::lambda::native_event(case.provider, &case.body);
        let Ok(Outcome::Response(resp)) = api.invoke(event).await else {
            panic!("{}: {}: no response", case.provider, case.what);
        };
        let status = u16::try_from(resp["statusCode"].as_u64().unwrap()).unwrap();
        let body =
            serde_json::from_str(resp["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        assert!(resp["headers"].get("set-cookie").is_none(), "{resp}");
        assert_answer(case, status, &body);
    }
    let logs = api.stop().await;
    assert!(!logs.contains(NONCE), "a nonce was logged");
    // The Apple code went out as the app, with a secret minted for it.
    let exchange = presets.apple.stats().grant("authorization_code");
    assert_eq!(exchange.form("client_id").as_deref(), Some(BUNDLE_ID));
    for case in &cases {
        let credential = ["authorization_code", "id_token", "access_token"]
            .iter()
            .find_map(|kind| case.body[kind].as_str())
            .unwrap();
        assert!(
            !logs.contains(credential),
            "{}: {} logged",
            case.provider,
            case.what
        );
    }
}
