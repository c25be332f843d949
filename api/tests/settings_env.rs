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
