//! An inbound SMTP listener (RFC 5321, the subset an MTA relaying to us
//! uses): `EHLO/HELO`, `MAIL`, `RCPT` (only the helpdesk's account
//! addresses), `DATA`, `RSET`, `NOOP`, `QUIT`. Each mail is handed to
//! [`MailGateway::ingest_to`] with its envelope recipients; the reply code
//! says what became of it (250 taken, 550 refused with the reason, 451 try
//! again later).
//!
//! Meant to listen on loopback or a private interface behind the site's MTA
//! (which does TLS, spam filtering and retries); it offers no STARTTLS or AUTH.

use crate::error::MailError;
use crate::gateway::MailGateway;
use crate::inbound::MAX_MAIL_BYTES;
use helpdesk_core::Email;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

/// Listener settings.
#[derive(Debug, Clone)]
pub struct SmtpListenerConfig {
    /// The name in the greeting.
    pub hostname: String,
    /// Largest mail accepted.
    pub max_size: usize,
    /// Most recipients per mail.
    pub max_recipients: usize,
    /// Most connections at once.
    pub max_connections: usize,
    /// Idle time allowed per command or data line.
    pub timeout: Duration,
}

impl Default for SmtpListenerConfig {
    fn default() -> Self {
        SmtpListenerConfig {
            hostname: "helpdesk.localhost".into(),
            max_size: MAX_MAIL_BYTES,
            max_recipients: 100,
            max_connections: 64,
            timeout: Duration::from_secs(300),
        }
    }
}

/// A running listener.
#[derive(Debug)]
pub struct SmtpListener {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpListener {
    /// Binds `addr` (port 0 picks a free one) and serves until stopped.
    /// Must be called inside a tokio runtime.
    pub async fn start(
        addr: SocketAddr,
        gateway: MailGateway,
        config: SmtpListenerConfig,
    ) -> std::io::Result<SmtpListener> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = oneshot::channel();
        let config = Arc::new(config);
        let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            let mut s = stream;
                            let _ = s.write_all(b"421 4.3.2 too many connections, try again later\r\n").await;
                            continue;
                        };
                        let (gateway, config) = (gateway.clone(), config.clone());
                        tokio::spawn(async move {
                            let _ = session(stream, gateway, &config).await;
                            drop(permit);
                        });
                    }
                }
            }
        });
        Ok(SmtpListener { addr, stop: Some(stop), task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections (sessions under way finish).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Reads one line of at most `max` bytes (without its CR LF); `None` at EOF.
/// An over-long line is consumed and reported as `Err(())`.
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    max: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Result<(), ()>>> {
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() && !too_long { None } else { Some(Ok(())) });
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take <= max {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            too_long = true;
        }
        r.consume(take);
        if done {
            break;
        }
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(if too_long { Err(()) } else { Ok(()) }))
}

fn path_arg(arg: &str, prefix: &str) -> Option<String> {
    let rest =
        arg.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &arg[prefix.len()..])?;
    let rest = rest.trim_start();
    let addr = rest.strip_prefix('<')?.split('>').next()?;
    Some(addr.to_string())
}

fn reply_for(result: &Result<crate::IngestOutcome, MailError>) -> String {
    let clean = |s: String| s.replace(['\r', '\n'], " ").chars().take(400).collect::<String>();
    match result {
        // A blocked sender's server learns nothing of the block.
        Ok(crate::IngestOutcome::Ignored { reason: helpdesk_core::mail::LoopReason::BlockedSender(_) }) => {
            "250 2.0.0 ok".to_string()
        }
        Ok(o) => format!("250 2.0.0 ok: {}", clean(format!("{o:?}"))),
        Err(MailError::TooLarge { .. }) => {
            format!("552 5.3.4 {}", clean(result.as_ref().unwrap_err().to_string()))
        }
        Err(MailError::Helpdesk(helpdesk_store::Error::Store(e))) => {
            format!("451 4.3.0 try again later: {}", clean(e.to_string()))
        }
        Err(e) => format!("550 5.7.1 {}", clean(e.to_string())),
    }
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    gateway: MailGateway,
    config: &SmtpListenerConfig,
) -> std::io::Result<()> {
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::new(r);
    let host = &config.hostname;
    w.write_all(format!("220 {host} helpdesk-rs ESMTP ready\r\n").as_bytes()).await?;
    let mut line = Vec::new();
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let read = tokio::time::timeout(config.timeout, read_line(&mut r, 1000, &mut line)).await;
        let reply: String = match read {
            Err(_) => {
                w.write_all(b"421 4.4.2 timeout\r\n").await?;
                return Ok(());
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(Err(())))) => "500 5.5.2 line too long".into(),
            Ok(Ok(Some(Ok(())))) => {
                let text = String::from_utf8_lossy(&line).to_string();
                let (verb, arg) = match text.split_once(' ') {
                    Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
                    None => (text.trim().to_ascii_uppercase(), String::new()),
                };
                match verb.as_str() {
                    "EHLO" => format!(
                        "250-{host}\r\n250-8BITMIME\r\n250-SIZE {}\r\n250 ENHANCEDSTATUSCODES",
                        config.max_size
                    ),
                    "HELO" => format!("250 {host}"),
                    "NOOP" => "250 2.0.0 ok".into(),
                    "RSET" => {
                        from = None;
                        rcpts.clear();
                        "250 2.0.0 ok".into()
                    }
                    "QUIT" => {
                        w.write_all(b"221 2.0.0 bye\r\n").await?;
                        return Ok(());
                    }
                    "VRFY" => "252 2.1.5 cannot verify".into(),
                    "MAIL" => match path_arg(&arg, "FROM:") {
                        None => "501 5.5.4 syntax: MAIL FROM:<address>".into(),
                        Some(_) if from.is_some() => "503 5.5.1 sender already given".into(),
                        Some(addr) => {
                            let size = arg.split_whitespace().find_map(|p| {
                                p.to_ascii_uppercase()
                                    .strip_prefix("SIZE=")
                                    .and_then(|n| n.parse::<usize>().ok())
                            });
                            if size.is_some_and(|s| s > config.max_size) {
                                "552 5.3.4 message too large".into()
                            } else {
                                from = Some(addr);
                                "250 2.1.0 ok".into()
                            }
                        }
                    },
                    "RCPT" => match path_arg(&arg, "TO:") {
                        None => "501 5.5.4 syntax: RCPT TO:<address>".into(),
                        Some(_) if from.is_none() => "503 5.5.1 MAIL first".into(),
                        Some(_) if rcpts.len() >= config.max_recipients => {
                            "452 4.5.3 too many recipients".into()
                        }
                        Some(addr) => {
                            let gw = gateway.clone();
                            let a = addr.clone();
                            let known = tokio::task::spawn_blocking(move || {
                                Email::parse(&a)
                                    .ok()
                                    .map(|e| gw.helpdesk().email_account_by_address(e.as_str()))
                            })
                            .await
                            .map_err(std::io::Error::other)?;
                            match known {
                                Some(Ok(Some(_))) => {
                                    rcpts.push(addr);
                                    "250 2.1.5 ok".into()
                                }
                                Some(Err(_)) => "451 4.3.0 try again later".into(),
                                _ => format!("550 5.1.1 <{addr}>: no such mailbox here"),
                            }
                        }
                    },
                    "DATA" if rcpts.is_empty() => "503 5.5.1 RCPT first".into(),
                    "DATA" => {
                        w.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                        let mut data = Vec::new();
                        let mut too_big = false;
                        loop {
                            let read =
                                tokio::time::timeout(config.timeout, read_line(&mut r, 1 << 16, &mut line))
                                    .await;
                            match read {
                                Err(_) => {
                                    w.write_all(b"421 4.4.2 timeout\r\n").await?;
                                    return Ok(());
                                }
                                Ok(Err(e)) => return Err(e),
                                Ok(Ok(None)) => return Ok(()),
                                Ok(Ok(Some(_))) => {}
                            }
                            if line == b"." {
                                break;
                            }
                            let l = if line.starts_with(b".") { &line[1..] } else { &line[..] };
                            if data.len() + l.len() + 2 > config.max_size {
                                too_big = true;
                            } else if !too_big {
                                data.extend_from_slice(l);
                                data.extend_from_slice(b"\r\n");
                            }
                        }
                        let envelope = std::mem::take(&mut rcpts);
                        from = None;
                        if too_big {
                            "552 5.3.4 message too large".into()
                        } else {
                            let gw = gateway.clone();
                            let result = tokio::task::spawn_blocking(move || gw.ingest_to(&data, &envelope))
                                .await
                                .map_err(std::io::Error::other)?;
                            reply_for(&result)
                        }
                    }
                    "" => "500 5.5.2 empty command".into(),
                    _ => "502 5.5.1 command not implemented".into(),
                }
            }
        };
        w.write_all(reply.as_bytes()).await?;
        w.write_all(b"\r\n").await?;
    }
}
