//! The call's signaling language (ACT-1): what a call page sends on its WebSocket and what Galien
//! answers. Pure parsing, no I/O: [`ClientSignal::parse`] is the only door for text from a browser,
//! and it refuses anything oversized, malformed or unknown with a [`SignalError`] (the socket answers
//! an `error` message and stays open; the call of the others is unaffected).
//!
//! Media never passes through Galien: pages exchange SDP offers/answers and ICE candidates through
//! it, then talk peer to peer (DTLS-SRTP). Chat messages do pass, and are stored encrypted.

use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, PeerId};

/// Largest frame a page may send (an SDP offer of a 4-way mesh stays well under it).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest SDP accepted.
pub const MAX_SDP_BYTES: usize = 48 * 1024;
/// Largest ICE candidate line accepted.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;

/// An ICE candidate as `RTCIceCandidateInit` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The `candidate:` line (empty = end of candidates).
    pub candidate: String,
    /// The media section's id.
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The media section's index.
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment.
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

/// How the media of one peer connection flows, as the page reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaPath {
    /// Peer to peer (host or server-reflexive candidates).
    Direct,
    /// Through the TURN relay.
    Relayed,
}

impl MediaPath {
    /// The stable text.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaPath::Direct => "direct",
            MediaPath::Relayed => "relayed",
        }
    }
}

/// What a call page may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClientSignal {
    /// An SDP offer for one peer.
    Offer {
        /// The peer it is for.
        to: PeerId,
        /// The session description.
        sdp: String,
    },
    /// An SDP answer for one peer.
    Answer {
        /// The peer it is for.
        to: PeerId,
        /// The session description.
        sdp: String,
    },
    /// A trickled ICE candidate for one peer.
    Candidate {
        /// The peer it is for.
        to: PeerId,
        /// The candidate.
        candidate: Candidate,
    },
    /// A chat message to everyone in the call.
    Chat {
        /// The text.
        text: String,
    },
    /// The page's connection to a peer is up, directly or through the relay (shown to all, traced).
    Media {
        /// The peer.
        with: PeerId,
        /// How media flows.
        path: MediaPath,
    },
    /// The médecin admits someone from the waiting room.
    Admit {
        /// Their place in the call.
        participant: ParticipantId,
    },
    /// Keeps the connection alive through proxies.
    Ping,
}

/// Why a frame was refused; each has a stable code, shown to the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// Longer than [`MAX_FRAME_BYTES`].
    #[error("frame too large")]
    TooLarge,
    /// Not JSON, or not one of the messages above.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// An SDP over [`MAX_SDP_BYTES`] or not starting with `v=0`.
    #[error("invalid session description")]
    BadSdp,
    /// A candidate over [`MAX_CANDIDATE_BYTES`] or not a `candidate:` line.
    #[error("invalid ICE candidate")]
    BadCandidate,
    /// An empty or over-long chat message.
    #[error("invalid chat message")]
    BadChat,
}

impl SignalError {
    /// The stable code sent to the page.
    pub fn code(&self) -> &'static str {
        match self {
            SignalError::TooLarge => "SIG-TOO-LARGE",
            SignalError::Malformed(_) => "SIG-MALFORMED",
            SignalError::BadSdp => "SIG-BAD-SDP",
            SignalError::BadCandidate => "SIG-BAD-CANDIDATE",
            SignalError::BadChat => "SIG-BAD-CHAT",
        }
    }
}

fn sdp_ok(sdp: &str) -> bool {
    sdp.len() <= MAX_SDP_BYTES && sdp.starts_with("v=0") && !sdp.contains('\0')
}

impl ClientSignal {
    /// Parses and checks one text frame from a page.
    pub fn parse(frame: &str) -> Result<ClientSignal, SignalError> {
        if frame.len() > MAX_FRAME_BYTES {
            return Err(SignalError::TooLarge);
        }
        let signal: ClientSignal = serde_json::from_str(frame).map_err(|e| {
            // The position only: never echo what was sent.
            SignalError::Malformed(format!("line {} column {}", e.line(), e.column()))
        })?;
        match &signal {
            ClientSignal::Offer { sdp, .. } | ClientSignal::Answer { sdp, .. } if !sdp_ok(sdp) => {
                Err(SignalError::BadSdp)
            }
            ClientSignal::Candidate { candidate, .. }
                if candidate.candidate.len() > MAX_CANDIDATE_BYTES
                    || !(candidate.candidate.is_empty()
                        || candidate.candidate.starts_with("candidate:"))
                    || candidate.sdp_mid.as_ref().is_some_and(|m| m.len() > 64)
                    || candidate
                        .username_fragment
                        .as_ref()
                        .is_some_and(|u| u.len() > 256) =>
            {
                Err(SignalError::BadCandidate)
            }
            ClientSignal::Chat { text }
                if text.trim().is_empty()
                    || text.chars().count() > MAX_CHAT_CHARS
                    || text
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\t') =>
            {
                Err(SignalError::BadChat)
            }
            _ => Ok(signal),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PEER: &str = "0191d6a8-7c4e-7cc0-8000-000000000001";

    #[test]
    fn good_frames_parse() {
        let offer = format!(
            r#"{{"type":"offer","to":"{PEER}","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}"#
        );
        assert!(matches!(
            ClientSignal::parse(&offer),
            Ok(ClientSignal::Offer { .. })
        ));
        let cand = format!(
            r#"{{"type":"candidate","to":"{PEER}","candidate":{{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}}}"#
        );
        assert!(matches!(
            ClientSignal::parse(&cand),
            Ok(ClientSignal::Candidate { .. })
        ));
        let end = format!(r#"{{"type":"candidate","to":"{PEER}","candidate":{{"candidate":""}}}}"#);
        assert!(ClientSignal::parse(&end).is_ok());
        assert_eq!(
            ClientSignal::parse(r#"{"type":"chat","text":"Bonjour docteur"}"#),
            Ok(ClientSignal::Chat {
                text: "Bonjour docteur".into()
            })
        );
        assert_eq!(
            ClientSignal::parse(r#"{"type":"ping"}"#),
            Ok(ClientSignal::Ping)
        );
        let media = format!(r#"{{"type":"media","with":"{PEER}","path":"relayed"}}"#);
        assert!(matches!(
            ClientSignal::parse(&media),
            Ok(ClientSignal::Media {
                path: MediaPath::Relayed,
                ..
            })
        ));
    }

    #[test]
    fn bad_frames_are_refused_with_their_code() {
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "SIG-MALFORMED"),
            (r#"{"type":"hack"}"#.into(), "SIG-MALFORMED"),
            (r#"{"type":"chat"}"#.into(), "SIG-MALFORMED"),
            (
                r#"{"type":"chat","text":"x","extra":1}"#.into(),
                "SIG-MALFORMED",
            ),
            (
                r#"{"type":"offer","to":"nope","sdp":"v=0"}"#.into(),
                "SIG-MALFORMED",
            ),
            (
                format!(r#"{{"type":"offer","to":"{PEER}","sdp":"<script>"}}"#),
                "SIG-BAD-SDP",
            ),
            (
                format!(
                    r#"{{"type":"candidate","to":"{PEER}","candidate":{{"candidate":"rm -rf"}}}}"#
                ),
                "SIG-BAD-CANDIDATE",
            ),
            (r#"{"type":"chat","text":"   "}"#.into(), "SIG-BAD-CHAT"),
            (
                r#"{"type":"chat","text":"a\u0007b"}"#.into(),
                "SIG-BAD-CHAT",
            ),
            (
                format!(
                    r#"{{"type":"chat","text":"{}"}}"#,
                    "é".repeat(MAX_CHAT_CHARS + 1)
                ),
                "SIG-BAD-CHAT",
            ),
            (" ".repeat(MAX_FRAME_BYTES + 1), "SIG-TOO-LARGE"),
        ];
        for (frame, code) in cases {
            let err = ClientSignal::parse(&frame).unwrap_err();
            assert_eq!(
                err.code(),
                code,
                "{}",
                frame.chars().take(80).collect::<String>()
            );
        }
    }

    #[test]
    fn a_malformed_frame_is_not_echoed() {
        let err = ClientSignal::parse(r#"{"type":"chat","text":"secret diagnosis"#).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
