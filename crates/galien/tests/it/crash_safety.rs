//! Crash safety (ACT-3, TRACE-2): the real `galien` binary, a device posting telemonitoring
//! Bundles (FHIR transactions of 10 heart rates) from two connections and a médecin reading the
//! patient's summary (each read commits its traces) all at once; the server is killed with SIGKILL
//! at a random moment — early, during a burst, right after an acknowledgement, anywhere — and
//! restarted on the same data directory and database. At the end, as the médecin sees them on the
//! patient's monitoring page:
//! - every observation acknowledged to the device is there, with its value;
//! - nothing half-written: each Bundle is there whole or not at all, nothing unsent appears, and
//!   the observation traces account for exactly the stored observations (one transaction);
//! - every acknowledged read left its trace, and `galien audit verify` passes on the data directory.
//!
//! The moments come from a seeded generator; the seed is printed (`GALIEN_CRASH_SEED=<n>` replays
//! it). Everything goes through HTTP as people and devices use it, except the final count of
//! traces, read from the store once the server has stopped.

#![allow(
    clippy::disallowed_methods, // real time: the real server runs on the system clock
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use galien_core::audit::AuditAction;
use galien_core::ids::{NodeId, PatientId};
use galien_crypto::totp::TotpSecret;
use galien_store::{AuditFilter, Backend, DatabaseUrl, Store, StoreOptions};
use galien_testkit::people::{PASSWORD, Page, rpps};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

const BIN: &str = env!("CARGO_BIN_EXE_galien");
/// Observations per Bundle.
const PER_BUNDLE: u32 = 10;
/// Minutes of time slots available (each observation has its own minute, within the last 6 days).
const SLOTS: u32 = 8000;
/// How long a phase may load the server before it is killed anyway.
const PHASE_CAP: Duration = Duration::from_secs(3);

// --- The seeded moments -----------------------------------------------------------------------

/// SplitMix64: small, seedable, good enough to pick moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn seed() -> u64 {
    std::env::var("GALIEN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// Where in a phase the server is killed.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// 0–120 ms after the clients start: often before the first answer.
    Early,
    /// 200–900 ms after the first acknowledgement, in the middle of the load.
    Burst,
    /// The moment the device has received its n-th acknowledgement of the phase (n in 1–25).
    AfterAck,
    /// Anywhere in the first 1.5 s.
    Anywhere,
}

const KILL_POINTS: [KillPoint; 4] = [
    KillPoint::Early,
    KillPoint::Burst,
    KillPoint::AfterAck,
    KillPoint::Anywhere,
];

// --- The real server ----------------------------------------------------------------------------

/// A `galien serve` child process; killed (SIGKILL) on drop.
struct Node {
    child: Child,
    base: String,
    link: Option<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// Every `GALIEN_*` variable of the test's environment: none reaches a `galien` this test starts,
/// which takes its settings from the test alone. `galien` refuses the variables it does not know,
/// such as this test's own `GALIEN_CRASH_SEED` (it ignores only `GALIEN_TEST_*` and
/// `GALIEN_BENCH_*`), and the others (`GALIEN_DATA_DIR`, `GALIEN_LISTEN`…) would override the
/// test's configuration.
fn galien_variables() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("GALIEN_"))
        .collect()
}

impl Node {
    /// Starts `galien serve --config <config>` and waits for its address (and the first
    /// administrator's link on the first start).
    async fn start(config: &Path, first: bool) -> Node {
        let mut command = Command::new(BIN);
        command.arg("serve").arg("--config").arg(config);
        for name in galien_variables() {
            command.env_remove(name);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (tx, mut lines) = mpsc::unbounded_channel();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                let _ = tx.send(line);
            }
        });
        // The last lines of the log, for a failure's message.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let mut s = sink.lock().unwrap();
                if s.len() >= 200 {
                    s.remove(0);
                }
                s.push(line);
            }
        });
        let mut base = None;
        let mut link = None;
        while base.is_none() || (first && link.is_none()) {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.recv())
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| {
                    panic!(
                        "galien did not start; log:\n{}",
                        stderr.lock().unwrap().join("\n")
                    )
                });
            if let Some(rest) = line.strip_prefix("galien: listening on ") {
                base = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("galien: enrolment link: ") {
                link = Some(rest.trim().to_owned());
            }
        }
        Node {
            child,
            base: base.unwrap(),
            link,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, and wait for the process to be gone.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        let status = self.child.wait().await.unwrap();
        assert!(!status.success(), "killed, not exited: {status:?}");
    }

    /// SIGTERM (graceful: in-flight requests end, writes flushed, a last audit checkpoint).
    async fn terminate(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("galien stops within 20 s of SIGTERM")
            .unwrap();
        assert!(
            status.success(),
            "{status:?}; log:\n{}",
            self.stderr.lock().unwrap().join("\n")
        );
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

// --- A person's browser, without one ------------------------------------------------------------

/// A cookie-keeping HTTP client that follows no redirect, speaking to whichever node is up (the
/// session lives in the database, so it outlives a crash of the server).
#[derive(Clone)]
struct Person {
    client: reqwest::Client,
}

impl Person {
    fn new() -> Person {
        Person {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    async fn read(r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r
            .text()
            .await
            .unwrap()
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&#x2f;", "/")
            .replace("&#47;", "/")
            .replace("&amp;", "&");
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, url: &str) -> Page {
        Self::read(self.client.get(url).send().await.unwrap()).await
    }

    async fn post(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        Self::read(self.client.post(url).form(fields).send().await.unwrap()).await
    }

    /// Opens `page`, then posts to `action` with the page's `_csrf` and `fields`.
    async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let shown = self.get(page).await;
        let csrf = shown
            .field("_csrf")
            .unwrap_or_else(|| panic!("no _csrf on {page}: {}", shown.body));
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Registers TOTP on `/account/totp` with a code of the current time step.
    async fn enrol_totp(&self, node: &Node) {
        let page = self.get(&node.url("/account/totp")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let secret: String = page
            .between("id=\"secret\">", "<")
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let code = TotpSecret::from_base32(&secret)
            .unwrap()
            .code_at(OffsetDateTime::now_utc())
            .unwrap()
            .to_string();
        let done = self
            .post(
                &node.url("/account/totp"),
                &[
                    ("_csrf", &page.field("_csrf").unwrap()),
                    ("sealed", &page.field("sealed").unwrap()),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
    }
}

// --- What the clients did -----------------------------------------------------------------------

#[derive(Debug, Default)]
struct Ledger {
    /// Every Bundle sent: its slots, and whether the server acknowledged it.
    bundles: Vec<(Vec<u32>, bool)>,
    /// Summary reads answered 200.
    reads: u64,
    /// Answers other than success from a live server (none expected).
    unexpected: Vec<String>,
}

/// The shared state of one run: the slots' clock, the ledger, the device's credentials.
struct Run {
    /// Slot 0's minute; slot `s` is `base + s` minutes.
    base: OffsetDateTime,
    next_slot: Mutex<u32>,
    ledger: Mutex<Ledger>,
    patient: String,
}

impl Run {
    fn at(&self, slot: u32) -> OffsetDateTime {
        self.base + time::Duration::minutes(i64::from(slot))
    }

    /// The heart rate of a slot, 50–109 bpm.
    fn value(slot: u32) -> u32 {
        50 + (slot * 7) % 60
    }

    /// The slot as the monitoring page's table shows it: (when, value).
    fn row(&self, slot: u32) -> (String, String) {
        let at = galien_core::clock::europe_paris(self.at(slot));
        (
            format!(
                "{:02}/{:02}/{} à {:02}:{:02}",
                at.day(),
                u8::from(at.month()),
                at.year(),
                at.hour(),
                at.minute()
            ),
            format!("{}\u{a0}bpm", Self::value(slot)),
        )
    }

    fn take_slots(&self) -> Option<Vec<u32>> {
        let mut next = self.next_slot.lock().unwrap();
        if *next + PER_BUNDLE > SLOTS {
            return None;
        }
        let slots = (*next..*next + PER_BUNDLE).collect();
        *next += PER_BUNDLE;
        Some(slots)
    }

    fn bundle(&self, slots: &[u32]) -> Value {
        let entries: Vec<Value> = slots
            .iter()
            .map(|&s| {
                json!({
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": { "coding": [{ "system": "http://loinc.org", "code": "8867-4" }] },
                        "subject": { "reference": format!("Patient/{}", self.patient) },
                        "effectiveDateTime": self.at(s).format(&Rfc3339).unwrap(),
                        "valueQuantity": {
                            "value": Self::value(s),
                            "system": "http://unitsofmeasure.org",
                            "code": "/min",
                        },
                    },
                    "request": { "method": "POST", "url": "Observation" },
                })
            })
            .collect();
        json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries })
    }
}

/// One device connection: posts Bundles one after the other until told to stop or the server is
/// gone; counts acknowledgements on `acks`.
async fn device_loop(
    run: Arc<Run>,
    url: String,
    token: String,
    stop: Arc<AtomicBool>,
    acks: Arc<watch::Sender<u64>>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    while !stop.load(Ordering::SeqCst) {
        let Some(slots) = run.take_slots() else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let index = {
            let mut l = run.ledger.lock().unwrap();
            l.bundles.push((slots.clone(), false));
            l.bundles.len() - 1
        };
        let sent = client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/fhir+json")
            .body(run.bundle(&slots).to_string())
            .send()
            .await;
        let Ok(response) = sent else { break };
        let status = response.status().as_u16();
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        if status != 200 {
            run.ledger
                .lock()
                .unwrap()
                .unexpected
                .push(format!("bundle: {status} {body}"));
            break;
        }
        let created = body["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter(|e| e["response"]["status"] == "201 Created")
                    .count()
            })
            .unwrap_or_default();
        let mut l = run.ledger.lock().unwrap();
        if created == slots.len() {
            l.bundles[index].1 = true;
        } else {
            l.unexpected.push(format!(
                "bundle answered 200 without {PER_BUNDLE} creations: {body}"
            ));
        }
        drop(l);
        acks.send_modify(|n| *n += 1);
    }
}

/// The médecin reads the patient's summary again and again.
async fn reader_loop(run: Arc<Run>, doctor: Person, url: String, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(r) = doctor.client.get(&url).send().await else {
            break;
        };
        let status = r.status().as_u16();
        if r.bytes().await.is_err() {
            break;
        }
        let mut l = run.ledger.lock().unwrap();
        if status == 200 {
            l.reads += 1;
        } else {
            l.unexpected.push(format!("summary read: {status}"));
            break;
        }
    }
}

async fn device_token(node: &Node, id: &str, secret: &str) -> String {
    let r = reqwest::Client::new()
        .post(node.url("/api/v1/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One phase: load the node from two device connections and the médecin, kill it at `point`.
/// Returns how many Bundles were acknowledged in the phase.
async fn phase(
    node: Node,
    run: &Arc<Run>,
    doctor: &Person,
    device: (&str, &str),
    point: KillPoint,
    rng: &mut Rng,
) -> u64 {
    let token = device_token(&node, device.0, device.1).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (acks, mut acked) = watch::channel(0_u64);
    let acks = Arc::new(acks);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        tasks.push(tokio::spawn(device_loop(
            run.clone(),
            node.url("/fhir/r4"),
            token.clone(),
            stop.clone(),
            acks.clone(),
        )));
    }
    tasks.push(tokio::spawn(reader_loop(
        run.clone(),
        doctor.clone(),
        node.url(&format!("/patients/{}", run.patient)),
        stop.clone(),
    )));
    let cap = tokio::time::sleep(PHASE_CAP);
    tokio::pin!(cap);
    let chosen = match point {
        KillPoint::Early => {
            let ms = rng.between(0, 120);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            format!("{ms} ms after the start")
        }
        KillPoint::Burst => {
            let ms = rng.between(200, 900);
            tokio::select! {
                _ = acked.wait_for(|n| *n >= 1) => {}
                () = &mut cap => {}
            }
            tokio::time::sleep(Duration::from_millis(ms)).await;
            format!("{ms} ms after the first acknowledgement")
        }
        KillPoint::AfterAck => {
            let n = rng.between(1, 25);
            tokio::select! {
                _ = acked.wait_for(|a| *a >= n) => {}
                () = &mut cap => {}
            }
            format!("at acknowledgement {n}")
        }
        KillPoint::Anywhere => {
            let ms = rng.between(0, 1500);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            format!("{ms} ms after the start")
        }
    };
    node.kill().await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(15), t)
            .await
            .expect("clients notice the dead server")
            .unwrap();
    }
    let n = *acked.borrow();
    println!("crash_safety: kill {point:?} ({chosen}): {n} Bundles acknowledged in the phase");
    n
}

// --- The run ------------------------------------------------------------------------------------

fn config_file(dir: &Path, data: &Path, database: Option<&str>) -> PathBuf {
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n",
        data.display()
    );
    if let Some(url) = database {
        text.push_str(&format!("database_url = \"{url}\"\n"));
    }
    // Fast, still real, Argon2id; quiet logs.
    text.push_str(
        "[auth]\nargon2_memory_kib = 1024\nargon2_iterations = 1\nfailure_delay_ms = 0\n\
         [log]\nlevel = \"warn\"\n",
    );
    let path = dir.join("galien.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The first administrator, a médecin, a device, and an enrolled patient with the device
/// attached, all through the pages. Returns (médecin, patient id, (client id, secret)).
async fn set_up(node: &Node) -> (Person, String, (String, String)) {
    let admin = Person::new();
    let r = admin
        .post(
            node.link.as_deref().unwrap(),
            &[
                ("display_name", "Alice Admin"),
                ("email", "admin@galien.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    admin.enrol_totp(node).await;
    let invited = admin
        .submit(
            &node.url("/admin/users"),
            &node.url("/admin/users"),
            &[
                ("role", "medecin"),
                ("display_name", "Dr Bernard Martin"),
                ("email", "b.martin@galien.test"),
                ("professional_id", &rpps("1000000042")),
                ("organisation", ""),
            ],
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    let link = invited
        .between("id=\"invitation-link\">", "<")
        .expect("invitation link");
    let doctor = Person::new();
    let r = doctor.post(&link, &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    doctor.enrol_totp(node).await;

    let made = admin
        .submit(
            &node.url("/admin/machines"),
            &node.url("/admin/machines"),
            &[
                ("name", "Cardiofréquencemètre 3"),
                ("kind", "device"),
                ("scope", "observations.write"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let client = made.between("id=\"client-id\">", "<").unwrap();
    let secret = made.between("id=\"client-secret\">", "<").unwrap();

    let registered = doctor
        .submit(
            &node.url("/patients/new"),
            &node.url("/patients/new"),
            &[
                ("birth_name", "Martin"),
                ("used_name", ""),
                ("first_names", "Claire Anne"),
                ("used_first_name", ""),
                ("sex", "F"),
                ("birth_date", "1984-12-01"),
                ("birth_place", "75056"),
                ("nir", ""),
                ("ins_status", "provisional"),
                ("phone", "06 12 34 56 78"),
                ("email", ""),
                ("address", "12 rue des Lilas\n75011 Paris"),
                ("referring_doctor", "Dr Bernard Martin"),
            ],
        )
        .await;
    assert_eq!(registered.status, 303, "{}", registered.body);
    let path = registered
        .location()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let enrolled = doctor
        .submit(
            &node.url(&path),
            &node.url(&format!("{path}/monitoring")),
            &[
                ("programme", "insuffisance_cardiaque"),
                ("reading_hours", "8-18"),
                ("monitors", ""),
                ("consent_means", "written"),
            ],
        )
        .await;
    assert_eq!(enrolled.status, 303, "{}", enrolled.body);
    let attached = doctor
        .submit(
            &node.url(&path),
            &node.url(&format!("{path}/monitoring/devices")),
            &[("client_id", &client)],
        )
        .await;
    assert_eq!(attached.status, 303, "{}", attached.body);
    let patient = path.trim_start_matches("/patients/").to_owned();
    (doctor, patient, (client, secret))
}

/// The rows of the tables of values on the patient's monitoring page: when → value.
fn table_rows(page: &Page) -> HashMap<String, String> {
    page.body
        .split("<th scope=\"row\">")
        .skip(1)
        .filter_map(|cell| {
            let (when, rest) = cell.split_once("</th><td>")?;
            let (value, _) = rest.split_once("</td>")?;
            Some((when.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Every trace of `patient` with `action`, paged through the store.
async fn traces(
    store: &Store,
    patient: PatientId,
    action: AuditAction,
) -> Vec<galien_core::audit::AuditEvent> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .audit_events(&AuditFilter {
                patient: Some(patient),
                action: Some(action),
                limit: Some(1000),
                after_seq: after,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        out.extend(page.into_iter().map(|e| e.event));
    }
    out
}

async fn survives_sigkill(backend: Backend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = seed();
    println!("crash_safety: {backend:?}, seed {seed} (GALIEN_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(galien_testkit::fresh_database(backend, &data).await),
    };
    let database_url = match db.as_ref().map(|d| d.url()) {
        Some(DatabaseUrl::Postgres { url }) => Some(url.clone()),
        _ => None,
    };
    let config = config_file(dir.path(), &data, database_url.as_deref());

    let node = Node::start(&config, true).await;
    let (doctor, patient, (client, secret)) = set_up(&node).await;
    let now = OffsetDateTime::now_utc();
    let run = Arc::new(Run {
        base: (now - time::Duration::days(6))
            .replace_second(0)
            .unwrap()
            .replace_nanosecond(0)
            .unwrap(),
        next_slot: Mutex::new(0),
        ledger: Mutex::new(Ledger::default()),
        patient: patient.clone(),
    });

    let mut node = node;
    for point in KILL_POINTS {
        phase(node, &run, &doctor, (&client, &secret), point, &mut rng).await;
        node = Node::start(&config, false).await;
    }

    // After the last restart: what the médecin sees.
    let page = doctor
        .get(&node.url(&format!("/monitoring/patients/{patient}?days=7")))
        .await;
    assert_eq!(page.status, 200, "{}\n{}", page.body, node.log());
    let rows = table_rows(&page);
    node.terminate().await;

    let ledger = std::mem::take(&mut *run.ledger.lock().unwrap());
    assert!(
        ledger.unexpected.is_empty(),
        "a live server answered with a failure: {:?}",
        ledger.unexpected
    );
    let sent: BTreeMap<u32, bool> = ledger
        .bundles
        .iter()
        .flat_map(|(slots, acked)| slots.iter().map(move |s| (*s, *acked)))
        .collect();
    let acked = sent.values().filter(|a| **a).count();
    assert!(acked > 0, "no Bundle was ever acknowledged");
    // Every acknowledged observation is there, with its value.
    for (slot, _) in sent.iter().filter(|(_, a)| **a) {
        let (when, value) = run.row(*slot);
        assert_eq!(
            rows.get(&when),
            Some(&value),
            "acknowledged observation at {when} is missing or changed"
        );
    }
    // Nothing that was not sent, nothing garbled.
    let by_when: HashMap<String, String> = sent.keys().map(|s| run.row(*s)).collect();
    for (when, value) in &rows {
        assert_eq!(
            by_when.get(when),
            Some(value),
            "a stored value nobody sent: {when} {value}"
        );
    }
    // Each Bundle (a transaction) whole or not at all.
    let mut whole_unacked = 0;
    for (slots, was_acked) in &ledger.bundles {
        let present = slots
            .iter()
            .filter(|s| rows.contains_key(&run.row(**s).0))
            .count();
        assert!(
            present == 0 || present == slots.len(),
            "a Bundle half-written: {present} of {} (acknowledged: {was_acked})",
            slots.len()
        );
        if !was_acked && present == slots.len() {
            whole_unacked += 1;
        }
    }

    // The audit trail is intact (hash chain, checkpoints) after four crashes.
    let mut verify = std::process::Command::new(BIN);
    verify.args(["audit", "verify", "--data-dir"]).arg(&data);
    for name in galien_variables() {
        verify.env_remove(name);
    }
    if let Some(url) = &database_url {
        verify.arg("--database-url").arg(url);
    }
    let out = verify.output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "galien audit verify: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Stored observations and their traces, one for one; acknowledged reads all traced.
    let url = match &database_url {
        Some(url) => DatabaseUrl::Postgres { url: url.clone() },
        None => DatabaseUrl::sqlite_in(&data),
    };
    let store = Store::open(
        &url,
        &StoreOptions::default(),
        NodeId::from_uuid(uuid::Uuid::new_v4()),
    )
    .await
    .unwrap();
    let pid: PatientId = patient.parse().unwrap();
    let traced: usize = traces(&store, pid, AuditAction::RecordWrite)
        .await
        .iter()
        .filter_map(|e| e.resource.as_ref())
        .filter(|r| r.kind == "observation")
        .map(|r| r.id.rsplit(':').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(
        traced,
        rows.len(),
        "observation traces must account for exactly the stored observations"
    );
    let reads = traces(&store, pid, AuditAction::RecordRead).await.len();
    assert!(
        reads as u64 >= ledger.reads,
        "{} acknowledged reads, {reads} read traces",
        ledger.reads
    );
    store.close().await;
    if let Some(db) = db {
        db.drop_database().await;
    }
    println!(
        "crash_safety: {backend:?}: {} kill points; {} Bundles sent, {} observations sent, \
         {acked} acknowledged and all found; {} stored (of which {} in {whole_unacked} Bundles \
         committed but not acknowledged before the kill), {traced} traced; {} summary reads \
         acknowledged, {reads} read traces; {}",
        KILL_POINTS.len(),
        ledger.bundles.len(),
        sent.len(),
        rows.len(),
        whole_unacked as u32 * PER_BUNDLE,
        ledger.reads,
        said.trim()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_trace02_acknowledged_writes_survive_sigkill_sqlite() {
    survives_sigkill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_trace02_acknowledged_writes_survive_sigkill_postgres() {
    survives_sigkill(Backend::Postgres).await;
}
