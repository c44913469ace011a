//! Forwarding the audit trail to a SIEM (TRACE-3): a real TLS syslog collector (tokio-rustls with a
//! certificate from a test authority) receives RFC 5424 messages with octet-counting framing from a
//! real node, in chain order and without duplicates, also when it starts late, restarts, or the
//! node restarts; a collector whose certificate the node does not trust receives nothing.

use galien_core::ManualClock;
use galien_store::{AuditFilter, Backend, StoredAuditEvent};
use galien_testkit::people::{self, Agent};
use galien_testkit::{Options, TestServer};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A collector's authority and its certificate for `localhost`, as files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &ca).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("collector.crt"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("collector.key"), key.serialize_pem()).unwrap();
        Pki { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn acceptor(&self) -> TlsAcceptor {
        galien::tls::install_crypto_provider();
        let certs = CertificateDer::pem_file_iter(self.dir.path().join("collector.crt"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.dir.path().join("collector.key")).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }
}

/// A TLS syslog listener on 127.0.0.1 that keeps every octet-counted frame it receives.
struct Collector {
    addr: SocketAddr,
    frames: Arc<Mutex<Vec<String>>>,
    handshakes: Arc<Mutex<u32>>,
    task: JoinHandle<()>,
}

impl Collector {
    async fn start(pki: &Pki, port: u16) -> Collector {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = pki.acceptor();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let handshakes = Arc::new(Mutex::new(0));
        let task = {
            let frames = frames.clone();
            let handshakes = handshakes.clone();
            tokio::spawn(async move {
                // Dropped with this task: stopping the collector closes its connections.
                let mut connections = JoinSet::new();
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    let acceptor = acceptor.clone();
                    let frames = frames.clone();
                    let handshakes = handshakes.clone();
                    connections.spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        *handshakes.lock().unwrap() += 1;
                        let mut r = BufReader::new(tls);
                        while let Some(frame) = read_frame(&mut r).await {
                            frames.lock().unwrap().push(frame);
                        }
                    });
                }
            })
        };
        Collector {
            addr,
            frames,
            handshakes,
            task,
        }
    }

    fn frames(&self) -> Vec<String> {
        self.frames.lock().unwrap().clone()
    }

    fn stop(self) {
        self.task.abort();
    }
}

/// `LEN SP MSG` (RFC 5425); `None` at the end of the stream.
async fn read_frame<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> Option<String> {
    let mut len = 0usize;
    let mut digits = 0;
    loop {
        let b = r.read_u8().await.ok()?;
        match b {
            b'0'..=b'9' if digits < 9 => {
                len = len * 10 + usize::from(b - b'0');
                digits += 1;
            }
            b' ' if digits > 0 => break,
            _ => panic!("bad frame length byte {b:#x}"),
        }
    }
    let mut msg = vec![0u8; len];
    r.read_exact(&mut msg).await.ok()?;
    Some(String::from_utf8(msg).unwrap())
}

/// The parts of an RFC 5424 message this test checks.
#[derive(Debug)]
struct Parsed {
    pri: u8,
    msgid: String,
    seq: u64,
    hash: String,
    params: Vec<(String, String)>,
    msg: String,
}

/// Parses `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, checking each field's form.
fn parse(m: &str) -> Parsed {
    let rest = m.strip_prefix('<').unwrap_or_else(|| panic!("no PRI: {m}"));
    let (pri, rest) = rest.split_once('>').unwrap();
    assert!(
        pri.len() <= 3 && pri.bytes().all(|b| b.is_ascii_digit()),
        "{m}"
    );
    let pri: u8 = pri.parse().unwrap();
    let mut fields = rest.splitn(7, ' ');
    assert_eq!(fields.next(), Some("1"), "version: {m}");
    let ts = fields.next().unwrap();
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("timestamp {ts}: {e}"));
    assert!(ts.ends_with('Z'), "{ts}");
    let host = fields.next().unwrap();
    let app = fields.next().unwrap();
    let procid = fields.next().unwrap();
    let msgid = fields.next().unwrap().to_owned();
    for (f, max) in [(host, 255), (app, 48), (procid, 128), (msgid.as_str(), 32)] {
        assert!(
            !f.is_empty() && f.len() <= max && f.bytes().all(|b| (33..=126).contains(&b)),
            "header field {f:?} in {m}"
        );
    }
    assert_eq!(app, "galien-test");
    assert_eq!(host, "node-a");
    let sd_and_msg = fields.next().unwrap();
    let body = sd_and_msg
        .strip_prefix("[galien@32473")
        .unwrap_or_else(|| panic!("no SD element: {m}"));
    // PARAM-NAME="VALUE" pairs with \" \\ \] escapes, up to the closing `]`.
    let mut params = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        match chars.next() {
            Some(']') => break,
            Some(' ') => {}
            other => panic!("unexpected {other:?} in SD of {m}"),
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "{m}");
        let mut value = String::new();
        loop {
            match chars.next().unwrap() {
                '\\' => value.push(chars.next().unwrap()),
                '"' => break,
                ']' => panic!("unescaped ] in {m}"),
                c => value.push(c),
            }
        }
        params.push((name, value));
        if chars.peek() == Some(&']') {
            chars.next();
            break;
        }
    }
    let msg: String = chars.collect();
    let msg = msg.strip_prefix(' ').unwrap_or(&msg).to_owned();
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {m}"))
    };
    Parsed {
        pri,
        msgid,
        seq: get("seq").parse().unwrap(),
        hash: get("hash"),
        params,
        msg,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn trail(server: &TestServer) -> Vec<StoredAuditEvent> {
    let mut all = Vec::new();
    loop {
        let page = server
            .store
            .audit_events(&AuditFilter {
                after_seq: all.last().map(|r: &StoredAuditEvent| r.seq),
                limit: Some(1000),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Waits until the collector has the message of the trail's last record.
async fn wait_for_head(server: &TestServer, collector: &Collector) -> Vec<Parsed> {
    for _ in 0..200 {
        let head = trail(server).await.last().map_or(0, |r| r.seq);
        let last = collector.frames().last().map(|m| parse(m).seq);
        if head > 0 && last == Some(head) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    collector.frames().iter().map(|m| parse(m)).collect()
}

/// Checks the messages against the stored records after `after`: one per record, in chain
/// order, no duplicate, fields as stored.
async fn assert_matches_trail(server: &TestServer, got: &[Parsed], after: u64) {
    let records: Vec<StoredAuditEvent> = trail(server)
        .await
        .into_iter()
        .filter(|r| r.seq > after)
        .collect();
    let seqs: Vec<u64> = got.iter().map(|p| p.seq).collect();
    let expected: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert!(!expected.is_empty());
    assert_eq!(seqs, expected, "chain order, nothing missing, no duplicate");
    for (p, r) in got.iter().zip(&records) {
        let e = &r.event;
        assert_eq!(p.msgid, e.action.as_str());
        assert_eq!(p.hash, hex(&r.hash));
        let severity = match e.outcome {
            galien_core::audit::Outcome::Success => 6,
            _ => 4,
        };
        assert_eq!(p.pri, 13 * 8 + severity, "{p:?}");
        let outcome = p.params.iter().find(|(n, _)| n == "outcome").unwrap();
        assert_eq!(outcome.1, e.outcome.as_str());
        if let Some(user) = e.actor.user {
            assert!(
                p.params.contains(&("actor".into(), user.to_string())),
                "{p:?}"
            );
        }
        if let Some(ip) = &e.source.ip {
            assert!(p.params.contains(&("ip".into(), ip.clone())), "{p:?}");
        }
        assert!(p.msg.starts_with(e.action.as_str()), "{p:?}");
    }
}

/// A port with nothing listening on it (for a collector that starts late).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn options(clock: &Arc<ManualClock>, port: u16, ca: &Path) -> Options {
    Options {
        clock: Some(clock.clone()),
        settings: vec![
            (
                "siem.address",
                toml::Value::String(format!("localhost:{port}")),
            ),
            ("siem.ca", toml::Value::String(ca.display().to_string())),
            ("siem.app_name", toml::Value::String("galien-test".into())),
            ("siem.hostname", toml::Value::String("node-a".into())),
        ],
        ..Options::default()
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        time::macros::datetime!(2026-03-02 09:00 UTC),
    ))
}

async fn failed_login(server: &TestServer, email: &str) {
    let agent = Agent::new(server);
    let r = agent
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", "not-the-password-1234")],
        )
        .await;
    assert_ne!(r.location(), Some("/login/factor"), "{}", r.body);
}

/// The cursor file, once it has caught up with the trail.
async fn wait_for_cursor(server: &TestServer) -> u64 {
    let head = trail(server).await.last().unwrap().seq;
    for _ in 0..100 {
        let text = std::fs::read_to_string(server.data_dir.join("siem-cursor")).unwrap_or_default();
        if text.trim() == head.to_string() {
            return head;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("siem-cursor did not reach {head}");
}

#[tokio::test]
async fn trace_03_security_events_reach_the_siem_as_rfc5424_in_order_sqlite() {
    security_events_reach_the_siem(Backend::Sqlite).await;
}

#[tokio::test]
async fn trace_03_security_events_reach_the_siem_as_rfc5424_in_order_postgres() {
    security_events_reach_the_siem(Backend::Postgres).await;
}

async fn security_events_reach_the_siem(backend: Backend) {
    let pki = Pki::new("SIEM test CA");
    let collector = Collector::start(&pki, 0).await;
    let clock = clock();
    let server =
        TestServer::start_with(backend, options(&clock, collector.addr.port(), &pki.ca())).await;
    let admin = people::enrol_first_admin(&server, &clock).await;
    failed_login(&server, &admin.email).await;
    failed_login(&server, "nobody@galien.test").await;

    let got = wait_for_head(&server, &collector).await;
    assert_matches_trail(&server, &got, 0).await;
    assert!(
        got.iter()
            .any(|p| p.msgid == "auth.login.failed" && p.pri == 108),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|p| p.msgid == "auth.enrolment.completed" || p.msgid == "account.activated")
    );
    // No health data and no password in what leaves the node.
    assert!(
        collector
            .frames()
            .iter()
            .all(|m| !m.contains("not-the-password"))
    );
    server.stop().await;
    collector.stop();
}

#[tokio::test]
async fn trace_03_a_late_or_restarted_collector_and_a_restarted_node_lose_nothing() {
    let pki = Pki::new("SIEM test CA");
    let port = free_port();
    let clock = clock();
    let server = TestServer::start_with(Backend::Sqlite, options(&clock, port, &pki.ca())).await;
    let admin = people::enrol_first_admin(&server, &clock).await;
    failed_login(&server, &admin.email).await;

    // The collector starts after the records were written: it receives them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = Collector::start(&pki, port).await;
    let got = wait_for_head(&server, &first).await;
    assert_matches_trail(&server, &got, 0).await;
    let confirmed = wait_for_cursor(&server).await;

    // It goes away; records written meanwhile reach its successor, after the ones it had.
    first.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    failed_login(&server, &admin.email).await;
    failed_login(&server, "nobody@galien.test").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Collector::start(&pki, port).await;
    let got = wait_for_head(&server, &second).await;
    assert_matches_trail(&server, &got, confirmed).await;
    wait_for_cursor(&server).await;

    // The node restarts: it resumes from its cursor and sends nothing twice.
    let server = server.restart(options(&clock, port, &pki.ca())).await;
    failed_login(&server, &admin.email).await;
    let got = wait_for_head(&server, &second).await;
    assert_matches_trail(&server, &got, confirmed).await;
    assert!(*second.handshakes.lock().unwrap() >= 2);
    server.stop().await;
    second.stop();
}

#[tokio::test]
async fn trace_03_a_collector_with_an_untrusted_certificate_receives_nothing() {
    let trusted = Pki::new("SIEM test CA");
    let impostor = Pki::new("Some other CA");
    let collector = Collector::start(&impostor, 0).await;
    let clock = clock();
    let server = TestServer::start_with(
        Backend::Sqlite,
        options(&clock, collector.addr.port(), &trusted.ca()),
    )
    .await;
    let admin = people::enrol_first_admin(&server, &clock).await;
    failed_login(&server, &admin.email).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(collector.frames().is_empty());
    assert_eq!(*collector.handshakes.lock().unwrap(), 0);
    assert!(!server.data_dir.join("siem-cursor").exists());
    // The node serves as usual.
    assert_eq!(server.get("/login").await.status(), 200);
    server.stop().await;
    collector.stop();
}
