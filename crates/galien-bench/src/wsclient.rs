//! A bare RFC 6455 client for the `signaling` scenario: the handshake by hand (so every header —
//! cookie, origin — is ours), masked text frames out, unmasked frames in. The same code talks to
//! Galien and to the baseline relay, so the client's cost is the same on both sides. Unlike
//! `galien_testkit::ws` it never panics: a bench with 10,000 sockets counts failures.
//!
//! Each connection has a reader task that stamps every text message with the instant it was read
//! and hands it over a channel, so waiting with a timeout never cuts a frame in half, and a relay
//! latency is measured from the send to the moment the bytes were parsed (not to when the pair's
//! task got around to looking). Pings are not answered: neither server requires it.

use anyhow::{Context, bail};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Largest frame accepted from a server (Galien's own limit is 64 KiB).
const MAX_FRAME: u64 = 1 << 20;

/// One client connection.
pub(crate) struct Ws {
    writer: OwnedWriteHalf,
    out: Vec<u8>,
    mask: u32,
    rx: mpsc::Receiver<Incoming>,
    reader: JoinHandle<()>,
}

impl Drop for Ws {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A text message and when it was read; `Err` once the connection is over (the reason).
pub(crate) struct Incoming {
    /// When its last byte was parsed.
    pub at: Instant,
    /// The text, or why the connection ended.
    pub text: Result<String, String>,
}

/// Reads one whole message: `Some(text)`, or `None` for a close.
async fn read_message(reader: &mut BufReader<OwnedReadHalf>) -> anyhow::Result<Option<String>> {
    let mut message: Vec<u8> = Vec::new();
    let mut opcode_of_message = 0u8;
    loop {
        let mut h = [0u8; 2];
        reader.read_exact(&mut h).await?;
        let [b0, b1] = h;
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        let masked = b1 & 0x80 != 0;
        let mut len = u64::from(b1 & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).await?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            reader.read_exact(&mut b).await?;
            len = u64::from_be_bytes(b);
        }
        if len > MAX_FRAME {
            bail!("frame of {len} bytes from the server");
        }
        let mut mask = [0u8; 4];
        if masked {
            reader.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; usize::try_from(len)?];
        reader.read_exact(&mut payload).await?;
        if masked {
            for (b, m) in payload.iter_mut().zip(mask.iter().cycle()) {
                *b ^= m;
            }
        }
        match opcode {
            0x9 | 0xA => {}
            0x8 => return Ok(None),
            0x0..=0x2 => {
                if opcode != 0 {
                    opcode_of_message = opcode;
                }
                message.extend_from_slice(&payload);
                if fin {
                    if opcode_of_message == 1 {
                        return Ok(Some(String::from_utf8(message)?));
                    }
                    // Binary messages are not part of the protocol: skip.
                    message = Vec::new();
                }
            }
            other => bail!("unknown opcode {other}"),
        }
    }
}

impl Ws {
    /// Opens `ws://{host}{path}` with these extra headers; fails with the answer's status and the
    /// start of its body when the server does not upgrade.
    pub(crate) async fn connect(
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Ws> {
        let stream = TcpStream::connect(host)
            .await
            .with_context(|| format!("connect {host}"))?;
        stream.set_nodelay(true)?;
        let (r, mut w) = stream.into_split();
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        w.write_all(request.as_bytes()).await?;
        let mut reader = BufReader::with_capacity(4096, r);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                bail!("connection closed during the handshake");
            }
            let end = line == "\r\n";
            head.push_str(&line);
            if end {
                break;
            }
            if head.len() > 16 * 1024 {
                bail!("handshake answer too long");
            }
        }
        let status = head.split(' ').nth(1).unwrap_or("?");
        if status != "101" {
            let mut body = vec![0u8; 512];
            let n = tokio::time::timeout(Duration::from_secs(2), reader.read(&mut body))
                .await
                .unwrap_or(Ok(0))
                .unwrap_or(0);
            body.truncate(n);
            bail!(
                "no upgrade: HTTP {status}: {}",
                String::from_utf8_lossy(&body).trim()
            );
        }
        let (tx, rx) = mpsc::channel(64);
        let reader = tokio::spawn(async move {
            loop {
                let text = match read_message(&mut reader).await {
                    Ok(Some(t)) => Ok(t),
                    Ok(None) => Err("closed by the server".to_owned()),
                    Err(e) => Err(e.to_string()),
                };
                let over = text.is_err();
                let sent = tx
                    .send(Incoming {
                        at: Instant::now(),
                        text,
                    })
                    .await;
                if over || sent.is_err() {
                    break;
                }
            }
        });
        Ok(Ws {
            writer: w,
            out: Vec::with_capacity(2048),
            mask: 0x9e37_79b9,
            rx,
            reader,
        })
    }

    /// Sends one text message.
    pub(crate) async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        // The mask only has to vary; it protects proxies, not secrets.
        self.mask = self
            .mask
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let mask = self.mask.to_be_bytes();
        let payload = text.as_bytes();
        self.out.clear();
        self.out.push(0x81);
        let len = payload.len();
        if let Ok(small) = u8::try_from(len)
            && small < 126
        {
            self.out.push(0x80 | small);
        } else if let Ok(medium) = u16::try_from(len) {
            self.out.push(0x80 | 126);
            self.out.extend_from_slice(&medium.to_be_bytes());
        } else {
            self.out.push(0x80 | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.out.extend_from_slice(&mask);
        self.out
            .extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        self.writer.write_all(&self.out).await
    }

    /// The next text message, or `None` if none came before `deadline`. A closed connection is an
    /// error.
    pub(crate) async fn recv_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> anyhow::Result<Option<(Instant, String)>> {
        match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Err(_) => Ok(None),
            Ok(None) => bail!("connection reader ended"),
            Ok(Some(Incoming { text: Err(why), .. })) => bail!("{why}"),
            Ok(Some(Incoming { at, text: Ok(t) })) => Ok(Some((at, t))),
        }
    }

    /// Reads messages until one parses as JSON and satisfies `pred`, within `timeout`. An `error`
    /// message from the server is an error.
    pub(crate) async fn until(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let Some((_, t)) = self.recv_until(deadline).await? else {
                bail!("no expected message within {timeout:?}");
            };
            let v: serde_json::Value = serde_json::from_str(&t)?;
            if v.get("type").and_then(|t| t.as_str()) == Some("error") {
                bail!("error message: {v}");
            }
            if pred(&v) {
                return Ok(v);
            }
        }
    }
}
