//! Running the Python clients and checkers under `tests/python`: whether
//! python3 has what a test needs (a test without it is skipped with a
//! notice, unless WAGATE_REQUIRE_POLYGLOT=1 as in CI, where it fails), and
//! one bounded run of a script.

use std::ffi::OsStr;
use std::time::Duration;

use wagate_tests::TempDir;

/// Whether python3 can import `modules` (comma-separated, as in Python).
/// When not: fails under WAGATE_REQUIRE_POLYGLOT=1, else prints that `test`
/// is skipped and returns false.
pub fn python_has(modules: &str, test: &str) -> bool {
    let available = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var("WAGATE_REQUIRE_POLYGLOT").as_deref() != Ok("1"),
            "WAGATE_REQUIRE_POLYGLOT=1 but python3 cannot import {modules} (pip install -r tests/python/requirements.txt)"
        );
        eprintln!("SKIPPED {test}: pip install -r tests/python/requirements.txt to run it");
    }
    available
}

/// Runs `tests/python/{script}` with `args` and `env` (at most 120 s);
/// asserts it succeeded and returns its standard output.
pub async fn run_python(script: &str, args: &[&OsStr], env: &[(&str, &str)]) -> String {
    let path = format!("{}/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let child = tokio::process::Command::new("python3")
        .arg(path)
        .args(args)
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("python finishes")
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Checks an OpenAPI document with openapi-spec-validator and that it has an
/// operation for each `{"method", "path"}` in `expected`.
pub async fn validate_openapi(document: &[u8], expected: &[serde_json::Value]) {
    let dir = TempDir::new("openapi");
    let document_path = dir.path().join("openapi.json");
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&document_path, document).unwrap();
    std::fs::write(&expected_path, serde_json::to_vec(expected).unwrap()).unwrap();
    let stdout = run_python(
        "validate_openapi.py",
        &[document_path.as_os_str(), expected_path.as_os_str()],
        &[],
    )
    .await;
    assert!(stdout.contains("openapi ok"), "{stdout}");
}
