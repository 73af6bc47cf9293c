//! A real SMTP server for the delivery tests: Python's aiosmtpd (installed
//! by `scripts/test-deps.sh`), started on a free loopback port, writing every
//! mail it accepts into a maildir the test reads.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    pub port: u16,
    pub maildir: tempfile::TempDir,
    child: Child,
}

fn python() -> Option<String> {
    ["python3", "python"].into_iter().map(String::from).find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpServer {
    /// Starts the server; `None` (with a message) when aiosmtpd is not
    /// installed and `CI` is not set. Under CI a missing server fails the test.
    pub fn start() -> Option<SmtpServer> {
        let Some(python) = python() else {
            let msg = "aiosmtpd is not installed: run scripts/test-deps.sh (needs python3 and pip)";
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        };
        let maildir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = SmtpServer { port, maildir, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// Every mail received so far, raw, in arrival order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let dir: PathBuf = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .map(|e| e.unwrap().path())
            .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap(), p))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| std::fs::read(p).unwrap()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
