//! Brute-force protection (AUTH-5): failures are counted per account and per source address in a
//! sliding window; after 3 failures each attempt waits longer (doubling, at most 8 s); at the
//! threshold the account (or, at three times the threshold, the address) is locked for the window.
//! Unknown accounts are counted under a digest of the address typed, so they fail alike.

use crate::{App, AppError, RequestContext};
use galien_core::ids::UserId;
use sha2::{Digest, Sha256};

/// The counters a sign-in attempt touches.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Per account (or per unknown e-mail).
    pub account: String,
    /// Per source address, when known.
    pub address: Option<String>,
}

impl Keys {
    /// Keys for an attempt on `user` (or on an unknown `typed` e-mail).
    pub fn new(user: Option<UserId>, typed: &str, ctx: &RequestContext) -> Self {
        let account = match user {
            Some(u) => format!("account:{u}"),
            None => {
                let digest = Sha256::digest(typed.trim().to_lowercase().as_bytes());
                format!(
                    "unknown:{}",
                    hex::encode(digest.get(..16).unwrap_or_default())
                )
            }
        };
        Self {
            account,
            address: ctx.ip_text().map(|ip| format!("addr:{ip}")),
        }
    }
}

/// Failures so far within the window: (account, address).
pub async fn failures(app: &App, keys: &Keys) -> Result<(u32, u32), AppError> {
    let since = app.clock.now() - app.settings.auth.lock_window;
    let account = app.store.login_failures_since(&keys.account, since).await?;
    let address = match &keys.address {
        Some(k) => app.store.login_failures_since(k, since).await?,
        None => 0,
    };
    Ok((account, address))
}

/// Refuses when locked; otherwise waits the growing delay. Returns the failure counts.
pub async fn gate(app: &App, keys: &Keys) -> Result<(u32, u32), AppError> {
    let (account, address) = failures(app, keys).await?;
    let threshold = app.settings.auth.lock_threshold;
    if account >= threshold || address >= threshold.saturating_mul(3) {
        return Err(AppError::Locked(
            app.clock.now() + app.settings.auth.lock_window,
        ));
    }
    let n = account.max(address / 3);
    if n >= 3 {
        let factor = 1u32 << (n - 3).min(5);
        let delay = app
            .settings
            .auth
            .failure_delay
            .saturating_mul(factor)
            .min(std::time::Duration::from_secs(8));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    Ok((account, address))
}

/// Counts a failure; returns true when this failure locks the account.
pub async fn fail(app: &App, keys: &Keys, before: (u32, u32)) -> Result<bool, AppError> {
    let now = app.clock.now();
    app.store.record_login_failure(&keys.account, now).await?;
    if let Some(k) = &keys.address {
        app.store.record_login_failure(k, now).await?;
    }
    let threshold = app.settings.auth.lock_threshold;
    Ok(before.0 + 1 == threshold || before.1 + 1 == threshold.saturating_mul(3))
}

/// Clears the account's counter after a complete sign-in.
pub async fn succeed(app: &App, keys: &Keys) -> Result<(), AppError> {
    app.store.clear_login_failures(&keys.account).await?;
    Ok(())
}
