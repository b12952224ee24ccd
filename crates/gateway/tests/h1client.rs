//! The upstream HTTP/1.1 client against scripted servers on real sockets: keep-alive reuse,
//! stale connections, framing, cut-off and malformed answers, cancellation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use jevons_gateway::h1client::{post, tls_trusting, CallError, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Reads one request (head and Content-Length body); `None` when the client closed.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut b = [0u8; 4096];
                let n = s.read(&mut b).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&b[..n]);
            }
            buf.drain(..end + 4 + len);
            return Some(head);
        }
        let mut b = [0u8; 4096];
        let n = s.read(&mut b).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
}

/// A server answering every request on every connection with `answer(request_no)`;
/// `close_after` answers it closes the connection. Returns the target and the number of
/// connections accepted.
async fn server(answer: fn(usize) -> Vec<u8>, close_after: usize) -> (Target, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let conns = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let c = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let served = served.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                for _ in 0..close_after {
                    if read_request(&mut s, &mut buf).await.is_none() {
                        return;
                    }
                    let n = served.fetch_add(1, Ordering::SeqCst);
                    if s.write_all(&answer(n)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let json = HeaderValue::from_static("application/json");
    let t = Target::post(
        &format!("http://{addr}/v1/chat/completions"),
        &[("content-type", &json)],
    )
    .expect("target");
    (t, conns)
}

fn ok(n: usize) -> Vec<u8> {
    let body = format!("{{\"n\":{n}}}");
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn body_of(t: &Target) -> Result<String, String> {
    let r = post(t, &[], b"{}").await.map_err(|e| format!("{e:?}"))?;
    let b = r.bytes().await?;
    Ok(String::from_utf8_lossy(&b).to_string())
}

/// `n` requests in a row, each answered `want`; then the connections the server accepted.
async fn answers(t: &Target, n: usize, want: &str, conns: &AtomicUsize) -> usize {
    for _ in 0..n {
        assert_eq!(body_of(t).await, Ok(want.to_string()));
    }
    conns.load(Ordering::SeqCst)
}

#[tokio::test]
async fn keep_alive_connections_are_reused() {
    let (t, conns) = server(ok, usize::MAX).await;
    for i in 0..5 {
        assert_eq!(body_of(&t).await, Ok(format!("{{\"n\":{i}}}")));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_without_an_error() {
    // The server closes each connection after one answer, without saying so.
    let (t, conns) = server(ok, 1).await;
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(body_of(&t).await, Ok(format!("{{\"n\":{i}}}")));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn connection_close_and_unframed_answers_are_not_reused() {
    fn close(_: usize) -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok".to_vec()
    }
    let (t, conns) = server(close, usize::MAX).await;
    assert_eq!(answers(&t, 3, "ok", &conns).await, 3);
    // No length and not chunked: the body runs to the connection's end.
    fn eof(_: usize) -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec()
    }
    let (t, conns) = server(eof, 1).await;
    assert_eq!(answers(&t, 2, "until the end", &conns).await, 2);
}

#[tokio::test]
async fn chunked_answers_decode_and_interim_answers_are_skipped() {
    fn chunked(_: usize) -> Vec<u8> {
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\ntrailer: t\r\n\r\n".to_vec()
    }
    let (t, conns) = server(chunked, usize::MAX).await;
    assert_eq!(answers(&t, 3, "hello world", &conns).await, 1);
}

#[tokio::test]
async fn cut_off_and_malformed_answers_are_errors_naming_the_upstream() {
    fn cut(_: usize) -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this".to_vec()
    }
    let (t, _) = server(cut, 1).await;
    let e = body_of(&t).await.expect_err("cut body");
    assert!(
        e.contains("connection closed 91 bytes before the end"),
        "{e}"
    );
    assert!(e.contains(t.origin()), "{e}");

    fn garbage(_: usize) -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n".to_vec()
    }
    let (t, _) = server(garbage, 1).await;
    let e = body_of(&t).await.expect_err("garbage head");
    assert!(e.contains("invalid HTTP response head"), "{e}");

    fn half(_: usize) -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\ncontent-le".to_vec()
    }
    let (t, _) = server(half, 1).await;
    let e = body_of(&t).await.expect_err("half head");
    assert!(e.contains("in the middle of the response head"), "{e}");

    fn bad_chunk(_: usize) -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec()
    }
    let (t, _) = server(bad_chunk, 1).await;
    let e = body_of(&t).await.expect_err("bad chunk");
    assert!(e.contains("invalid chunk size"), "{e}");
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    let t = Target::post(&format!("http://{addr}/x"), &[]).expect("target");
    match post(&t, &[], b"{}").await {
        Err(CallError::Connect(e)) => assert!(e.contains(&addr.to_string()), "{e}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stream_arrives_piece_by_piece_and_dropping_it_closes_the_connection() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let (next_tx, mut next_rx) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        let mut buf = Vec::new();
        read_request(&mut s, &mut buf).await.expect("request");
        s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata 1\r\n")
            .await
            .expect("write");
        // The second piece only after the client saw the first.
        next_rx.recv().await;
        s.write_all(b"6\r\ndata 2\r\n").await.expect("write");
        let mut b = [0u8; 16];
        let n = s.read(&mut b).await.unwrap_or(0);
        let _ = closed_tx.send(n);
    });
    let t = Target::post(&format!("http://{addr}/x"), &[]).expect("target");
    let mut r = post(&t, &[], b"{}").await.expect("response");
    assert_eq!(r.head.status, 200);
    let first = r.chunk().await.expect("chunk").expect("data");
    assert_eq!(&first[..], b"data 1");
    next_tx.send(()).await.expect("signal");
    let second = r.chunk().await.expect("chunk").expect("data");
    assert_eq!(&second[..], b"data 2");
    drop(r);
    let n = tokio::time::timeout(Duration::from_secs(5), closed_rx)
        .await
        .expect("server saw the close")
        .expect("value");
    assert_eq!(n, 0, "the server reads the end of the stream");
}

#[tokio::test]
async fn a_reused_connection_failing_late_is_an_error_not_a_second_request() {
    // The first request is answered; the second is read, then the server takes longer than
    // the stale window and drops the connection without answering (a crash mid-request).
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut n = 0;
                while read_request(&mut s, &mut buf).await.is_some() {
                    seen.fetch_add(1, Ordering::SeqCst);
                    n += 1;
                    if n == 2 {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                        return;
                    }
                    if s.write_all(&ok(0)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let t = Target::post(&format!("http://{addr}/x"), &[]).expect("target");
    assert!(body_of(&t).await.is_ok());
    let e = body_of(&t).await.expect_err("the second request fails");
    assert!(e.contains("connection closed before a response"), "{e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(requests.load(Ordering::SeqCst), 2, "sent once, not resent");
}

#[tokio::test]
async fn an_answer_sent_before_the_body_was_read_is_returned() {
    // The server answers 413 after the head and closes without reading the 32 MiB body.
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut b = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut b).await.expect("read");
            head.extend_from_slice(&b[..n]);
        }
        let body = r#"{"error":"too large"}"#;
        let answer = format!(
            "HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(answer.as_bytes()).await.expect("write");
        drop(s);
    });
    let t = Target::post(&format!("http://{addr}/x"), &[]).expect("target");
    let big = vec![b'x'; 32 << 20];
    match post(&t, &[], &big).await {
        Ok(r) => {
            assert_eq!(r.head.status, 413);
            let b = r.bytes().await.expect("body");
            assert_eq!(&b[..], br#"{"error":"too large"}"#);
        }
        // The kernel may have discarded the answer when the reset came: then the write's
        // own error is what is left.
        Err(CallError::Protocol(e)) => assert!(e.contains("sending the request failed"), "{e}"),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

mod common;
use common::{tls_acceptor, tls_fixture as fixture};

/// A TLS server on 127.0.0.1 with the fixture identity, answering `ok` to every request on
/// every connection; returns its port and the number of connections accepted.
async fn tls_server() -> (u16, Arc<AtomicUsize>) {
    let acceptor = tls_acceptor();
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let conns = Arc::new(AtomicUsize::new(0));
    let c = conns.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut n = 0;
                while read_request(&mut tls, &mut buf).await.is_some() {
                    if tls.write_all(&ok(n)).await.is_err() {
                        return;
                    }
                    n += 1;
                }
            });
        }
    });
    (port, conns)
}

#[tokio::test]
async fn https_with_a_trusted_ca_file_works_and_keeps_its_connection() {
    let (port, conns) = tls_server().await;
    let t = Target::post(
        &format!("https://localhost:{port}/v1/chat/completions"),
        &[],
    )
    .expect("target")
    .with_tls(tls_trusting(&fixture("localhost.cert.pem")).expect("trusted"));
    for i in 0..3 {
        assert_eq!(body_of(&t).await, Ok(format!("{{\"n\":{i}}}")));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn https_to_an_untrusted_certificate_is_a_connect_error() {
    let (port, _) = tls_server().await;
    let t = Target::post(&format!("https://localhost:{port}/x"), &[]).expect("target");
    match post(&t, &[], b"{}").await {
        Err(CallError::Connect(e)) => {
            assert!(e.contains("TLS") && e.contains("certificate"), "{e}")
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    // A file that is not a certificate is refused when the TLS settings are built.
    let e = tls_trusting(&fixture("README.md")).expect_err("not a certificate");
    assert!(e.contains("holds no certificate"), "{e}");
}
