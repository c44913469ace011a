//! A real TURN server for tests: Debian's coturn (`/usr/bin/turnserver`) on 127.0.0.1, checking
//! "TURN REST API" credentials against a shared secret (`use-auth-secret`, `static-auth-secret`),
//! as in production. [`Coturn::allocate`] performs a real TURN Allocate with coturn's own client
//! (`turnutils_uclient`).
//!
//! ```ignore
//! let coturn = Coturn::start("a-shared-secret-for-tests");
//! coturn.allocate(&username, &password)?; // Err(…"401"…) when coturn refuses
//! ```
//!
//! Everything lives in a temporary directory (configuration, log, user database, pid file);
//! turnserver runs in its own process group, killed on drop. Missing binaries or a server that does
//! not start fail the test loudly, with the log.

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Debian's TURN server (package `coturn`).
pub const TURNSERVER: &str = "/usr/bin/turnserver";
/// coturn's test client (package `coturn`).
pub const UCLIENT: &str = "/usr/bin/turnutils_uclient";
/// The realm the test server announces.
pub const REALM: &str = "galien.test";

const INSTALL_HINT: &str = "install Debian's coturn: apt-get install -y --no-install-recommends coturn \
(scripts/test does it when run as root)";

/// How long the server has to answer a STUN Binding request after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one allocation may take (a success takes ~2.5 s: the client lingers after it).
const ALLOCATE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running coturn.
#[derive(Debug)]
pub struct Coturn {
    /// Its UDP and TCP port on 127.0.0.1.
    pub port: u16,
    child: Child,
    dir: TempDir,
}

impl Coturn {
    /// Starts coturn on a free port of 127.0.0.1 with `secret` as its `static-auth-secret`, and
    /// waits until it answers STUN.
    ///
    /// Panics, with the server's log, if coturn is not installed or does not start.
    pub fn start(secret: &str) -> Coturn {
        for bin in [TURNSERVER, UCLIENT] {
            assert!(
                Path::new(bin).exists(),
                "{bin} not found; TURN tests need it: {INSTALL_HINT}"
            );
        }
        let mut failures = Vec::new();
        // A port picked then released may be taken by someone else before coturn binds it.
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("galien-coturn-")
                .tempdir()
                .unwrap();
            let port = free_port();
            let mut child = spawn(dir.path(), port, secret);
            match wait_ready(&mut child, port) {
                Ok(()) => return Coturn { port, child, dir },
                Err(why) => {
                    stop(&mut child);
                    failures.push(format!(
                        "port {port}: {why}\n--- turnserver log ---\n{}\n--- turnserver output ---\n{}",
                        read(&dir.path().join("turn.log")),
                        read(&dir.path().join("stdout.txt")),
                    ));
                }
            }
        }
        panic!(
            "coturn ({TURNSERVER}) did not start:\n{}\n{INSTALL_HINT}",
            failures.join("\n")
        );
    }

    /// `turn:127.0.0.1:PORT?transport=udp`.
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// `turn:127.0.0.1:PORT?transport=tcp`.
    pub fn url_tcp(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=tcp", self.port)
    }

    /// `stun:127.0.0.1:PORT`.
    pub fn stun_url(&self) -> String {
        format!("stun:127.0.0.1:{}", self.port)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        read(&self.dir.path().join("turn.log"))
    }

    /// Performs one real TURN Allocate (UDP) with `username` and `password`, through coturn's
    /// `turnutils_uclient` (which then refreshes, permits and binds a channel to a loopback peer,
    /// sends nothing and leaves). `Ok` when the relay was allocated; otherwise the client's output
    /// and the server's log lines about `username` (e.g. `error 401: Unauthorized`).
    ///
    /// Blocks for up to a few seconds: from async code, call it in `tokio::task::block_in_place`.
    pub fn allocate(&self, username: &str, password: &str) -> Result<(), String> {
        let mut command = Command::new(UCLIENT);
        command
            .args(["-p", &self.port.to_string()])
            .args(["-u", username, "-w", password])
            // One client, no message, no RTCP pair; the peer its permission is for is on loopback.
            .args(["-m", "1", "-n", "0", "-c", "-e", "127.0.0.1"])
            .arg("127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {UCLIENT}: {e}; {INSTALL_HINT}"));
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let output = match rx.recv_timeout(ALLOCATE_TIMEOUT) {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return Err(format!("{UCLIENT} failed to run: {e}")),
            Err(_) => {
                kill_group(pid);
                return Err(format!(
                    "{UCLIENT} did not finish within {ALLOCATE_TIMEOUT:?}; server log about {username}:\n{}",
                    self.log_about(username)
                ));
            }
        };
        if output.status.success() {
            return Ok(());
        }
        let client = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let client: Vec<&str> = client.lines().rev().take(5).collect();
        Err(format!(
            "allocation refused ({}): client: {}; server log about {username}:\n{}",
            output.status,
            client.into_iter().rev().collect::<Vec<_>>().join(" | "),
            self.log_about(username)
        ))
    }

    /// The distinct log lines that mention `username`, without their timestamps.
    fn log_about(&self, username: &str) -> String {
        let needle = format!("<{username}>");
        let mut lines: Vec<String> = Vec::new();
        for line in self.log().lines().filter(|l| l.contains(&needle)) {
            let line = line.split_once(": : ").map_or(line, |(_, rest)| rest);
            if !lines.iter().any(|l| l == line) {
                lines.push(line.to_owned());
            }
        }
        lines.join("\n")
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn spawn(dir: &Path, port: u16, secret: &str) -> Child {
    let conf = dir.join("turnserver.conf");
    let config = format!(
        "listening-ip=127.0.0.1\n\
         listening-port={port}\n\
         relay-ip=127.0.0.1\n\
         use-auth-secret\n\
         static-auth-secret={secret}\n\
         realm={REALM}\n\
         no-tls\n\
         no-dtls\n\
         no-cli\n\
         allow-loopback-peers\n\
         no-software-attribute\n\
         verbose\n\
         simple-log\n\
         log-file={log}\n\
         pidfile={pid}\n\
         userdb={db}\n",
        log = dir.join("turn.log").display(),
        pid = dir.join("turnserver.pid").display(),
        db = dir.join("turndb").display(),
    );
    std::fs::write(&conf, config).unwrap();
    let out = File::create(dir.join("stdout.txt")).unwrap();
    let err = out.try_clone().unwrap();
    let mut command = Command::new(TURNSERVER);
    command
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {TURNSERVER}: {e}; {INSTALL_HINT}"))
}

/// Sends STUN Binding requests until one is answered, the server exits or time runs out.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    // RFC 5389: Binding request, no attribute, magic cookie, transaction id.
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    request.extend_from_slice(b"galien-ready");
    let deadline = Instant::now() + START_TIMEOUT;
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("turnserver exited ({status})"));
        }
        let _ = socket.send_to(&request, ("127.0.0.1", port));
        if let Ok((n, _)) = socket.recv_from(&mut buf)
            && n >= 20
            && buf.get(..2) == Some(&[0x01, 0x01][..])
            && buf.get(8..20) == request.get(8..20)
        {
            return Ok(());
        }
    }
    Err(format!("no STUN answer within {START_TIMEOUT:?}"))
}

/// A port free on 127.0.0.1 for both UDP and TCP, released for coturn to bind.
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

fn stop(child: &mut Child) {
    kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}
