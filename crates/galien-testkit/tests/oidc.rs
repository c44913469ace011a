//! The test OpenID provider (panva/oidc-provider), driven by hand as a relying party would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_testkit::oidc::{Account, ClientConfig, OidcProvider, ProviderConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9qGkA4Cz7w5gRXxPmeqbNtgtVoUJxNeGY4";

fn config(auth_method: &str) -> ProviderConfig {
    let mut client = ClientConfig::new("galien", "s3cret-s3cret-s3cret", REDIRECT);
    client.token_endpoint_auth_method = auth_method.to_owned();
    ProviderConfig {
        clients: vec![client],
        accounts: vec![Account::doctor("810000000001", "10000000001")],
        ..ProviderConfig::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response, base: &str) -> String {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("no Location on {} {}", response.status(), response.url()))
        .to_str()
        .unwrap();
    reqwest::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

fn query(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Runs /auth → login form → POST login → redirects; returns the final redirect to the client.
async fn authorize(
    http: &reqwest::Client,
    idp: &OidcProvider,
    extra_form: &[(&str, &str)],
) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut auth = reqwest::Url::parse(&format!("{}/auth", idp.issuer())).unwrap();
    auth.query_pairs_mut()
        .append_pair("client_id", "galien")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile email rpps")
        .append_pair("state", "state-123")
        .append_pair("nonce", "nonce-456")
        .append_pair("acr_values", "eidas1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");

    let r = http.get(auth.as_str()).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let interaction = location(&r, idp.issuer());
    assert!(interaction.contains("/interaction/"), "{interaction}");

    let r = http.get(&interaction).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"name="login""#), "{html}");
    let action = html
        .split(r#"action=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(action.ends_with("/login"), "{action}");

    let mut form = vec![("login", "810000000001")];
    form.extend_from_slice(extra_form);
    let mut r = http
        .post(format!("{}{action}", idp.issuer()))
        .form(&form)
        .send()
        .await
        .unwrap();
    // Back to /auth/:uid, and on to the client.
    for _ in 0..5 {
        assert!(
            r.status().is_redirection(),
            "{}: {:?}",
            r.status(),
            r.text().await
        );
        let next = location(&r, idp.issuer());
        if next.starts_with(REDIRECT) {
            return next;
        }
        r = http.get(&next).send().await.unwrap();
    }
    panic!("no redirect to the client within 5 hops");
}

async fn token(http: &reqwest::Client, idp: &OidcProvider, code: &str, basic: bool) -> Value {
    let discovery: Value = http
        .get(idp.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let mut request = http.post(discovery["token_endpoint"].as_str().unwrap());
    if basic {
        request = request.basic_auth("galien", Some("s3cret-s3cret-s3cret"));
    } else {
        form.push(("client_id", "galien"));
        form.push(("client_secret", "s3cret-s3cret-s3cret"));
    }
    let r = request.form(&form).send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advertises_code_flow_pkce_s256_and_eidas1() {
    let idp = OidcProvider::start(config("client_secret_basic")).await;
    assert!(idp.issuer().starts_with("http://127.0.0.1:"));
    let d: Value = client()
        .get(idp.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], idp.issuer());
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let acr = d["acr_values_supported"].as_array().unwrap();
    assert!(acr.iter().any(|v| v == "eidas1"), "{acr:?}");
    let scopes = d["scopes_supported"].as_array().unwrap();
    for s in ["openid", "profile", "email", "rpps"] {
        assert!(scopes.iter().any(|v| v == s), "{s} not in {scopes:?}");
    }
    assert!(
        d["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "RS256")
    );
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_code_flow_with_pkce_yields_an_id_token_with_acr_amr_and_rpps() {
    let idp = OidcProvider::start(config("client_secret_basic")).await;
    let http = client();
    let callback = authorize(&http, &idp, &[]).await;
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(query(&callback, "iss").as_deref(), Some(idp.issuer()));
    let code = query(&callback, "code").unwrap();

    let tokens = token(&http, &idp, &code, true).await;
    assert_eq!(tokens["token_type"], "Bearer");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                tokens["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["aud"], "galien");
    assert_eq!(claims["sub"], "810000000001");
    assert_eq!(claims["nonce"], "nonce-456");
    assert_eq!(claims["acr"], "eidas1");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    assert!(claims["auth_time"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(claims["rpps"], "10000000001");
    assert_eq!(claims["family_name"], "Martin");
    assert_eq!(claims["email"], "810000000001@medecins.example.test");

    // The access token opens the userinfo endpoint.
    let access_token = tokens["access_token"].as_str().unwrap();
    let userinfo = || {
        http.get(format!("{}/me", idp.issuer()))
            .bearer_auth(access_token)
            .send()
    };
    let me: Value = userinfo().await.unwrap().json().await.unwrap();
    assert_eq!(me["sub"], "810000000001", "{me}");
    assert_eq!(me["rpps"], "10000000001", "{me}");

    // The code is single use, and replaying it revokes what it gave (RFC 6749 §4.1.2).
    let again = http
        .post(format!("{}/token", idp.issuer()))
        .basic_auth("galien", Some("s3cret-s3cret-s3cret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(userinfo().await.unwrap().status(), 401);
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_form_can_assert_a_single_factor_and_client_secret_post_works() {
    let idp = OidcProvider::start(config("client_secret_post")).await;
    let http = client();
    let callback = authorize(&http, &idp, &[("acr", "eidas2"), ("amr", "pwd")]).await;
    let code = query(&callback, "code").unwrap();
    let tokens = token(&http, &idp, &code, false).await;
    let claims = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "eidas2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_without_pkce_is_refused() {
    let idp = OidcProvider::start(config("client_secret_basic")).await;
    let url = format!(
        "{}/auth?client_id=galien&response_type=code&scope=openid&state=s&redirect_uri={}",
        idp.issuer(),
        REDIRECT
    );
    let r = client().get(url).send().await.unwrap();
    let to = location(&r, idp.issuer());
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query(&to, "error").as_deref(), Some("invalid_request"));
    idp.stop().await;
}
