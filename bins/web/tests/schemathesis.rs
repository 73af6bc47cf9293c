//! The OpenAPI document against the running server, by schemathesis (from
//! PyPI, installed by scripts/test-deps.sh): it generates requests for
//! every operation from the document (its examples, the edges of each
//! schema, then random ones) and checks each answer: never a 5xx, a status,
//! content type, headers and body the document gives for that operation,
//! and a 405 with an `Allow` header for a method the path does not take.
//!
//! Bounded: 5 cases per operation and phase, one seed, one worker (about
//! 5,000 requests, about a minute). Authenticated as the demo admin with
//! both an API key and a workspace session (with its CSRF header), so the
//! pages and the JSON API are both reached; the operations that would end
//! those credentials (logout, password change, deactivation, revoking API
//! keys) are left out, and so are the mail ingest (`message/rfc822`, which
//! schemathesis cannot write) and the event stream (it never ends).
//!
//! Skipped when schemathesis is missing, unless `CI` is set.

#[path = "common/wire.rs"]
mod wire;
use wire::{blocking, cookie, http, json_of};

use helpdesk_web::demo;
use helpdesk_web::serve::{self, Args, Interfaces};
use std::process::Command;
use std::time::{Duration, Instant};

/// The checks run; see `schemathesis run --help`. Schema-valid requests the
/// server refuses for reasons the document does not state (a label that
/// does not exist, a name already taken) are not among them yet.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,response_headers_conformance,unsupported_method";

/// Operations left out (regular expressions on the path).
const EXCLUDED: &[&str] = &[
    "^/api/mail/inbound$",
    "^/api/agent/logout$",
    "^/agent/logout$",
    "^/api/agent/password$",
    "/deactivate$",
    "^/api/agent/api-keys/",
    // A stream of server-sent events: it never ends, so there is no answer
    // to check (the server and security tests read it).
    "^/api/agent/events$",
];

fn schemathesis() -> Option<String> {
    for python in ["python3", "python"] {
        let ok = Command::new(python)
            .args(["-m", "schemathesis.cli", "--version"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(python.to_string());
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_matches_the_openapi_document() {
    let Some(python) = schemathesis() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is missing: run scripts/test-deps.sh (CI must run this test)"
        );
        eprintln!("skipped: schemathesis is missing (scripts/test-deps.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut args = Args::new(dir.path().join("data"));
    args.listen = "127.0.0.1:0".parse().unwrap();
    args.demo = true;
    let server = serve::start(&args, Interfaces::All).await.unwrap();
    let addr = server.addr;

    // The demo admin: a session (cookie and CSRF token) and an API key.
    let (session, csrf, key) = blocking(move || {
        let body = serde_json::json!({"email": demo::ADMIN.0, "password": demo::ADMIN.1}).to_string();
        let (status, head, body) =
            http(addr, "POST", "/api/agent/login", &[("content-type", "application/json")], body.as_bytes());
        assert_eq!(status, 200, "{body}");
        let session = cookie(&head, "hd_agent");
        let csrf = json_of(&body)["csrf_token"].as_str().unwrap().to_string();
        let (status, _, body) = http(
            addr,
            "POST",
            "/api/agent/api-keys",
            &[("content-type", "application/json"), ("cookie", &session), ("x-csrf-token", &csrf)],
            br#"{"label":"schemathesis"}"#,
        );
        assert_eq!(status, 201, "{body}");
        (session, csrf, json_of(&body)["key"].as_str().unwrap().to_string())
    })
    .await;

    let base = format!("http://{addr}");
    let report = dir.path().join("report");
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "schemathesis.cli", "run", &format!("{base}/api/openapi.json")])
        .args(["--url", &base])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["-H", &format!("Cookie: {session}")])
        .args(["-H", &format!("X-CSRF-Token: {csrf}")])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "5", "--seed", "1", "--workers", "1"])
        .args(["--max-redirects", "0", "--request-timeout", "20", "--no-color"])
        .args(["--report", "junit", "--report-dir"])
        .arg(&report)
        .current_dir(dir.path())
        .env("NO_COLOR", "1");
    // One expression: of several --exclude-path-regex, only one counts.
    cmd.args(["--exclude-path-regex", &EXCLUDED.join("|")]);
    let started = Instant::now();
    let out = blocking(move || {
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start schemathesis");
        // At most ten minutes, whatever happens.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                let _ = child.kill();
                break child.wait_with_output().unwrap();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("schemathesis took {:.0?}", started.elapsed());
    let summary = stdout.rsplit("SUMMARY").next().unwrap_or(&stdout);
    eprintln!("{summary}");
    assert!(
        out.status.success(),
        "schemathesis found answers the document does not describe ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("Tested:"), "nothing was tested:\n{stdout}\n{stderr}");
    server.stop().await.unwrap();
}
