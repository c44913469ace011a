//! A thin W3C WebDriver client driving Debian's Chromium through `chromedriver` (CONVENTIONS 16).
//!
//! ```ignore
//! let browser = Browser::start().await;
//! let page = browser.page(PageOptions::default()).await;
//! page.goto(&server.url("/")).await;
//! assert_eq!(page.find("h1").await.text().await, "Galien, la télémédecine sûre");
//! page.save_screenshot("home-desktop").await;
//! ```
//!
//! Each [`Page`] is its own WebDriver session with its own Chromium profile (cookies, storage), so
//! two pages simulate two people. Every call panics with the WebDriver error (`error`, `message`)
//! on failure; the `try_*` variants return it instead.
//!
//! Chromedriver runs in its own process group; dropping the last handle on it (the [`Browser`] and
//! every [`Page`]) kills that group, Chromium included.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

const INSTALL_HINT: &str = "install Debian's chromium and chromium-driver: \
apt-get install -y --no-install-recommends chromium chromium-driver (scripts/test does it when run as root)";

/// The browser language when [`PageOptions::lang`] is `None`.
pub const DEFAULT_LANG: &str = "fr-FR,fr";

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver key codes, for [`Page::press`] and [`Element::send_keys`].
pub mod keys {
    /// Tab.
    pub const TAB: &str = "\u{E004}";
    /// Enter.
    pub const ENTER: &str = "\u{E007}";
    /// Shift (held while the next keys of a chord are pressed).
    pub const SHIFT: &str = "\u{E008}";
    /// Escape.
    pub const ESCAPE: &str = "\u{E00C}";
    /// Space.
    pub const SPACE: &str = "\u{E00D}";
    /// Backspace.
    pub const BACKSPACE: &str = "\u{E003}";
    /// Arrow left.
    pub const ARROW_LEFT: &str = "\u{E012}";
    /// Arrow up.
    pub const ARROW_UP: &str = "\u{E013}";
    /// Arrow right.
    pub const ARROW_RIGHT: &str = "\u{E014}";
    /// Arrow down.
    pub const ARROW_DOWN: &str = "\u{E015}";
}

/// An error answered by chromedriver (W3C error JSON), or a transport failure.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// What was asked, e.g. `POST /session/…/element`.
    pub command: String,
    /// HTTP status (0 when chromedriver could not be reached).
    pub status: u16,
    /// The W3C error code, e.g. `no such element`, `javascript error`.
    pub error: String,
    /// The message, e.g. the JavaScript exception.
    pub message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WebDriver {}: HTTP {} {}: {}",
            self.command, self.status, self.error, self.message
        )
    }
}

impl std::error::Error for WebDriverError {}

/// A running chromedriver; Chromium sessions are opened with [`Browser::page`].
#[derive(Debug, Clone)]
pub struct Browser {
    driver: Arc<Driver>,
}

/// The chromedriver process, killed (with its process group) when the last handle goes.
#[derive(Debug)]
struct Driver {
    url: String,
    client: reqwest::Client,
    child: std::sync::Mutex<Child>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let mut child = match self.child.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Chromedriver leads its own process group: killing the group takes Chromium with it.
        if let Some(pid) = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// How to open a page.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageOptions<'a> {
    /// Fake camera and microphone, no permission prompt, ICE on loopback (WebRTC tests).
    pub fake_media: bool,
    /// The browser language and `Accept-Language`, e.g. `Some("en")` or `Some("en-GB,en")`;
    /// `None` is [`DEFAULT_LANG`] (French), whatever the machine's locale.
    pub lang: Option<&'a str>,
}

/// A WebAuthn virtual authenticator (WebDriver extension, supported by Chromium).
#[derive(Debug, Clone, Copy)]
pub struct VirtualAuthenticator {
    /// `"ctap2"`, `"ctap2_1"` or `"ctap1/u2f"`.
    pub protocol: &'static str,
    /// `"usb"`, `"nfc"`, `"ble"` or `"internal"` (a platform authenticator).
    pub transport: &'static str,
    /// Stores discoverable (resident) credentials.
    pub has_resident_key: bool,
    /// Can verify the user (PIN, biometrics).
    pub has_user_verification: bool,
    /// Whether user verification succeeds.
    pub is_user_verified: bool,
}

impl Default for VirtualAuthenticator {
    /// A platform authenticator with discoverable credentials and user verification that succeeds.
    fn default() -> Self {
        VirtualAuthenticator {
            protocol: "ctap2",
            transport: "internal",
            has_resident_key: true,
            has_user_verification: true,
            is_user_verified: true,
        }
    }
}

/// A cookie as the browser holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// Path.
    #[serde(default)]
    pub path: Option<String>,
    /// `Secure`.
    #[serde(default)]
    pub secure: bool,
    /// `HttpOnly`.
    #[serde(default)]
    pub http_only: bool,
    /// `SameSite`: `Strict`, `Lax` or `None`.
    #[serde(default)]
    pub same_site: Option<String>,
    /// Expiry in seconds since the epoch; `None` for a session cookie.
    #[serde(default)]
    pub expiry: Option<u64>,
}

/// `url` with the host `127.0.0.1` replaced by `localhost`: Chromium treats `http://localhost` as
/// a secure context (WebAuthn, media devices), not `http://127.0.0.1`.
pub fn localhost(url: &str) -> String {
    url.replacen("://127.0.0.1", "://localhost", 1)
}

/// `<workspace>/test-artifacts` (or `$GALIEN_TEST_ARTIFACTS`), created if needed.
pub fn artifacts_dir() -> PathBuf {
    let dir = match std::env::var_os("GALIEN_TEST_ARTIFACTS") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("test-artifacts"),
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../..");
    root.canonicalize().unwrap_or(root)
}

pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Browser {
    /// Starts chromedriver on a free port of 127.0.0.1 and waits until it is ready.
    ///
    /// Panics, saying how to install them, when Chromium or chromedriver are missing.
    pub async fn start() -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} not found; browser tests need it: {INSTALL_HINT}"
            );
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let mut last_error = String::new();
        // A port picked then released may be taken by someone else before chromedriver binds it.
        for _attempt in 0..3 {
            let port = free_port();
            let mut command = Command::new(CHROMEDRIVER);
            command
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .arg("--log-level=WARNING")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {CHROMEDRIVER}: {e}; {INSTALL_HINT}"));
            let driver = Arc::new(Driver {
                url: format!("http://127.0.0.1:{port}"),
                client: client.clone(),
                child: std::sync::Mutex::new(child),
            });
            match driver.wait_ready(Duration::from_secs(20)).await {
                Ok(()) => return Browser { driver },
                Err(e) => last_error = e,
            }
        }
        panic!("chromedriver did not become ready: {last_error}; {INSTALL_HINT}");
    }

    /// The chromedriver URL, `http://127.0.0.1:PORT`.
    pub fn driver_url(&self) -> &str {
        &self.driver.url
    }

    /// Opens a new Chromium session with a fresh profile, 1280×900.
    pub async fn page(&self, opts: PageOptions<'_>) -> Page {
        let profile = tempfile::Builder::new()
            .prefix("galien-chromium-")
            .tempdir()
            .unwrap();
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        if opts.fake_media {
            args.extend(
                [
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    "--allow-loopback-in-peer-connection",
                ]
                .iter()
                .map(|s| (*s).to_owned()),
            );
        }
        // French unless asked otherwise, whatever the machine's locale: Galien's audience.
        let accept = opts.lang.unwrap_or(DEFAULT_LANG);
        let primary = accept.split(',').next().unwrap_or(accept).trim();
        args.push(format!("--lang={primary}"));
        args.push(format!("--accept-lang={accept}"));
        let prefs = json!({ "intl.accept_languages": accept });
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "acceptInsecureCerts": true,
                    "pageLoadStrategy": "normal",
                    "webauthn:virtualAuthenticators": true,
                    "timeouts": { "script": 30_000, "pageLoad": 60_000, "implicit": 0 },
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": args,
                        "prefs": prefs,
                    }
                }
            }
        });
        let value = self
            .driver
            .command(reqwest::Method::POST, "/session", Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session: {e}; {INSTALL_HINT}"));
        let id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("new session answered without sessionId: {value}"))
            .to_owned();
        Page {
            session: Arc::new(Session {
                driver: self.driver.clone(),
                id,
                closed: std::sync::atomic::AtomicBool::new(false),
                profile: std::sync::Mutex::new(Some(profile)),
            }),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

impl Driver {
    async fn wait_ready(&self, within: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.lock().map(|mut c| c.try_wait().ok().flatten()) {
                return Err(format!("chromedriver exited with {status}"));
            }
            match self.command(reqwest::Method::GET, "/status", None).await {
                Ok(v) if v.get("ready").and_then(Value::as_bool) == Some(true) => return Ok(()),
                Ok(v) => {
                    if tokio::time::Instant::now() > deadline {
                        return Err(format!("/status says not ready: {v}"));
                    }
                }
                Err(e) => {
                    if tokio::time::Instant::now() > deadline {
                        return Err(e.to_string());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends one WebDriver command; returns its `value`.
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let what = format!("{method} {path}");
        let failed = |status: u16, error: &str, message: String| WebDriverError {
            command: what.clone(),
            status,
            error: error.to_owned(),
            message,
        };
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == reqwest::Method::POST {
            request = request.json(&json!({}));
        }
        let response = request
            .send()
            .await
            .map_err(|e| failed(0, "unreachable", e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| failed(status, "unreadable response", e.to_string()))?;
        let body: Value = serde_json::from_str(&text)
            .map_err(|e| failed(status, "invalid JSON", format!("{e}: {text}")))?;
        let value = body.get("value").cloned().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let error = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned();
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or(&text)
            .to_owned();
        Err(failed(status, &error, message))
    }
}

/// One WebDriver session, deleted when the last handle goes (if [`Page::close`] was not called).
#[derive(Debug)]
struct Session {
    driver: Arc<Driver>,
    id: String,
    closed: std::sync::atomic::AtomicBool,
    profile: std::sync::Mutex<Option<TempDir>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        // Best effort: end the session in the background; the profile directory goes with it.
        // If the runtime is gone, killing chromedriver's process group ends Chromium anyway.
        let profile = self.profile.lock().ok().and_then(|mut p| p.take());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let driver = self.driver.clone();
            let path = format!("/session/{}", self.id);
            handle.spawn(async move {
                let _ = driver.command(reqwest::Method::DELETE, &path, None).await;
                drop(profile);
            });
        }
    }
}

/// A Chromium window in its own WebDriver session.
#[derive(Debug, Clone)]
pub struct Page {
    session: Arc<Session>,
}

/// An element of a page.
#[derive(Debug, Clone)]
pub struct Element {
    session: Arc<Session>,
    id: String,
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.session.id == other.session.id && self.id == other.id
    }
}

impl Eq for Element {}

impl Session {
    async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        self.driver
            .command(method, &format!("/session/{}{path}", self.id), body)
            .await
    }

    async fn get(&self, path: &str) -> Value {
        self.cmd(reqwest::Method::GET, path, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn delete(&self, path: &str) -> Value {
        self.cmd(reqwest::Method::DELETE, path, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn element_id(value: &Value) -> Option<String> {
    value
        .get(ELEMENT_KEY)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn string(value: Value, what: &str) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("{what}: expected a string, got {other}"),
    }
}

impl Page {
    fn element(&self, value: &Value) -> Element {
        Element {
            session: self.session.clone(),
            id: element_id(value).unwrap_or_else(|| panic!("not an element reference: {value}")),
        }
    }

    /// The WebDriver session id.
    pub fn session_id(&self) -> &str {
        &self.session.id
    }

    /// Navigates to `url` and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.session.post("/url", json!({ "url": url })).await;
    }

    /// Goes back in history.
    pub async fn back(&self) {
        self.session.post("/back", json!({})).await;
    }

    /// Reloads the page.
    pub async fn refresh(&self) {
        self.session.post("/refresh", json!({})).await;
    }

    /// The current URL.
    pub async fn current_url(&self) -> String {
        string(self.session.get("/url").await, "current URL")
    }

    /// The document title.
    pub async fn title(&self) -> String {
        string(self.session.get("/title").await, "title")
    }

    /// The serialized DOM.
    pub async fn source(&self) -> String {
        string(self.session.get("/source").await, "page source")
    }

    /// The first element matching `css`, or `None`.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let body = json!({ "using": "css selector", "value": css });
        match self
            .session
            .cmd(reqwest::Method::POST, "/element", Some(body))
            .await
        {
            Ok(v) => Some(self.element(&v)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// The first element matching `css`; panics (with the URL) when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(e) => e,
            None => panic!("no element matches {css:?} on {}", self.current_url().await),
        }
    }

    /// Every element matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self
            .session
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        v.as_array()
            .map(|a| a.iter().map(|e| self.element(e)).collect())
            .unwrap_or_default()
    }

    /// Polls until an element matches `css`; panics after `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "no element matched {css:?} within {timeout:?} on {}",
                    self.current_url().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the JavaScript expression `expr` is truthy; returns its value; panics after
    /// `timeout`. Errors thrown by `expr` count as falsy.
    pub async fn wait_until_js(&self, expr: &str, timeout: Duration) -> Value {
        let script = format!("return ({expr});");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let last = match self.try_execute(&script, Vec::new()).await {
                Ok(v) if truthy(&v) => return v,
                Ok(v) => v.to_string(),
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() > deadline {
                panic!("{expr:?} not truthy within {timeout:?}; last: {last}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the current URL satisfies `pred`; returns it; panics after `timeout`.
    pub async fn wait_for_url(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let url = self.current_url().await;
            if pred(&url) {
                return url;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("URL still {url} after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` (a function body: use `return`, and `arguments[i]`) in the page.
    /// Element arguments can be passed with [`Element::to_arg`].
    pub async fn try_execute(
        &self,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, WebDriverError> {
        self.session
            .cmd(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({ "script": script, "args": args })),
            )
            .await
    }

    /// [`Page::try_execute`], panicking with the JavaScript error.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs an asynchronous `script`: its result is what it passes to the callback, the last
    /// argument (`const done = arguments[arguments.length - 1]`). The script timeout is 30 s.
    pub async fn try_execute_async(
        &self,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, WebDriverError> {
        self.session
            .cmd(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({ "script": script, "args": args })),
            )
            .await
    }

    /// [`Page::try_execute_async`], panicking with the JavaScript error.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = string(self.session.get("/screenshot").await, "screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"))
    }

    /// Saves a PNG of the viewport as `<workspace>/test-artifacts/<name>.png`; returns the path.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        let png = self.screenshot_png().await;
        let path = artifacts_dir().join(format!("{name}.png"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, &png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Resizes the window, e.g. `(390, 844)` for a phone, `(1280, 900)` for a desktop.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.session
            .post("/window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    /// Emulates an exact viewport in CSS pixels (Chrome DevTools `Emulation.setDeviceMetricsOverride`),
    /// with `mobile` turning on touch-device behaviour (meta viewport, overlay scrollbars); e.g.
    /// `(390, 844, true)` for a phone. [`Page::set_window_size`] is the plain alternative.
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    /// Runs a Chrome DevTools Protocol command (chromedriver's `goog/cdp/execute`).
    pub async fn cdp(&self, method: &str, params: Value) -> Value {
        self.session
            .post(
                "/goog/cdp/execute",
                json!({ "cmd": method, "params": params }),
            )
            .await
    }

    /// The window's inner width in CSS pixels (what media queries see).
    pub async fn viewport_width(&self) -> u64 {
        self.execute("return window.innerWidth;", Vec::new())
            .await
            .as_u64()
            .unwrap_or(0)
    }

    /// The browser's cookies for the current page.
    pub async fn cookies(&self) -> Vec<Cookie> {
        let v = self.session.get("/cookie").await;
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("cookies {v}: {e}"))
    }

    /// Deletes every cookie visible to the current page.
    pub async fn delete_cookies(&self) {
        self.session.delete("/cookie").await;
    }

    /// The element that has the focus (`document.activeElement`).
    pub async fn active_element(&self) -> Element {
        let v = self.session.get("/element/active").await;
        self.element(&v)
    }

    /// Presses and releases `keys` together (a chord, e.g. `&[keys::SHIFT, keys::TAB]`), sent to
    /// whatever has the focus, as a user would.
    pub async fn press(&self, chord: &[&str]) {
        let mut actions: Vec<Value> = chord
            .iter()
            .map(|k| json!({ "type": "keyDown", "value": k }))
            .collect();
        actions.extend(
            chord
                .iter()
                .rev()
                .map(|k| json!({ "type": "keyUp", "value": k })),
        );
        self.session
            .post(
                "/actions",
                json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
            )
            .await;
        self.session.delete("/actions").await;
    }

    /// Presses Tab once; returns the element that then has the focus.
    pub async fn tab(&self) -> Element {
        self.press(&[keys::TAB]).await;
        self.active_element().await
    }

    /// Presses Shift+Tab once; returns the element that then has the focus.
    pub async fn shift_tab(&self) -> Element {
        self.press(&[keys::SHIFT, keys::TAB]).await;
        self.active_element().await
    }

    /// The browser console since the last call (entries with `level`, `message`, `timestamp`);
    /// CSP violations and uncaught errors show up here as `SEVERE`.
    pub async fn console_log(&self) -> Vec<Value> {
        let v = self
            .session
            .post("/se/log", json!({ "type": "browser" }))
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Adds a WebAuthn virtual authenticator to this session; returns its id.
    pub async fn add_virtual_authenticator(&self, a: VirtualAuthenticator) -> String {
        let v = self
            .session
            .post(
                "/webauthn/authenticator",
                json!({
                    "protocol": a.protocol,
                    "transport": a.transport,
                    "hasResidentKey": a.has_resident_key,
                    "hasUserVerification": a.has_user_verification,
                    "isUserConsenting": true,
                    "isUserVerified": a.is_user_verified,
                }),
            )
            .await;
        string(v, "authenticator id")
    }

    /// The credentials the virtual authenticator holds (`credentialId`, `rpId`, `userHandle`,
    /// `signCount`, `isResidentCredential`, `privateKey`, base64url).
    pub async fn virtual_credentials(&self, authenticator: &str) -> Vec<Value> {
        let v = self
            .session
            .get(&format!(
                "/webauthn/authenticator/{authenticator}/credentials"
            ))
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Removes every credential from the virtual authenticator (a lost or wiped key).
    pub async fn remove_virtual_credentials(&self, authenticator: &str) {
        self.session
            .delete(&format!(
                "/webauthn/authenticator/{authenticator}/credentials"
            ))
            .await;
    }

    /// Removes the virtual authenticator.
    pub async fn remove_virtual_authenticator(&self, authenticator: &str) {
        self.session
            .delete(&format!("/webauthn/authenticator/{authenticator}"))
            .await;
    }

    /// Makes user verification succeed or fail from now on.
    pub async fn set_user_verified(&self, authenticator: &str, verified: bool) {
        self.session
            .post(
                &format!("/webauthn/authenticator/{authenticator}/uv"),
                json!({ "isUserVerified": verified }),
            )
            .await;
    }

    /// Ends the session (Chromium quits) and removes its profile.
    pub async fn close(self) {
        if !self
            .session
            .closed
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let _ = self.session.cmd(reqwest::Method::DELETE, "", None).await;
            let profile = self.session.profile.lock().ok().and_then(|mut p| p.take());
            drop(profile);
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

impl Element {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// The WebDriver element id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// This element as a script argument (`arguments[i]` is then the DOM node).
    pub fn to_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// Clicks it (scrolled into view; fails if something covers it).
    pub async fn click(&self) {
        self.session.post(&self.path("/click"), json!({})).await;
    }

    /// Types `text` into it (focus first); may contain [`keys`].
    pub async fn send_keys(&self, text: &str) {
        self.session
            .post(&self.path("/value"), json!({ "text": text }))
            .await;
    }

    /// Empties an input or textarea.
    pub async fn clear(&self) {
        self.session.post(&self.path("/clear"), json!({})).await;
    }

    /// Its rendered text (as a user sees it).
    pub async fn text(&self) -> String {
        string(self.session.get(&self.path("/text")).await, "element text")
    }

    /// Its lower-case tag name.
    pub async fn tag_name(&self) -> String {
        string(self.session.get(&self.path("/name")).await, "tag name")
    }

    /// An HTML attribute, `None` when absent.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        match self
            .session
            .get(&self.path(&format!("/attribute/{name}")))
            .await
        {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A DOM property (e.g. `value`, `checked`, `validationMessage`).
    pub async fn property(&self, name: &str) -> Value {
        self.session
            .get(&self.path(&format!("/property/{name}")))
            .await
    }

    /// A computed CSS value.
    pub async fn css_value(&self, name: &str) -> String {
        string(
            self.session.get(&self.path(&format!("/css/{name}"))).await,
            "css value",
        )
    }

    /// Whether it is displayed.
    pub async fn is_displayed(&self) -> bool {
        self.session
            .get(&self.path("/displayed"))
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// Whether it is enabled.
    pub async fn is_enabled(&self) -> bool {
        self.session
            .get(&self.path("/enabled"))
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// The first descendant matching `css`.
    pub async fn find(&self, css: &str) -> Element {
        let v = self
            .session
            .post(
                &self.path("/element"),
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        Element {
            session: self.session.clone(),
            id: element_id(&v).unwrap_or_else(|| panic!("not an element reference: {v}")),
        }
    }

    /// A PNG of this element.
    pub async fn screenshot_png(&self) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = string(
            self.session.get(&self.path("/screenshot")).await,
            "element screenshot",
        );
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"))
    }
}
