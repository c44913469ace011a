//! E-mail notifications over SMTP (STARTTLS, implicit TLS, or plain on loopback only). A mail never
//! carries health data: a subject, a sentence and a link into Galien, where the reader signs in.

use galien_core::identity::{AccountStatus, Email, Role};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::App;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// None: only for a relay on this machine (127.0.0.1, ::1, localhost).
    None,
}

/// Where and how to send mail.
#[derive(Clone)]
pub struct SmtpSettings {
    /// The relay's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Connection protection.
    pub security: SmtpSecurity,
    /// Login, if the relay wants one.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// The sender address.
    pub from: Email,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

/// Sends mail through the configured relay.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.email.to_string())
            .finish()
    }
}

impl Mailer {
    /// A mailer for `s` (no connection is made yet).
    pub fn new(s: &SmtpSettings) -> Result<Mailer, String> {
        let tls = |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| e.to_string());
        let security = match s.security {
            SmtpSecurity::StartTls => Tls::Required(tls(&s.host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls(&s.host)?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .tls(security)
            .timeout(Some(std::time::Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from: Mailbox = format!("Galien <{}>", s.from.as_str())
            .parse()
            .map_err(|e: lettre::address::AddressError| e.to_string())?;
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Sends a plain-text message to `to`.
    pub async fn send(&self, to: &Email, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| e.to_string())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Mails every active DPO (best effort: failures are logged, the caller's work stands). Returns how
/// many mails left. Nothing is sent when SMTP is not configured.
pub async fn mail_dpos(app: &App, subject: &str, body: &str) -> usize {
    let Some(mailer) = &app.mailer else {
        return 0;
    };
    let dpos = match app
        .store
        .users(Some(AccountStatus::Active), Some(Role::Dpo), 100, 0)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the DPOs to notify");
            return 0;
        }
    };
    let mut sent = 0;
    for dpo in dpos {
        match mailer.send(&dpo.email, subject, body).await {
            Ok(()) => sent += 1,
            Err(e) => tracing::error!(error = %e, "notification mail to a DPO failed"),
        }
    }
    sent
}
