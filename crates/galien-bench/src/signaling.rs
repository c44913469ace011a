//! `signaling` (issue 8): N WebSocket clients in pairs relaying call signaling through Galien's
//! `GET /consultations/{id}/ws`, against a bare relay; relay latency, relayed messages per second
//! and the server's memory per connection, at each `--connections` count.
//!
//! Setup (on an in-process node on the lab's database, through the use cases — HTTP and Argon2
//! would take minutes for 5,000 calls; see `node.rs` for the hand-over to the `galien` binary):
//! one médecin (a user created in the store, with one two-factor session opened by
//! `identity::session::open`), N/2 patients registered by him (`patients::records::register`), one
//! teleconsultation per patient booked now (`teleconsultation::appointments::book`), and one guest
//! per call (`call::invite_guest`, whose link is used with `call::use_guest_link` — what
//! `POST /join/{token}` does — giving the guest's session cookie).
//!
//! Each pair is one call: socket A is the médecin's (the same session cookie for all his
//! sockets, as a médecin with several tabs), admitted at once; socket B is the guest's, who waits
//! until A sends `{"type":"admit","participant":…}` (the guest's participant id, from its
//! welcome). B is in the mesh once it receives `admitted`. Every socket passes the real handshake:
//! session or guest cookie, same-origin check, gate decision and trace, consent, waiting room.
//!
//! Measured, on both servers with the same client code (`wsclient.rs`):
//! - back to back: `--concurrency` pairs (all N sockets staying open) each relay an offer A→B then
//!   an answer B→A, again and again: relayed messages per second (the summary line's rate) and
//!   their latency under saturation;
//! - paced: every pair makes one exchange (offer + answer) every `--pace-ms`, started evenly over
//!   the period: the relay latency p50/p99 at N open connections (the JSON `p50_ms`/`p99_ms`).
//!
//! A relay latency runs from the moment the sender wrote its frame to the moment the receiver's
//! reader parsed it (one process, one clock). A message not relayed within 5 s is an error.
//! Memory: the server process's VmRSS before connecting and once all N sockets are open and
//! admitted; the difference over N is the memory per connection (server side only: the clients
//! are in this process). The baseline is a bare axum relay in its own process (`baseline.rs`).

use anyhow::{Context, bail};
use galien_app::patients::records::{self, IdentityInput, RawIdentity};
use galien_app::teleconsultation::appointments::{self, Booking};
use galien_app::teleconsultation::call;
use galien_app::{App, RequestContext};
use galien_core::ids::AppointmentId;
use galien_core::{Clock, SystemClock};
use galien_store::Backend;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Args;
use crate::cpu::CpuWindow;
use crate::measure::{Counters, Measured, Progress};
use crate::node::{Lab, Server, app_for, medecin_with_session, open_file_limit};
use crate::report::{Outcome, Row, ms_json, round, table};
use crate::wsclient::Ws;

/// How long a relayed message may take before it counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(5);
/// How long a handshake step may take.
const STEP: Duration = Duration::from_secs(60);
/// Pairs set up at the same time.
const CONNECTING: usize = 32;

/// Two sockets of one call.
struct Pair {
    a: Ws,
    b: Ws,
    a_id: String,
    b_id: String,
}

/// A call prepared in the store: its id and the guest's cookie value.
struct Call {
    id: AppointmentId,
    guest: String,
}

/// ~1 KiB of SDP after the origin line (offers are 2–6 KiB in browsers, answers smaller).
fn sdp_body() -> String {
    let mut s = String::from("s=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n");
    let lines = [
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n",
        "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n",
        "a=ice-ufrag:Bx7d\r\na=ice-pwd:h9Qy2bL0f3mK8sT1vW4xZ6aC\r\n",
        "a=fingerprint:sha-256 4F:2A:9C:11:D0:7E:33:B8:6A:5D:E2:90:1C:47:F8:0B:6E:29:D3:A1:5C:84:7F:02:B9:E6:13:48:CA:75:0D:9E\r\n",
        "a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n",
        "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n",
    ];
    while s.len() < 1000 {
        for l in lines {
            s.push_str(l);
        }
    }
    s
}

fn signal(kind: &str, to: &str, seq: u64, body: &str) -> String {
    json!({
        "type": kind,
        "to": to,
        "sdp": format!("v=0\r\no=- {seq} 2 IN IP4 127.0.0.1\r\n{body}"),
    })
    .to_string()
}

fn seq_of(v: &Value) -> Option<u64> {
    v.get("sdp")?
        .as_str()?
        .split("o=- ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Waits for the `kind` message numbered `seq`: `Some(when it was read)`, `None` if lost.
async fn wait_for(
    ws: &mut Ws,
    kind: &str,
    seq: u64,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Option<Instant>> {
    loop {
        let Some((at, text)) = ws.recv_until(deadline).await? else {
            return Ok(None);
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            bail!("not JSON from the server");
        };
        match v.get("type").and_then(Value::as_str) {
            Some(t) if t == kind && seq_of(&v) == Some(seq) => return Ok(Some(at)),
            Some("error") => bail!("error message: {v}"),
            _ => {}
        }
    }
}

/// What one pair saw during a phase.
#[derive(Default)]
struct Seen {
    latencies: Vec<Duration>,
    lost: u64,
}

/// One exchange: an offer A→B, then an answer B→A. Fails only when a connection is broken.
async fn exchange(
    p: &mut Pair,
    seq: u64,
    body: &str,
    seen: &mut Seen,
    counters: &Counters,
) -> anyhow::Result<()> {
    for (forward, kind) in [(true, "offer"), (false, "answer")] {
        let (from, to, to_id) = if forward {
            (&mut p.a, &mut p.b, &p.b_id)
        } else {
            (&mut p.b, &mut p.a, &p.a_id)
        };
        let sent = Instant::now();
        from.send_text(&signal(kind, to_id, seq, body)).await?;
        let deadline = tokio::time::Instant::now() + LOST_AFTER;
        match wait_for(to, kind, seq, deadline).await? {
            Some(at) => {
                seen.latencies.push(at.saturating_duration_since(sent));
                counters.done.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                seen.lost += 1;
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// Runs `pairs` (all of them, or the first `active`) in a phase; returns the pairs still alive
/// and the measurement. `pace`: one exchange per pair per period; `None`: back to back.
async fn phase(
    label: String,
    pairs: Vec<Pair>,
    active: usize,
    pace: Option<Duration>,
    dur: Duration,
) -> (Vec<Pair>, Measured) {
    let counters = Arc::new(Counters::default());
    let _progress = Progress::start(label, counters.clone(), None);
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let body: Arc<str> = sdp_body().into();
    let n = pairs.len().max(1);
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    let mut idle = Vec::new();
    for (i, mut pair) in pairs.into_iter().enumerate() {
        if i >= active {
            idle.push(pair);
            continue;
        }
        let (counters, first_error, body) = (counters.clone(), first_error.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut seq = 0u64;
            let mut next = match pace {
                Some(p) => start + p.mul_f64(i as f64 / n as f64),
                None => start,
            };
            let mut alive = true;
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                if let Err(e) = exchange(&mut pair, seq, &body, &mut seen, &counters).await {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = first_error.lock()
                        && f.is_none()
                    {
                        *f = Some(format!("{e:#}"));
                    }
                    alive = false;
                    break;
                }
                seq += 1;
                next = match pace {
                    Some(p) => next + p,
                    None => Instant::now(),
                };
            }
            (alive.then_some(pair), seen)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut alive = Vec::new();
    for t in tasks {
        match t.await {
            Ok((pair, seen)) => {
                latencies.extend(seen.latencies);
                errors += seen.lost;
                match pair {
                    Some(p) => alive.push(p),
                    None => errors += 1,
                }
            }
            Err(_) => errors += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    alive.extend(idle);
    let first = first_error.lock().ok().and_then(|f| f.clone());
    (
        alive,
        Measured::from_latencies(latencies, errors, secs, first),
    )
}

/// Connects `count` pairs with `connect(i)`, `CONNECTING` at a time, with progress.
async fn connect_all<F, Fut>(
    label: String,
    count: usize,
    connect: F,
) -> (Vec<Pair>, u64, Option<String>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Pair>> + Send,
{
    let counters = Arc::new(Counters::default());
    let _progress = Progress::start(label, counters.clone(), Some(count as u64));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTING.min(count.max(1)) {
        let (connect, next, counters) = (connect.clone(), next.clone(), counters.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut first = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                match connect(i).await {
                    Ok(p) => {
                        mine.push(p);
                        counters.done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        first.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (mine, first)
        }));
    }
    let mut pairs = Vec::with_capacity(count);
    let mut first_error = None;
    for t in tasks {
        if let Ok((mine, first)) = t.await {
            pairs.extend(mine);
            if first_error.is_none() {
                first_error = first;
            }
        }
    }
    let failed = (count - pairs.len()) as u64;
    (pairs, failed, first_error, start.elapsed().as_secs_f64())
}

fn id_of(v: &Value, field: &str) -> anyhow::Result<String> {
    Ok(v.get(field)
        .and_then(Value::as_str)
        .with_context(|| format!("no {field} in {v}"))?
        .to_owned())
}

fn is(v: &Value, kind: &str) -> bool {
    v.get("type").and_then(Value::as_str) == Some(kind)
}

async fn relay_pair(host: Arc<str>) -> anyhow::Result<Pair> {
    let mut a = Ws::connect(&host, "/ws", &[]).await?;
    let a_id = id_of(&a.until(STEP, |v| is(v, "welcome")).await?, "you")?;
    let mut b = Ws::connect(&host, "/ws", &[]).await?;
    let b_id = id_of(&b.until(STEP, |v| is(v, "welcome")).await?, "you")?;
    Ok(Pair { a, b, a_id, b_id })
}

async fn galien_pair(
    host: Arc<str>,
    origin: Arc<str>,
    doctor: Arc<str>,
    call: &Call,
) -> anyhow::Result<Pair> {
    let path = format!("/consultations/{}/ws", call.id);
    let doc_cookie = format!("galien_session={doctor}");
    let mut a = Ws::connect(
        &host,
        &path,
        &[("Cookie", &doc_cookie), ("Origin", &origin)],
    )
    .await?;
    let welcome = a.until(STEP, |v| is(v, "welcome")).await?;
    let a_id = id_of(&welcome, "you")?;
    let guest_cookie = format!("galien_guest={}", call.guest);
    let mut b = Ws::connect(
        &host,
        &path,
        &[("Cookie", &guest_cookie), ("Origin", &origin)],
    )
    .await?;
    let welcome = b.until(STEP, |v| is(v, "welcome")).await?;
    let b_id = id_of(&welcome, "you")?;
    let participant = id_of(&welcome, "participant")?;
    a.send_text(&json!({ "type": "admit", "participant": participant }).to_string())
        .await?;
    b.until(STEP, |v| is(v, "admitted")).await?;
    Ok(Pair { a, b, a_id, b_id })
}

/// The médecin's session cookie value and the prepared calls.
async fn prepare(app: &App, pairs: usize) -> anyhow::Result<(String, Vec<Call>)> {
    let (doctor, cookie) = medecin_with_session(app, "signaling@galien.test", "Dr Signal").await?;
    let counters = Arc::new(Counters::default());
    let _progress = Progress::start(
        format!("signaling: preparing {pairs} calls in the store (patient, appointment, guest)"),
        counters.clone(),
        Some(pairs as u64),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTING.min(pairs.max(1)) {
        let (app, doctor, next, counters) =
            (app.clone(), doctor.clone(), next.clone(), counters.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = RequestContext::default();
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= pairs {
                    break;
                }
                let raw = RawIdentity {
                    birth_name: format!("Signal{i}"),
                    first_names: "Patient".into(),
                    sex: "F".into(),
                    birth_date: "1950-01-01".into(),
                    ins_status: "provisional".into(),
                    ..RawIdentity::default()
                };
                let input = IdentityInput::parse(&raw, SystemClock.now().date())
                    .map_err(|c| anyhow::anyhow!("identity: {c:?}"))?;
                let patient = records::register(&app, &doctor, &ctx, input).await?;
                let booked = appointments::book(
                    &app,
                    &doctor,
                    &ctx,
                    Booking {
                        patient,
                        practitioner: doctor.user,
                        at: SystemClock.now(),
                        duration_minutes: 240,
                        reason: "Suivi".into(),
                        referring: None,
                    },
                )
                .await?;
                let invitation =
                    call::invite_guest(&app, &doctor, &ctx, booked.id, &format!("Interprète {i}"))
                        .await?;
                let token = invitation
                    .url
                    .rsplit('/')
                    .next()
                    .context("guest link")?
                    .to_owned();
                let guest = call::use_guest_link(&app, &ctx, &token).await?;
                mine.push(Call {
                    id: booked.id,
                    guest: guest.token.expose().to_owned(),
                });
                counters.done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(mine)
        }));
    }
    let mut calls = Vec::with_capacity(pairs);
    for t in tasks {
        calls.extend(t.await.context("setup task")??);
    }
    Ok((cookie, calls))
}

/// What one server did at one connection count.
struct Side {
    connected: usize,
    connect_failed: u64,
    connect_secs: f64,
    rss_idle: Option<u64>,
    rss_open: Option<u64>,
    rss_end: Option<u64>,
    rss_peak: Option<u64>,
    saturated: Measured,
    paced: Measured,
    first_error: Option<String>,
}

impl Side {
    /// KiB per open connection (server side).
    fn per_connection(&self) -> Option<f64> {
        let (idle, open) = (self.rss_idle?, self.rss_open?);
        (self.connected > 0).then(|| open.saturating_sub(idle) as f64 / (2 * self.connected) as f64)
    }
}

async fn measure_side<F, Fut>(
    name: &str,
    server: &Server,
    pairs: usize,
    args: &Args,
    connect: F,
) -> Side
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Pair>> + Send,
{
    // Settle the allocator before the "idle" reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server.rss_kib();
    let (connected, connect_failed, mut first_error, connect_secs) = connect_all(
        format!(
            "signaling/{name}: connecting {pairs} pairs ({} sockets)",
            2 * pairs
        ),
        pairs,
        connect,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_open = server.rss_kib();
    let opened = connected.len();
    let dur = Duration::from_secs(args.seconds);
    let active = args.concurrency.min(connected.len());
    let cpu = CpuWindow::start(Some(server.pid()), false);
    let (alive, mut saturated) = phase(
        format!("signaling/{name}: {active} pairs back to back"),
        connected,
        active,
        None,
        dur,
    )
    .await;
    saturated.cpu = cpu.per_op(saturated.ops);
    let pace = Duration::from_millis(args.pace_ms.max(1));
    let n = alive.len();
    let cpu = CpuWindow::start(Some(server.pid()), false);
    let (alive, mut paced) = phase(
        format!(
            "signaling/{name}: all {n} pairs, one exchange per {} ms each",
            args.pace_ms
        ),
        alive,
        n,
        Some(pace),
        dur,
    )
    .await;
    paced.cpu = cpu.per_op(paced.ops);
    let rss_end = server.rss_kib();
    let rss_peak = server.peak_rss_kib();
    if first_error.is_none() {
        first_error = saturated
            .first_error
            .clone()
            .or_else(|| paced.first_error.clone());
    }
    drop(alive);
    Side {
        connected: opened,
        connect_failed,
        connect_secs,
        rss_idle,
        rss_open,
        rss_end,
        rss_peak,
        saturated,
        paced,
        first_error,
    }
}

/// Runs the scenario at `connections` sockets on `backend`.
pub(crate) async fn signaling(
    args: &Args,
    backend: Backend,
    connections: usize,
) -> anyhow::Result<Outcome> {
    let pairs = connections / 2;
    let needed = (connections + 256) as u64;
    if let Some((soft, hard)) = open_file_limit()
        && soft < needed
    {
        bail!(
            "signaling at {connections} connections needs about {needed} open files in this process and \
             in the server; the limit here is {soft} (hard limit {hard}). Raise it in the shell that runs \
             the bench, e.g. `ulimit -n {}` (above the hard limit: /etc/security/limits.conf or \
             `prlimit --nofile={0}:{0} --pid $$`), or pass a smaller --connections",
            needed.max(20_000)
        );
    }
    let lab = Lab::new(backend).await?;

    // Baseline: the bare relay.
    let relay = lab.baseline("relay", None).await?;
    let host: Arc<str> = relay.host().into();
    let base = measure_side("baseline", &relay, pairs, args, move |_| {
        relay_pair(host.clone())
    })
    .await;
    relay.stop().await;

    // Galien.
    let node = lab.setup_node(None).await?;
    let app = app_for(&node)?;
    let (doctor, calls) = prepare(&app, pairs).await?;
    drop(app);
    eprintln!("galien-bench: signaling: starting the galien binary on the prepared data");
    let server = lab.serve(node).await?;
    let host: Arc<str> = server.host().into();
    let origin: Arc<str> = server.base.as_str().into();
    let doctor: Arc<str> = doctor.into();
    let calls = Arc::new(calls);
    let galien = measure_side("galien", &server, pairs, args, move |i| {
        let (host, origin, doctor, calls) =
            (host.clone(), origin.clone(), doctor.clone(), calls.clone());
        async move {
            let call = calls.get(i).context("call")?;
            galien_pair(host, origin, doctor, call).await
        }
    })
    .await;
    let pid = server.pid();
    server.stop().await;
    lab.close().await;

    let kib = |x: Option<f64>| x.map_or("-".to_owned(), |k| format!("{k:.1} KiB/conn"));
    let mut rows = Vec::new();
    for (name, side) in [("baseline relay", &base), ("galien", &galien)] {
        let mut r = Row::of(
            format!(
                "{name}: {} pairs back to back",
                args.concurrency.min(side.connected)
            ),
            &side.saturated,
            1.0,
            "msg/s",
            side.rss_end,
        );
        r.note = format!(
            "{}; {} sockets open in {:.1} s, {} failed",
            kib(side.per_connection()),
            2 * side.connected,
            side.connect_secs,
            side.connect_failed
        );
        rows.push(r);
    }
    for (name, side) in [("baseline relay", &base), ("galien", &galien)] {
        let mut r = Row::of(
            format!("{name}: all pairs, 1 exchange / {} ms", args.pace_ms),
            &side.paced,
            1.0,
            "msg/s",
            side.rss_end,
        );
        r.note = side
            .first_error
            .as_ref()
            .map(|e| format!("first error: {}", e.chars().take(160).collect::<String>()))
            .unwrap_or_default();
        rows.push(r);
    }
    table(
        &format!(
            "signaling — {connections} connections ({pairs} calls), {}; servers in their own processes \
             (galien pid {pid}); RSS per connection = (RSS with all sockets open − RSS before) / sockets, \
             server side only",
            backend.name()
        ),
        &rows,
    );
    let mut extra = serde_json::Map::new();
    extra.insert("connections".into(), json!(connections));
    extra.insert("pairs_connected".into(), json!(galien.connected));
    extra.insert(
        "active_pairs".into(),
        json!(args.concurrency.min(galien.connected)),
    );
    extra.insert("pace_ms".into(), json!(args.pace_ms));
    extra.insert("server".into(), json!("galien binary, own process"));
    extra.insert(
        "rss_per_connection_kib".into(),
        json!(galien.per_connection().map(round)),
    );
    extra.insert(
        "baseline_rss_per_connection_kib".into(),
        json!(base.per_connection().map(round)),
    );
    extra.insert("baseline_rss_kib".into(), json!(base.rss_end));
    extra.insert("rss_peak_kib".into(), json!(galien.rss_peak));
    extra.insert("baseline_p50_ms".into(), ms_json(base.paced.p50));
    extra.insert("baseline_p99_ms".into(), ms_json(base.paced.p99));
    extra.insert("paced_rate".into(), json!(round(galien.paced.rate())));
    extra.insert(
        "baseline_paced_rate".into(),
        json!(round(base.paced.rate())),
    );
    extra.insert("saturated_p50_ms".into(), ms_json(galien.saturated.p50));
    extra.insert("saturated_p99_ms".into(), ms_json(galien.saturated.p99));
    extra.insert(
        "baseline_saturated_p50_ms".into(),
        ms_json(base.saturated.p50),
    );
    extra.insert(
        "baseline_saturated_p99_ms".into(),
        ms_json(base.saturated.p99),
    );
    extra.insert("connect_seconds".into(), json!(round(galien.connect_secs)));
    extra.insert("connect_failed".into(), json!(galien.connect_failed));
    galien.saturated.cpu.json_into("saturated_", &mut extra);
    galien.paced.cpu.json_into("paced_", &mut extra);
    base.saturated
        .cpu
        .json_into("baseline_saturated_", &mut extra);
    base.paced.cpu.json_into("baseline_paced_", &mut extra);
    Ok(Outcome {
        scenario: "signaling",
        backend: backend.name(),
        rate: galien.saturated.rate(),
        unit: "msg/s",
        baseline: base.saturated.rate(),
        p50: Some(galien.paced.p50),
        p99: Some(galien.paced.p99),
        errors: galien.saturated.errors + galien.paced.errors + galien.connect_failed,
        rss_kib: galien.rss_end,
        extra,
        qualifier: Some(format!("{connections} connections")),
    })
}
