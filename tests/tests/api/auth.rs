//! Authentication: valid tokens of every kind are accepted; every forged, stale or
//! malformed token is refused with 401 `UNAUTHENTICATED`, never treated as anonymous.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use interlib::auth::Role;
use interlib_tests::{TestApp, error_codes, fixtures};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use serde_json::{Value, json};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/keys");
/// The HS256 secret of the servers these tests start.
const SECRET: &str = "auth-tests-own-secret-0123456789abcdef";
const VIEWER: &str = "{ viewer { role subject countries { code } } }";

fn key(name: &str) -> Vec<u8> {
    std::fs::read(format!("{KEYS}/{name}")).expect("test key")
}

/// A server that also trusts the test RSA and Ed25519 keys and the test JWKS.
async fn app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.auth_public_keys = format!("test-rsa:RS256:{KEYS}/rsa-public.pem, test-ed:EdDSA:{KEYS}/ed25519-public.pem");
        s.auth_jwks_file = Some(format!("{KEYS}/jwks.json"));
        s.set_auth_secret(SECRET);
    })
    .await
}

fn claims(app: &TestApp) -> Value {
    let now = get_current_timestamp();
    json!({ "sub": "ops", "role": "admin", "iss": app.keys.issuer(), "aud": app.keys.audience(),
            "iat": now, "nbf": now, "exp": now + 600 })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().cloned().unwrap_or_default() {
        claims[k] = v;
    }
    claims
}

fn signed(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).expect("encode")
}

fn hs(secret: &[u8], claims: &Value) -> String {
    signed(Algorithm::HS256, None, &EncodingKey::from_secret(secret).expect("key"), claims)
}

async fn refused(app: &TestApp, token: &str, why: &str) {
    let res = app.post_as(Some(token), VIEWER, json!({})).await;
    assert_eq!(res.status().as_u16(), 401, "{why}: expected 401");
    assert!(res.headers().contains_key("www-authenticate"), "{why}: WWW-Authenticate");
    let body: Value = res.json().await.expect("json");
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{why}: {body}");
    assert!(body.get("data").is_none(), "{why}: no data for a refused token");
}

async fn role_of(app: &TestApp, token: Option<&str>) -> String {
    let body = app.graphql_as(token, VIEWER, json!({})).await;
    body["data"]["viewer"]["role"].as_str().unwrap_or("<none>").to_owned()
}

#[tokio::test]
async fn no_header_is_anonymous_and_minted_tokens_name_their_role_and_scope() {
    let app = app().await;
    assert_eq!(role_of(&app, None).await, "ANONYMOUS");
    assert_eq!(role_of(&app, Some(&app.admin)).await, "ADMIN");
    let ambassador = app.token(Role::Ambassador, &["za", "LS"], None, None);
    let body = app.graphql_as(Some(&ambassador), VIEWER, json!({})).await;
    assert_eq!(
        body["data"]["viewer"],
        json!({ "role": "AMBASSADOR", "subject": "ambassador:ZA+LS", "countries": [{ "code": "ZA" }, { "code": "LS" }] })
    );
}

#[tokio::test]
async fn rs256_eddsa_and_jwks_keys_are_accepted_by_kid() {
    let app = app().await;
    let c = claims(&app);
    let rsa = EncodingKey::from_rsa_pem(&key("rsa-private.pem")).expect("rsa");
    let ed = EncodingKey::from_ed_pem(&key("ed25519-private.pem")).expect("ed");
    for (alg, kid, key) in [
        (Algorithm::RS256, "test-rsa", &rsa),
        (Algorithm::EdDSA, "test-ed", &ed),
        (Algorithm::RS256, "jwks-rsa", &rsa),
        (Algorithm::EdDSA, "jwks-ed", &ed),
    ] {
        assert_eq!(role_of(&app, Some(&signed(alg, Some(kid), key, &c))).await, "ADMIN", "{kid}");
    }
}

#[tokio::test]
async fn forged_stale_and_malformed_tokens_are_unauthenticated() {
    let app = app().await;
    let secret = SECRET.as_bytes();
    let c = claims(&app);
    let now = get_current_timestamp();
    let valid = hs(secret, &c);
    assert_eq!(role_of(&app, Some(&valid)).await, "ADMIN", "the control token is valid");

    // alg: none, with the payload of a valid token.
    let payload = valid.split('.').nth(1).unwrap_or_default();
    let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#));
    refused(&app, &none, "alg none").await;
    // HS256 "signed" with the RSA public key, naming the RSA key.
    let confused =
        signed(Algorithm::HS256, Some("test-rsa"), &EncodingKey::from_secret(&key("rsa-public.pem")).expect("k"), &c);
    refused(&app, &confused, "HS256 with the RS256 public key").await;
    let confused = hs(&key("rsa-public.pem"), &c);
    refused(&app, &confused, "HS256 with the public key and no kid").await;
    refused(&app, &hs(secret, &with(c.clone(), json!({ "exp": now - 3600 }))), "expired").await;
    refused(&app, &hs(secret, &with(c.clone(), json!({ "nbf": now + 3600 }))), "not yet valid").await;
    refused(&app, &hs(secret, &with(c.clone(), json!({ "aud": "someone-else" }))), "wrong aud").await;
    refused(&app, &hs(secret, &with(c.clone(), json!({ "iss": "evil" }))), "wrong iss").await;
    refused(&app, &hs(b"another-secret-that-is-long-enough-000", &c), "wrong secret").await;
    // Tampered payload: an ambassador token rewritten to admin, signature kept.
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    let parts: Vec<&str> = ambassador.split('.').collect();
    let mut body: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    body["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(body.to_string()), parts[2]);
    refused(&app, &tampered, "tampered payload").await;
    let rsa = EncodingKey::from_rsa_pem(&key("rsa-private.pem")).expect("rsa");
    refused(&app, &signed(Algorithm::RS256, Some("nobody"), &rsa, &c), "unknown kid").await;
    refused(&app, &signed(Algorithm::RS256, Some("test-ed"), &rsa, &c), "RS256 token naming the EdDSA key").await;
    refused(&app, "garbage", "garbage").await;
    refused(&app, "a.b.c", "three garbage parts").await;
    refused(&app, &hs(secret, &with(c.clone(), json!({ "role": "anonymous" }))), "anonymous role").await;
    refused(&app, &hs(secret, &with(c.clone(), json!({ "role": "superuser" }))), "unknown role").await;
    let no_exp = {
        let mut c = c.clone();
        c.as_object_mut().map(|o| o.remove("exp"));
        hs(secret, &c)
    };
    refused(&app, &no_exp, "no exp").await;
    refused(&app, &hs(secret, &with(c, json!({ "role": "ambassador", "countries": ["XX"] }))), "bad country").await;

    // A header that is not a bearer token is refused too, over GET as well.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("authorization", "Basic YTpi")
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 401);
    let res = app
        .client
        .get(format!("{}/graphql?query={{viewer{{role}}}}", app.address))
        .bearer_auth("garbage")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test]
async fn a_small_leeway_absorbs_clock_skew() {
    let app = app().await;
    let secret = SECRET.as_bytes();
    let now = get_current_timestamp();
    let skewed = with(claims(&app), json!({ "exp": now - 10, "nbf": now + 10 }));
    assert_eq!(role_of(&app, Some(&hs(secret, &skewed))).await, "ADMIN");
    // `aud` may also be a list that names this API among others.
    let audiences = with(claims(&app), json!({ "aud": ["another-api", app.keys.audience()] }));
    assert_eq!(role_of(&app, Some(&hs(secret, &audiences))).await, "ADMIN");
    let elsewhere = with(claims(&app), json!({ "aud": ["another-api"] }));
    refused(&app, &hs(secret, &elsewhere), "an audience list without this API").await;
}

#[tokio::test]
async fn tokens_whose_subject_is_gone_are_refused() {
    let app = app().await;
    let net = fixtures::network(&app.db).await;
    let association = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    assert_eq!(role_of(&app, Some(&association)).await, "ASSOCIATION");
    let missing = app.token(Role::Association, &[], Some(net.alia_assoc + 1000), None);
    refused(&app, &missing, "unknown association").await;
    let librarian = app.token(Role::Librarian, &[], None, Some(net.lisa + 1000));
    refused(&app, &librarian, "unknown librarian").await;
    // An ambassador token that names its librarian lapses with the appointment.
    let bongani = app.token(Role::Ambassador, &["ZA"], None, Some(net.bongani));
    assert_eq!(role_of(&app, Some(&bongani)).await, "AMBASSADOR");
    let not_appointed = app.token(Role::Ambassador, &["ZA"], None, Some(net.grace));
    refused(&app, &not_appointed, "not an ambassador").await;
}

#[tokio::test]
async fn the_public_development_secret_opens_nothing_and_production_refuses_it() {
    let app = app().await;
    let forged = hs(interlib::settings::DEVELOPMENT_SECRET.as_bytes(), &claims(&app));
    refused(&app, &forged, "signed with the secret from the source code").await;
    // The production profile does not start on it, nor on a short or repetitive one.
    for secret in [
        interlib::settings::DEVELOPMENT_SECRET,
        interlib::settings::EXAMPLE_SECRET,
        "short",
        &"ab".repeat(20),
        "changeme-changeme-changeme-changeme",
    ] {
        let mut settings = interlib::settings::Settings::for_database(&app.database.url);
        settings.profile = interlib::settings::Profile::Production;
        settings.set_auth_secret(secret);
        let error = interlib::startup::Application::build(&settings).await.err().map(|e| format!("{e:#}"));
        assert!(error.as_deref().unwrap_or("").contains("INTERLIB_AUTH_SECRET"), "{secret}: {error:?}");
    }
}
