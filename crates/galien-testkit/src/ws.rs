//! A bare WebSocket client for tests of Galien's sockets: the RFC 6455 handshake by hand (so a
//! test controls every header: cookie, origin), text frames both ways.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TestServer;

/// Opens `path` on `s`: the status, the response head, and the connection when upgraded.
pub async fn open(
    s: &TestServer,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> (u16, String, Option<TcpStream>) {
    let host = s.base_url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n"
    );
    if let Some(c) = cookie {
        request.push_str(&format!("Cookie: {c}\r\n"));
    }
    if let Some(o) = origin {
        request.push_str(&format!("Origin: {o}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let mut head = String::from_utf8_lossy(&head).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    if status != 101 {
        // The error body, for assertions on its code.
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            stream.read_to_end(&mut rest),
        )
        .await;
        head.push_str(&String::from_utf8_lossy(&rest));
    }
    (status, head, (status == 101).then_some(stream))
}

/// The next text message from the server (pings skipped; a close is a failure).
pub async fn text(stream: &mut TcpStream) -> String {
    loop {
        match frame(stream).await {
            (1, payload) => return String::from_utf8(payload).unwrap(),
            (8, payload) => panic!("the socket closed: {payload:?}"),
            _ => {}
        }
    }
}

/// The next frame: (opcode, payload).
pub async fn frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    stream.read_exact(&mut h).await.unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let mut len = u64::from(h[1] & 0x7f);
    if len == 126 {
        let mut b = [0u8; 2];
        stream.read_exact(&mut b).await.unwrap();
        len = u64::from(u16::from_be_bytes(b));
    } else if len == 127 {
        let mut b = [0u8; 8];
        stream.read_exact(&mut b).await.unwrap();
        len = u64::from_be_bytes(b);
    }
    let mut payload = vec![0u8; usize::try_from(len).unwrap()];
    stream.read_exact(&mut payload).await.unwrap();
    (h[0] & 0x0f, payload)
}

/// Sends one text frame (masked, as a client must).
pub async fn send_text(stream: &mut TcpStream, text: &str) {
    let payload = text.as_bytes();
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut out = vec![0x81u8];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | u8::try_from(len).unwrap());
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&u64::try_from(len).unwrap().to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    stream.write_all(&out).await.unwrap();
}

/// Reads text messages until one satisfies `pred` (within `timeout`), and returns it.
pub async fn until(
    stream: &mut TcpStream,
    timeout: std::time::Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    tokio::time::timeout(timeout, async {
        loop {
            let t = text(stream).await;
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if pred(&v) {
                return v;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no matching message within {timeout:?}"))
}
