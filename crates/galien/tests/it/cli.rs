//! The `galien` binary as an operator meets it: first start with no configuration, bad inputs that
//! must stop the start cleanly, TLS, logs, SIGTERM.

#![allow(
    clippy::disallowed_methods, // a synchronous test polls a child process
    clippy::type_complexity
)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_galien");

/// A `galien serve` process whose stdout lines arrive on a channel; killed on drop.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Node {
    fn start(args: &[&str], envs: &[(&str, &str)], cwd: &Path) -> Node {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .args(args)
            .current_dir(cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Node {
            child,
            lines,
            stderr,
        }
    }

    /// Waits for a stdout line starting with `prefix` and returns the rest.
    fn wait_for(&self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(_) => panic!(
                    "no line {prefix:?}; stderr:\n{}",
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("galien did not stop within 10 s of SIGTERM");
    }

    fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> http::Client {
    http::Client::new()
}

/// Async reqwest driven from a small runtime, since these tests run processes synchronously.
mod http {
    pub struct Client {
        rt: tokio::runtime::Runtime,
        inner: ::reqwest::Client,
    }
    impl Client {
        pub fn new() -> Self {
            Self::with(::reqwest::Client::builder())
        }
        pub fn with(b: ::reqwest::ClientBuilder) -> Self {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            Client {
                rt,
                inner: b
                    .redirect(::reqwest::redirect::Policy::none())
                    .build()
                    .unwrap(),
            }
        }
        pub fn get(&self, url: &str) -> (u16, ::reqwest::header::HeaderMap, String) {
            self.rt.block_on(async {
                let r = self.inner.get(url).send().await.unwrap();
                let status = r.status().as_u16();
                let headers = r.headers().clone();
                (status, headers, r.text().await.unwrap())
            })
        }
    }
}

#[test]
fn ops_1_first_start_without_configuration_creates_private_data_and_prints_a_link() {
    let cwd = tempfile::tempdir().unwrap();
    let mut node = Node::start(&["--listen", "127.0.0.1:0"], &[], cwd.path());
    let base = node.wait_for("galien: listening on ");
    let link = node.wait_for("galien: enrolment link: ");
    assert!(link.starts_with(&format!("{base}/enrol/")), "{link}");

    let data = cwd.path().join("galien-data");
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let key = data.join("keys/master.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        data.join("galien.db").exists(),
        "SQLite database in the data directory"
    );
    let wal: String = std::process::Command::new("sqlite3")
        .arg(data.join("galien.db"))
        .arg("PRAGMA journal_mode;")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert_eq!(wal, "wal");

    let c = client();
    let (status, _, html) = c.get(&link);
    assert_eq!(status, 200);
    assert!(html.contains("valide"));
    let (status, headers, _) = c.get(&format!("{base}/healthz"));
    assert_eq!(status, 200);
    let request_id = headers["x-request-id"].to_str().unwrap().to_owned();

    let status = node.terminate();
    assert!(status.success(), "SIGTERM ends galien cleanly: {status:?}");
    let logs = node.logs();
    let token = link.rsplit('/').next().unwrap();
    assert!(
        !logs.contains(token),
        "the enrolment secret must never be logged:\n{logs}"
    );
    assert!(
        logs.contains("/enrol/{token}"),
        "logs name the route template:\n{logs}"
    );
    assert!(
        logs.contains(&request_id),
        "request lines carry the request id:\n{logs}"
    );
    assert!(logs.contains("pending writes flushed"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "logs to a pipe or a file carry no terminal colour codes:\n{logs}"
    );
}

#[test]
fn ops_3_bad_start_inputs_end_with_one_clear_line_and_change_nothing() {
    let cwd = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    std::fs::write(cwd.path().join("a-file"), b"x").unwrap();
    std::fs::write(cwd.path().join("corrupt.toml"), b"listen = [oops\n").unwrap();
    std::fs::write(
        cwd.path().join("unknown.toml"),
        b"lisen = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let cases: &[(&[&str], &[(&str, &str)], &str)] = &[
        (
            &["--database-url", "mysql://root@localhost/galien"],
            &[],
            "database_url",
        ),
        (
            &["--database-url", "postgres://galien@db:port/galien"],
            &[],
            "database_url",
        ),
        (
            &["--database-url", "postgres://nobody@127.0.0.1:1/galien"],
            &[],
            "127.0.0.1:1",
        ),
        (&["--data-dir", "a-file/data"], &[], "not a directory"),
        (
            &["--data-dir", "missing/parent/data"],
            &[],
            "parent directory does not exist",
        ),
        (&["--listen", &taken_addr], &[], "--listen"),
        (&["--listen", "not-an-address"], &[], "listen"),
        (&["--config", "corrupt.toml"], &[], "not valid TOML"),
        (&["--config", "unknown.toml"], &[], "lisen"),
        (&["--config", "absent.toml"], &[], "cannot read"),
        (&[], &[("GALIEN_LISTN", "127.0.0.1:0")], "GALIEN_LISTN"),
        (
            &[],
            &[("GALIEN_HTTP_REQUEST_TIMEOUT_SECS", "forever")],
            "GALIEN_HTTP_REQUEST_TIMEOUT_SECS",
        ),
        (
            &["--tls-cert", "missing.pem", "--tls-key", "missing.key"],
            &[],
            "missing.pem",
        ),
    ];
    for (args, envs, expected) in cases {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").args(*args).current_dir(cwd.path());
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        for (k, v) in *envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} {envs:?} started");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got:\n{stderr}"
        );
        assert!(
            stderr.starts_with("galien: error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(
            !cwd.path().join("galien-data").exists(),
            "{args:?} created the data directory"
        );
    }
    let mut entries: Vec<String> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["a-file", "corrupt.toml", "unknown.toml"],
        "nothing else written"
    );
    drop(taken);
}

#[test]
fn ops_2_self_signed_tls_serves_https_with_hsts() {
    let cwd = tempfile::tempdir().unwrap();
    let mut node = Node::start(
        &["--listen", "127.0.0.1:0", "--tls-self-signed"],
        &[],
        cwd.path(),
    );
    let base = node.wait_for("galien: listening on ");
    assert!(base.starts_with("https://"), "{base}");
    let cert = std::fs::read(cwd.path().join("galien-data/tls/self-signed.crt")).unwrap();
    let key_mode = std::fs::metadata(cwd.path().join("galien-data/tls/self-signed.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    // Trust exactly the generated certificate: the handshake is fully verified.
    let c = http::Client::with(
        ::reqwest::Client::builder()
            .tls_certs_only([::reqwest::Certificate::from_pem(&cert).unwrap()]),
    );
    let (status, headers, _) = c.get(&format!(
        "{}/healthz",
        base.replace("127.0.0.1", "localhost")
    ));
    assert_eq!(status, 200);
    assert_eq!(
        headers["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert!(node.terminate().success());
}

#[test]
fn ops_2_certificate_files_are_served() {
    let cwd = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Galien test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    std::fs::write(cwd.path().join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(cwd.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();
    let mut node = Node::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
        &[],
        cwd.path(),
    );
    let base = node.wait_for("galien: listening on ");
    let c = http::Client::with(
        ::reqwest::Client::builder()
            .tls_certs_only([::reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()]),
    );
    let (status, headers, _) = c.get(&format!(
        "{}/readyz",
        base.replace("127.0.0.1", "localhost")
    ));
    assert_eq!(status, 200);
    assert!(headers.contains_key("strict-transport-security"));
    assert!(node.terminate().success());
}

#[test]
fn config_check_prints_effective_values_without_secrets() {
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "config",
            "check",
            "--database-url",
            "postgres://galien:s3cr3t@db.example:5432/galien",
        ])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("listen = \"127.0.0.1:8080\""), "{stdout}");
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    assert!(
        !cwd.path().join("galien-data").exists(),
        "a check writes nothing"
    );
}

#[test]
fn admin_enrol_link_replaces_the_printed_link() {
    let cwd = tempfile::tempdir().unwrap();
    let mut node = Node::start(&["--listen", "127.0.0.1:0"], &[], cwd.path());
    let first = node.wait_for("galien: enrolment link: ");
    assert!(node.terminate().success());
    let out = Command::new(BIN)
        .args(["admin", "enrol-link"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let second = stdout
        .lines()
        .find_map(|l| l.strip_prefix("galien: enrolment link: "))
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(first.rsplit('/').next(), second.rsplit('/').next());
    let out = Command::new(BIN)
        .args(["admin", "enrol-link", "--data-dir", "nowhere"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Galien data"));
}

#[test]
fn ops_1_postgres_start_from_the_command_line() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(galien_store::testing::TestDatabase::postgres());
    let url = match db.url() {
        galien_store::DatabaseUrl::Postgres { url } => url.clone(),
        other => panic!("{other:?}"),
    };
    let cwd = tempfile::tempdir().unwrap();
    let mut node = Node::start(
        &["--listen", "127.0.0.1:0"],
        &[("GALIEN_DATABASE_URL", &url)],
        cwd.path(),
    );
    let base = node.wait_for("galien: listening on ");
    let (status, _, body) = client().get(&format!("{base}/readyz"));
    assert_eq!(status, 200);
    assert!(body.contains("postgresql"), "{body}");
    assert!(node.terminate().success());
    rt.block_on(db.drop_database());
}
