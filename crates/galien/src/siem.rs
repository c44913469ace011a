//! Forwarding the audit trail to a SIEM (TRACE-3): each record as one RFC 5424 syslog message,
//! sent over TLS with RFC 5425 octet-counting framing (`LEN SP SYSLOG-MSG`).
//!
//! # The messages
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [galien@32473 …] MSG`
//!
//! - Facility 13, "log audit": these are audit-trail records (10, "authpriv", is meant for the
//!   host's own authorisation messages and is often routed to a local file). Severity from the
//!   outcome: success → 6 (informational), failure and denied → 4 (warning).
//! - TIMESTAMP: the record's time, UTC, to the microsecond.
//! - PROCID is NILVALUE: the record may have been written by another node sharing the database.
//! - MSGID: the action (`auth.login.failed`), at most 32 ASCII characters.
//! - Structured data `galien@32473` (32473 is the enterprise number RFC 5612 reserves for
//!   documentation; a deployment with its own number changes [`SD_ID`]): `seq` and `hash` (hex)
//!   tie the message to the chained record (`galien audit verify`), then the actor, role,
//!   machine client, patient id, outcome, reason code, emergency flag, request id and address
//!   when the record has them. Values are escaped as RFC 5424 §6.3.3 says (`"`, `\`, `]`).
//! - MSG: the action and outcome in a few words. Never health data, and not the free-text
//!   purpose: a record carries ids and stable codes only.
//!
//! # Delivery
//!
//! A cursor (the last seq the collector has) is kept in the data directory file `siem-cursor`,
//! written to a temporary file then renamed. The forwarder reads records after the cursor in
//! chain order, by batches of [`BATCH`], and writes them on the TLS connection. RFC 5425 has no
//! acknowledgement, so a written batch counts as delivered only once the connection is seen still
//! open after a pause (a collector that went away closes it, and the forwarder notices while it
//! waits); only then does the cursor move. After a collector restart or a node restart the
//! forwarder resends from the cursor: nothing is lost, and at most the last unconfirmed batch is
//! sent twice (the `seq` parameter lets the SIEM drop those).
//!
//! The forwarder only reads the trail, in its own task: requests never wait for it. When the
//! collector is unreachable it retries with a doubling backoff (0.5 s to 30 s) and logs the lag
//! in records. With several nodes on one database, enable `[siem]` on one node only: each node
//! forwards the whole trail.

use crate::config::SiemConfig;
use galien_core::audit::{AuditEvent, Outcome};
use galien_store::{AuditFilter, Store, StoredAuditEvent};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The structured-data id of Galien's parameters.
pub const SD_ID: &str = "galien@32473";
/// Facility 13: log audit.
pub const FACILITY: u8 = 13;
/// Records read and sent at a time.
pub const BATCH: u32 = 500;
/// The cursor file in the data directory.
pub const CURSOR_FILE: &str = "siem-cursor";

const IDLE_PAUSE: Duration = Duration::from_millis(500);
const CATCH_UP_PAUSE: Duration = Duration::from_millis(50);
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The checked `[siem]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiemSettings {
    /// The collector's host name or address (also the name its certificate must carry).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The PEM file of the authorities trusted for the collector's certificate.
    pub ca: PathBuf,
    /// RFC 5424 APP-NAME.
    pub app_name: String,
    /// RFC 5424 HOSTNAME.
    pub hostname: String,
}

/// Why forwarding cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SiemError {
    /// The collector's certificate authority file.
    #[error(
        "siem.ca {}: {problem}; give the PEM file of the authority that issued the collector's certificate",
        path.display()
    )]
    Ca {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The collector's name cannot be checked against a certificate.
    #[error("siem.address: {0:?} is not a host name or address; give host:port")]
    ServerName(String),
    /// The cursor file.
    #[error(
        "{}: {problem}; restore it, or delete it to resend the whole audit trail to the SIEM",
        path.display()
    )]
    Cursor {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Splits `host:port` (`[v6]:port` for IPv6).
pub fn parse_address(address: &str) -> Result<(String, u16), String> {
    let bad = || format!("{address:?} is not host:port");
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| (33..=126).contains(&b))
}

/// Checks `[siem]` on its own; the error names the key.
pub fn check_config(c: &SiemConfig) -> Result<(), (&'static str, String)> {
    if let Some(address) = &c.address {
        parse_address(address).map_err(|p| ("siem.address", p))?;
        if c.ca.is_none() {
            return Err((
                "siem.ca",
                "the collector's certificate authority is required with siem.address".into(),
            ));
        }
    } else if c.ca.is_some() {
        return Err(("siem.ca", "siem.ca is given without siem.address".into()));
    }
    if !printable(&c.app_name, 48) {
        return Err((
            "siem.app_name",
            format!("{:?} is not 1–48 printable ASCII characters", c.app_name),
        ));
    }
    if let Some(h) = &c.hostname
        && !printable(h, 255)
    {
        return Err((
            "siem.hostname",
            format!("{h:?} is not 1–255 printable ASCII characters"),
        ));
    }
    Ok(())
}

/// The settings of a checked `[siem]`, when forwarding is on.
pub fn settings(c: &SiemConfig) -> Option<SiemSettings> {
    let (host, port) = parse_address(c.address.as_deref()?).ok()?;
    Some(SiemSettings {
        host,
        port,
        ca: c.ca.clone()?,
        app_name: c.app_name.clone(),
        hostname: c.hostname.clone().unwrap_or_else(os_hostname),
    })
}

/// The machine's name (Linux), or `galien`.
fn os_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| printable(s, 255))
        .unwrap_or_else(|| "galien".to_owned())
}

/// The RFC 5424 PRI of a record.
pub fn pri(outcome: Outcome) -> u8 {
    let severity = match outcome {
        Outcome::Success => 6,
        Outcome::Failure | Outcome::Denied => 4,
    };
    FACILITY * 8 + severity
}

/// Escapes a PARAM-VALUE (RFC 5424 §6.3.3).
pub fn escape_param(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn timestamp(event: &AuditEvent) -> String {
    let at = event.at.to_offset(time::UtcOffset::UTC);
    at.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    ))
    .unwrap_or_else(|_| "-".to_owned())
}

/// One record as an RFC 5424 message (without framing).
pub fn format_record(record: &StoredAuditEvent, app_name: &str, hostname: &str) -> String {
    let e = &record.event;
    let action = e.action.as_str();
    let msgid: String = action
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    let mut params: Vec<(&str, String)> =
        vec![("seq", record.seq.to_string()), ("hash", hex(&record.hash))];
    if let Some(user) = e.actor.user {
        params.push(("actor", user.to_string()));
    }
    if let Some(role) = e.actor.role {
        params.push(("role", role.as_str().to_owned()));
    }
    if let Some(client) = &e.actor.client {
        params.push(("client", client.clone()));
    }
    if let Some(patient) = e.patient {
        params.push(("patient", patient.to_string()));
    }
    params.push(("outcome", e.outcome.as_str().to_owned()));
    if let Some(reason) = &e.reason {
        params.push(("reason", reason.clone()));
    }
    if e.emergency {
        params.push(("emergency", "1".to_owned()));
    }
    if let Some(request) = e.source.request_id {
        params.push(("request", request.to_string()));
    }
    if let Some(ip) = &e.source.ip {
        params.push(("ip", ip.clone()));
    }
    let mut sd = format!("[{SD_ID}");
    for (name, value) in &params {
        let _ = write!(sd, " {name}=\"{}\"", escape_param(value));
    }
    sd.push(']');
    let msg = match &e.reason {
        Some(reason) => format!("{action} {} ({reason})", e.outcome.as_str()),
        None => format!("{action} {}", e.outcome.as_str()),
    };
    format!(
        "<{}>1 {} {hostname} {app_name} - {msgid} {sd} {msg}",
        pri(e.outcome),
        timestamp(e)
    )
}

/// Appends `LEN SP MSG` (RFC 5425 octet counting).
pub fn frame(out: &mut Vec<u8>, message: &str) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message.as_bytes());
}

/// Reads the cursor (0 when the file is absent).
pub fn read_cursor(dir: &Path) -> Result<u64, SiemError> {
    let path = dir.join(CURSOR_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| SiemError::Cursor {
            path,
            problem: format!("{:?} is not a record number", text.trim()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(SiemError::Cursor {
            path,
            problem: e.to_string(),
        }),
    }
}

/// Writes the cursor: a temporary file, synced, then renamed over the old one.
fn write_cursor(dir: &Path, seq: u64) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{CURSOR_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{seq}\n").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(CURSOR_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

/// A forwarder ready to run: the collector's trust and name checked, the cursor read.
#[derive(Clone)]
pub struct Forwarder {
    settings: SiemSettings,
    connector: TlsConnector,
    server_name: ServerName<'static>,
    dir: PathBuf,
    cursor: u64,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("settings", &self.settings)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// The TLS client configuration that trusts only the authorities in `ca` (no system roots).
pub fn client_config(ca: &Path) -> Result<Arc<ClientConfig>, SiemError> {
    let err = |problem: String| SiemError::Ca {
        path: ca.to_owned(),
        problem,
    };
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate inside".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    Ok(Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the collector closed the connection")]
    Closed,
    #[error("timed out")]
    Timeout,
}

impl Forwarder {
    /// Checks the settings before anything touches the disk.
    pub fn prepare(settings: SiemSettings) -> Result<Forwarder, SiemError> {
        let config = client_config(&settings.ca)?;
        let server_name = ServerName::try_from(settings.host.clone())
            .map_err(|_| SiemError::ServerName(settings.host.clone()))?;
        Ok(Forwarder {
            settings,
            connector: TlsConnector::from(config),
            server_name,
            dir: PathBuf::new(),
            cursor: 0,
        })
    }

    /// Reads the cursor kept in the data directory `dir`.
    pub fn with_cursor_in(mut self, dir: &Path) -> Result<Forwarder, SiemError> {
        self.cursor = read_cursor(dir)?;
        self.dir = dir.to_owned();
        Ok(self)
    }

    /// Runs until aborted.
    pub fn spawn(self, store: Store) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(store))
    }

    async fn lag(store: &Store, cursor: u64) -> u64 {
        match store.audit_head().await {
            Ok(Some((head, _))) => head.saturating_sub(cursor),
            Ok(None) | Err(_) => 0,
        }
    }

    async fn run(mut self, store: Store) {
        let target = format!("{}:{}", self.settings.host, self.settings.port);
        tracing::info!(collector = %target, cursor = self.cursor, "siem: forwarding the audit trail");
        if let Ok(Some((head, _))) = store.audit_head().await
            && head < self.cursor
        {
            // A replaced or restored database: records up to the cursor would never be sent.
            tracing::error!(
                cursor = self.cursor,
                head,
                "siem: siem-cursor is ahead of the audit trail (database replaced?); records up to the cursor are not sent; delete siem-cursor to resend the whole trail"
            );
        }
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.connect().await {
                Ok(mut stream) => {
                    backoff = MIN_BACKOFF;
                    tracing::info!(collector = %target, "siem: connected");
                    let e = self.forward(&mut stream, &store).await;
                    let lag = Self::lag(&store, self.cursor).await;
                    tracing::warn!(collector = %target, error = %e, lag, "siem: connection lost; reconnecting");
                }
                Err(e) => {
                    let lag = Self::lag(&store, self.cursor).await;
                    tracing::warn!(
                        collector = %target,
                        error = %e,
                        lag,
                        retry_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        "siem: collector unreachable"
                    );
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn connect(&self) -> Result<tokio_rustls::client::TlsStream<TcpStream>, LinkError> {
        let connecting = async {
            let tcp = TcpStream::connect((self.settings.host.as_str(), self.settings.port)).await?;
            tcp.set_nodelay(true)?;
            let tls = self
                .connector
                .connect(self.server_name.clone(), tcp)
                .await?;
            Ok::<_, LinkError>(tls)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| LinkError::Timeout)?
    }

    /// Sends records on `stream` until it fails; returns why.
    async fn forward<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        store: &Store,
    ) -> LinkError {
        let mut sent = self.cursor;
        let mut probe = [0u8; 512];
        loop {
            // The connection was still open after the pause that followed the last write: what
            // was written counts as delivered.
            if sent != self.cursor {
                let dir = self.dir.clone();
                match tokio::task::spawn_blocking(move || write_cursor(&dir, sent)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "siem: cannot save the cursor; a restart would resend records");
                    }
                    Err(e) => tracing::error!(error = %e, "siem: cursor task failed"),
                }
                self.cursor = sent;
            }
            let filter = AuditFilter {
                after_seq: Some(sent),
                limit: Some(BATCH),
                ..AuditFilter::default()
            };
            let mut pause = IDLE_PAUSE;
            match store.audit_events(&filter).await {
                Ok(batch) => {
                    if let Some(last) = batch.last() {
                        let mut bytes = Vec::new();
                        for record in &batch {
                            frame(
                                &mut bytes,
                                &format_record(
                                    record,
                                    &self.settings.app_name,
                                    &self.settings.hostname,
                                ),
                            );
                        }
                        let writing = async {
                            stream.write_all(&bytes).await?;
                            stream.flush().await
                        };
                        match tokio::time::timeout(WRITE_TIMEOUT, writing).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => return LinkError::Io(e),
                            Err(_) => return LinkError::Timeout,
                        }
                        sent = last.seq;
                        let lag = Self::lag(store, sent).await;
                        tracing::debug!(records = batch.len(), last = sent, lag, "siem: sent");
                        if u32::try_from(batch.len()).is_ok_and(|n| n >= BATCH) {
                            pause = CATCH_UP_PAUSE;
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "siem: cannot read the audit trail"),
            }
            // Wait, watching the connection: a collector sends nothing, so end of stream or an
            // error means it is gone.
            let until = tokio::time::Instant::now() + pause;
            loop {
                tokio::select! {
                    // The connection first: an end of stream already there must not count as open.
                    biased;
                    read = stream.read(&mut probe) => match read {
                        Ok(0) => return LinkError::Closed,
                        Ok(_) => {}
                        Err(e) => return LinkError::Io(e),
                    },
                    () = tokio::time::sleep_until(until) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::audit::{AuditAction, AuditActor, Source};
    use galien_core::ids::{AuditEventId, PatientId, UserId};
    use time::macros::datetime;
    use uuid::Uuid;

    fn record(outcome: Outcome) -> StoredAuditEvent {
        StoredAuditEvent {
            seq: 42,
            hash: [0xab; 32],
            event: AuditEvent {
                id: AuditEventId::from_uuid(Uuid::nil()),
                at: datetime!(2026-02-01 09:00:01.5 UTC),
                actor: AuditActor {
                    user: Some(UserId::from_uuid(Uuid::nil())),
                    role: None,
                    assurance: None,
                    client: Some("a\"b]c\\".into()),
                },
                action: AuditAction::AuthLoginFailed,
                outcome,
                resource: None,
                patient: Some(PatientId::from_uuid(Uuid::nil())),
                purpose: Some("secret purpose".into()),
                emergency: false,
                source: Source {
                    ip: Some("192.0.2.1".into()),
                    user_agent: Some("agent".into()),
                    request_id: None,
                },
                reason: Some("AUTH-BAD-PASSWORD".into()),
            },
        }
    }

    #[test]
    fn trace_03_records_format_as_rfc5424() {
        let m = format_record(&record(Outcome::Failure), "galien", "node1");
        let nil = Uuid::nil();
        assert_eq!(
            m,
            format!(
                "<108>1 2026-02-01T09:00:01.500000Z node1 galien - auth.login.failed \
                 [galien@32473 seq=\"42\" hash=\"{}\" actor=\"{nil}\" client=\"a\\\"b\\]c\\\\\" \
                 patient=\"{nil}\" outcome=\"failure\" reason=\"AUTH-BAD-PASSWORD\" ip=\"192.0.2.1\"] \
                 auth.login.failed failure (AUTH-BAD-PASSWORD)",
                "ab".repeat(32)
            )
        );
        assert!(!m.contains("secret purpose") && !m.contains("agent\""));
        assert_eq!(pri(Outcome::Success), 110);
        assert_eq!(pri(Outcome::Denied), 108);
        let mut out = Vec::new();
        frame(&mut out, "héllo");
        assert_eq!(out, b"6 h\xc3\xa9llo");
    }

    #[test]
    fn trace_03_every_action_is_a_valid_msgid() {
        for a in AuditAction::ALL {
            assert!(printable(a.as_str(), 32), "{a}");
        }
    }

    #[test]
    fn trace_03_addresses_and_settings_are_checked() {
        assert_eq!(parse_address("siem:6514"), Ok(("siem".into(), 6514)));
        assert_eq!(parse_address("[::1]:6514"), Ok(("::1".into(), 6514)));
        for bad in ["siem", "siem:0", ":6514", "::1:6514", "siem:x", "a b:1"] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
        let mut c = SiemConfig::default();
        assert!(check_config(&c).is_ok());
        assert_eq!(settings(&c), None);
        c.address = Some("siem:6514".into());
        assert_eq!(check_config(&c).unwrap_err().0, "siem.ca");
        c.ca = Some("/ca.pem".into());
        assert!(check_config(&c).is_ok());
        let s = settings(&c).unwrap();
        assert_eq!((s.port, s.app_name.as_str()), (6514, "galien"));
        assert!(printable(&s.hostname, 255));
        c.app_name = "gal ien".into();
        assert_eq!(check_config(&c).unwrap_err().0, "siem.app_name");
    }

    #[test]
    fn trace_03_cursor_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_cursor(dir.path()).unwrap(), 0);
        write_cursor(dir.path(), 7).unwrap();
        write_cursor(dir.path(), 1234).unwrap();
        assert_eq!(read_cursor(dir.path()).unwrap(), 1234);
        std::fs::write(dir.path().join(CURSOR_FILE), "x").unwrap();
        assert!(read_cursor(dir.path()).is_err());
    }

    #[test]
    fn trace_03_an_unreadable_authority_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let settings = |ca: PathBuf| SiemSettings {
            host: "localhost".into(),
            port: 6514,
            ca,
            app_name: "galien".into(),
            hostname: "node".into(),
        };
        let e = Forwarder::prepare(settings(dir.path().join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("siem.ca "), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = Forwarder::prepare(settings(empty)).unwrap_err().to_string();
        assert!(e.contains("no certificate"), "{e}");
    }
}
