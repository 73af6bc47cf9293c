//! The inbound SMTP listener, driven by a real SMTP client (lettre).

mod common;

use common::*;
use helpdesk_mail::{SmtpListener, SmtpListenerConfig};
use lettre::address::Envelope;
use lettre::{SmtpTransport, Transport};
use std::io::{BufRead, BufReader, Write};

fn client(port: u16) -> SmtpTransport {
    SmtpTransport::builder_dangerous("127.0.0.1").port(port).build()
}

fn envelope(from: &str, to: &str) -> Envelope {
    Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_by_smtp() {
    let f = fixture();
    let listener =
        SmtpListener::start("127.0.0.1:0".parse().unwrap(), f.gateway.clone(), SmtpListenerConfig::default())
            .await
            .unwrap();
    let port = listener.local_addr().port();
    let hd = f.hd.clone();
    tokio::task::spawn_blocking(move || {
        let smtp = client(port);
        // A new ticket, with a dot-stuffed line.
        let raw = b"From: Quinn <quinn@acme.com>\r\nTo: support@helpdesk.test\r\nSubject: By SMTP\r\n\r\nLine one\r\n.leading dot\r\n";
        smtp.send_raw(&envelope("quinn@acme.com", "support@helpdesk.test"), raw).unwrap();
        let t = hd.ticket(helpdesk_core::TicketId(2)).unwrap();
        assert_eq!(t.subject, "By SMTP");
        assert_eq!(t.messages[0].body, "Line one\n.leading dot");

        // Not one of our addresses: refused at RCPT.
        let err = smtp.send_raw(&envelope("quinn@acme.com", "nobody@helpdesk.test"), raw).unwrap_err();
        assert!(err.is_permanent(), "{err}");

        // Malformed mail: refused after DATA with the reason.
        let err = smtp
            .send_raw(&envelope("quinn@acme.com", "support@helpdesk.test"), b"Subject: no sender\r\n\r\nx\r\n")
            .unwrap_err();
        assert!(err.is_permanent() && err.to_string().contains("no sender"), "{err}");

        // The agent-impersonation refusal travels back to the sending MTA too.
        let spoof = b"From: alice@helpdesk.test\r\nTo: support@helpdesk.test\r\nSubject: Re: x [#1]\r\n\r\nclose it\r\n";
        let err = smtp.send_raw(&envelope("alice@helpdesk.test", "support@helpdesk.test"), spoof).unwrap_err();
        assert!(err.is_permanent(), "{err}");
    })
    .await
    .unwrap();
    assert_eq!(f.hd.ticket(f.ticket.id).unwrap(), f.ticket);
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_are_answered_not_fatal() {
    let f = fixture();
    let listener =
        SmtpListener::start("127.0.0.1:0".parse().unwrap(), f.gateway.clone(), SmtpListenerConfig::default())
            .await
            .unwrap();
    let port = listener.local_addr().port();
    let replies = tokio::task::spawn_blocking(move || {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut line = String::new();
        let mut read = |r: &mut BufReader<std::net::TcpStream>| {
            line.clear();
            r.read_line(&mut line).unwrap();
            line.split_whitespace().next().unwrap_or("").to_string()
        };
        let mut codes = vec![read(&mut r)];
        for cmd in [
            "DATA".to_string(),
            "RCPT TO:<support@helpdesk.test>".to_string(),
            "MAIL FROM:bad".to_string(),
            "BOGUS".to_string(),
            format!("NOOP {}", "x".repeat(5000)),
            "MAIL FROM:<a@b.cc> SIZE=999999999".to_string(),
            "QUIT".to_string(),
        ] {
            w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
            codes.push(read(&mut r));
        }
        codes
    })
    .await
    .unwrap();
    assert_eq!(replies, ["220", "503", "503", "501", "502", "500", "552", "221"]);
    listener.stop().await;
}
