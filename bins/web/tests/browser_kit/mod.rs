//! What the browser tests share: headless Chromium through chromedriver
//! (skipped locally without them, a failure when `CI` is set), serving
//! routes on a free port, waiting for text and URLs, clicking through live
//! refreshes, screenshots into target/screenshots/, and the axe-core audit.
#![allow(dead_code)]

use fantoccini::{ClientBuilder, Locator};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A browser session with what keeps it alive (chromedriver, the profile).
pub struct Browser {
    pub c: fantoccini::Client,
    driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Closes the browser and stops chromedriver.
    pub async fn close(self) {
        self.c.close().await.unwrap();
        drop(self.driver);
    }
}

/// Starts headless Chromium, or `None` (locally) when it is not installed.
pub async fn browser() -> Option<Browser> {
    let (Some(chromium), Some(chromedriver)) = (find("chromium"), find("chromedriver")) else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium and chromedriver are required in CI: run scripts/test-deps.sh");
        }
        eprintln!(
            "skipping browser test: chromium/chromedriver not installed (scripts/test-deps.sh installs them)"
        );
        return None;
    };
    let port = free_port();
    let driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let profile = tempfile::tempdir().unwrap();
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,900", format!("--user-data-dir={}", profile.path().display())]
        }
    }))
    .unwrap();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return Some(Browser { c, driver, _profile: profile }),
            Err(e) => {
                assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

pub fn find(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join(bin)).find(|p| p.is_file())
}

pub struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub async fn serve(routes: warp::filters::BoxedFilter<(warp::reply::Response,)>, host: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(format!("{host}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    addr
}

pub async fn wait_text(c: &fantoccini::Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(want) {
            return text;
        }
        if Instant::now() >= deadline {
            screenshot(c, "failure").await;
            panic!("timed out waiting for {want:?} in {css}; last text: {text:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn screenshot(c: &fantoccini::Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

pub const AXE: &str = include_str!("../assets/axe-core/axe.min.js");

pub async fn audit(c: &fantoccini::Client, what: &str) {
    c.execute(AXE, vec![]).await.unwrap();
    let r = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(r => done(r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
                    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let found: Vec<String> = serde_json::from_value(r).unwrap();
    assert!(found.is_empty(), "accessibility violations on {what}:\n{}", found.join("\n"));
}

/// Clicks `css` once it is there, again if a live refresh replaced it meanwhile.
pub async fn click(c: &fantoccini::Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let done = match c.find(Locator::Css(css)).await {
            Ok(e) => e.click().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match done {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => {
                screenshot(c, "failure").await;
                panic!("timed out clicking {css}: {}", e.lines().next().unwrap_or_default());
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_until_url(c: &fantoccini::Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = c.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {path}; at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn displayed(c: &fantoccini::Client, css: &str) -> bool {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}
