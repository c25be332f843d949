//! Keys of a settings table come from `INTERLIB_<TABLE>__<KEY>` variables (the server
//! refuses to start on a bad one, naming it, before it touches any database).

use std::process::Command;

#[test]
fn a_table_key_is_read_from_a_double_underscore_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_interlib"))
        .arg("serve")
        .env("INTERLIB_DATABASE_URL", "sqlite::memory:")
        .env("INTERLIB_BIND_ADDRESS", "127.0.0.1:0")
        .env("INTERLIB_RATE_LIMIT__POINTS", "0")
        .output()
        .expect("the binary runs");
    assert!(!out.status.success(), "a zero budget is refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rate_limit.points"), "{stderr}");
}

/// `interlib <args>` in the production profile with `secret` (none: the built-in one).
fn production(args: &[&str], secret: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interlib"));
    command
        .args(args)
        .env("INTERLIB_PROFILE", "production")
        .env("INTERLIB_DATABASE_URL", "sqlite::memory:")
        .env("INTERLIB_BIND_ADDRESS", "127.0.0.1:0")
        .env_remove("INTERLIB_AUTH_SECRET");
    if let Some(secret) = secret {
        command.env("INTERLIB_AUTH_SECRET", secret);
    }
    command.output().expect("the binary runs")
}

#[test]
fn production_refuses_to_start_or_mint_without_a_secret_of_its_own() {
    let weak = [
        None,
        Some(interlib::settings::DEVELOPMENT_SECRET),
        Some("too-short-for-hs256"),
        Some("abababababababababababababababababababab"),
        Some(interlib::settings::EXAMPLE_SECRET),
        Some("changeme-changeme-changeme-changeme"),
        Some("0123456789012345678901234567890123456789"),
    ];
    for secret in weak {
        for args in [&["serve"][..], &["token", "mint", "--role", "admin"]] {
            let out = production(args, secret);
            assert!(!out.status.success(), "{args:?} with {secret:?} must not run");
            assert!(out.stdout.is_empty(), "{args:?} with {secret:?} printed {:?}", out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("INTERLIB_AUTH_SECRET"), "says what to set: {stderr}");
        }
    }
    // A secret of its own: tokens are minted (the server itself is started by every e2e
    // test in the production-like settings of TestApp).
    let out = production(&["token", "mint", "--role", "admin"], Some("3f9c1a7e5b2d4c6a8e0f1b3d5a7c9e2f4b6d8a0c"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().split('.').count(), 3, "a JWT");
}
