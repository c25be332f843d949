//! `interlib token mint` prints a token the server accepts, and nothing else.

use std::process::Command;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::Value;

const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

fn mint(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_interlib"))
        .args(["token", "mint"])
        .args(args)
        .env("INTERLIB_AUTH_SECRET", SECRET)
        .env("INTERLIB_AUTH_ISSUER", "interlib-test")
        .output()
        .expect("the binary runs")
}

#[test]
fn mint_prints_a_signed_token_with_the_role_and_scope() {
    let out = mint(&["--role", "ambassador", "--country", "za", "--country", "LS", "--ttl", "30d"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let token = stdout.trim();
    assert!(!stdout.contains(SECRET) && !String::from_utf8_lossy(&out.stderr).contains(SECRET));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["interlib-test"]);
    validation.set_audience(&["interlib-api"]);
    let claims = decode::<Value>(token, &DecodingKey::from_secret(SECRET.as_bytes()).expect("key"), &validation)
        .expect("valid token")
        .claims;
    assert_eq!(claims["role"], "ambassador");
    assert_eq!(claims["countries"], serde_json::json!(["ZA", "LS"]));
    let ttl = claims["exp"].as_u64().unwrap_or(0) - claims["iat"].as_u64().unwrap_or(0);
    assert_eq!(ttl, 30 * 24 * 3600);
}

#[test]
fn mint_refuses_a_scope_that_does_not_fit_the_role() {
    for args in [
        &["--role", "association"][..],
        &["--role", "librarian"],
        &["--role", "ambassador"],
        &["--role", "ambassador", "--country", "XX"],
        &["--role", "root"],
        &["--role", "admin", "--ttl", "forever"],
    ] {
        let out = mint(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?} printed a token");
    }
}
