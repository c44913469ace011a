//! ICE servers handed to the call page (ACT-1): STUN addresses, and TURN with time-limited
//! credentials derived from a secret shared with the TURN server (coturn's "TURN REST API" scheme,
//! see [`galien_crypto::turn`]).
//!
//! [`IceSettings::servers_for`] gives what the page passes to `new RTCPeerConnection(…)`: a subset
//! of `RTCConfiguration`, serialised with the browser's field names.

use galien_crypto::turn::{TurnSecret, turn_credentials};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

/// How long TURN credentials last when the operator does not say: long enough for a whole call,
/// since coturn refuses expired credentials when a relay is opened (a reconnection late in a call
/// opens a new one).
pub const DEFAULT_CREDENTIAL_TTL: Duration = Duration::hours(4);

/// ICE settings from the operator's configuration (`[ice]`). `Debug` redacts the secret.
#[derive(Debug, Clone)]
pub struct IceSettings {
    /// STUN server URLs, e.g. `stun:turn.example.fr:3478`.
    pub stun_urls: Vec<String>,
    /// TURN server URLs, e.g. `turn:turn.example.fr:3478?transport=udp`, `turns:turn.example.fr:5349`.
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn `static-auth-secret`); without it no TURN
    /// server is offered.
    pub turn_secret: Option<TurnSecret>,
    /// How long the TURN credentials handed out stay valid.
    pub credential_ttl: Duration,
    /// Media only through the TURN relay (`iceTransportPolicy: "relay"`): for tests, and for sites
    /// that must not expose the addresses of the people's devices to each other.
    pub relay_only: bool,
}

impl Default for IceSettings {
    fn default() -> Self {
        IceSettings {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            credential_ttl: DEFAULT_CREDENTIAL_TTL,
            relay_only: false,
        }
    }
}

/// `RTCConfiguration` (the part Galien sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceConfig {
    /// The servers.
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
    /// Which candidates the browser may use.
    #[serde(rename = "iceTransportPolicy")]
    pub ice_transport_policy: IceTransportPolicy,
}

/// `RTCIceServer`. `Debug` redacts the credential.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    /// `stun:`/`stuns:`/`turn:`/`turns:` URLs.
    pub urls: Vec<String>,
    /// TURN username (`<unix expiry>:<label>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field(
                "credential",
                &self.credential.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `RTCIceTransportPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IceTransportPolicy {
    /// Every kind of candidate (host, server-reflexive, relay).
    All,
    /// Only relay candidates: media always flows through the TURN server.
    Relay,
}

impl IceSettings {
    /// The ICE servers for one connection to a call, with TURN credentials valid from `now` for
    /// [`IceSettings::credential_ttl`].
    ///
    /// `label` ends up in clear in the TURN server's logs (in the username): pass an opaque value,
    /// such as a random peer id, never a name, an e-mail address or a record id.
    pub fn servers_for(&self, label: &str, now: OffsetDateTime) -> IceConfig {
        let mut ice_servers = Vec::new();
        if !self.stun_urls.is_empty() {
            ice_servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let c = turn_credentials(secret.expose(), label, now + self.credential_ttl);
            ice_servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(c.username),
                credential: Some(c.credential),
            });
        }
        IceConfig {
            ice_servers,
            ice_transport_policy: if self.relay_only {
                IceTransportPolicy::Relay
            } else {
                IceTransportPolicy::All
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 09:00 UTC);

    fn settings() -> IceSettings {
        IceSettings {
            stun_urls: vec!["stun:turn.galien.test:3478".into()],
            turn_urls: vec![
                "turn:turn.galien.test:3478?transport=udp".into(),
                "turns:turn.galien.test:5349?transport=tcp".into(),
            ],
            turn_secret: Some(TurnSecret::new("north-wind-shared-secret")),
            credential_ttl: Duration::hours(1),
            relay_only: false,
        }
    }

    #[test]
    fn act1_serialises_as_the_browsers_rtc_configuration() {
        let config = settings().servers_for("0190d3c4-peer", NOW);
        // 09:00 + 1 h = 2026-11-28T10:00:00Z = 1795860000; the password was computed independently
        // (see galien_crypto::turn's tests).
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({
                "iceServers": [
                    {"urls": ["stun:turn.galien.test:3478"]},
                    {
                        "urls": [
                            "turn:turn.galien.test:3478?transport=udp",
                            "turns:turn.galien.test:5349?transport=tcp"
                        ],
                        "username": "1795860000:0190d3c4-peer",
                        "credential": "P8ElTZ7/r1cfF4IN2fj7EFojjNI="
                    }
                ],
                "iceTransportPolicy": "all"
            })
        );
    }

    #[test]
    fn relay_only_forces_the_relay_policy() {
        let config = IceSettings {
            relay_only: true,
            ..settings()
        }
        .servers_for("p", NOW);
        assert_eq!(config.ice_transport_policy, IceTransportPolicy::Relay);
        assert_eq!(
            serde_json::to_value(&config).unwrap()["iceTransportPolicy"],
            "relay"
        );
    }

    #[test]
    fn credentials_expire_after_the_ttl_and_change_with_the_label() {
        let s = settings();
        let a = s.servers_for("peer-a", NOW);
        let b = s.servers_for("peer-b", NOW);
        let turn_a = &a.ice_servers[1];
        let turn_b = &b.ice_servers[1];
        let expiry = (NOW + Duration::hours(1)).unix_timestamp();
        assert_eq!(
            turn_a.username.as_deref(),
            Some(&*format!("{expiry}:peer-a"))
        );
        assert_ne!(turn_a.credential, turn_b.credential);
    }

    #[test]
    fn no_turn_server_without_a_secret_or_urls() {
        let no_secret = IceSettings {
            turn_secret: None,
            ..settings()
        }
        .servers_for("p", NOW);
        assert_eq!(no_secret.ice_servers.len(), 1);
        assert!(no_secret.ice_servers[0].username.is_none());
        let no_urls = IceSettings {
            turn_urls: vec![],
            ..settings()
        }
        .servers_for("p", NOW);
        assert_eq!(no_urls.ice_servers.len(), 1);
        let nothing = IceSettings::default().servers_for("p", NOW);
        assert_eq!(
            serde_json::to_value(&nothing).unwrap(),
            json!({"iceServers": [], "iceTransportPolicy": "all"})
        );
    }

    #[test]
    fn debug_redacts_secret_and_credentials() {
        let s = settings();
        let config = s.servers_for("p", NOW);
        let credential = config.ice_servers[1].credential.clone().unwrap();
        let shown = format!("{s:?} {config:?}");
        assert!(!shown.contains("north-wind"), "{shown}");
        assert!(!shown.contains(&credential), "{shown}");
    }
}
