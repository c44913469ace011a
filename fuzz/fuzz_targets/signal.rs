//! `ClientSignal::parse` (ACT-1), the only door for text a call page sends on its WebSocket.
//! Beyond "no panic": a frame that parses keeps within the limits the parser promises, and
//! re-serialises to a frame that parses to the same message; a refusal carries a stable code and
//! never echoes what was sent.
#![no_main]

use galien_core::signal::{
    ClientSignal, MAX_CANDIDATE_BYTES, MAX_CHAT_CHARS, MAX_FRAME_BYTES, MAX_SDP_BYTES, SignalError,
};
use libfuzzer_sys::fuzz_target;

fn within_limits(signal: &ClientSignal) {
    match signal {
        ClientSignal::Offer { sdp, .. } | ClientSignal::Answer { sdp, .. } => {
            assert!(sdp.len() <= MAX_SDP_BYTES && sdp.starts_with("v=0") && !sdp.contains('\0'));
        }
        ClientSignal::Candidate { candidate, .. } => {
            let line = &candidate.candidate;
            assert!(line.len() <= MAX_CANDIDATE_BYTES);
            assert!(line.is_empty() || line.starts_with("candidate:"));
            assert!(candidate.sdp_mid.as_ref().is_none_or(|m| m.len() <= 64));
            assert!(
                candidate
                    .username_fragment
                    .as_ref()
                    .is_none_or(|u| u.len() <= 256)
            );
        }
        ClientSignal::Chat { text } => {
            assert!(!text.trim().is_empty());
            assert!(text.chars().count() <= MAX_CHAT_CHARS);
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t')
            );
        }
        // No limits of their own (ids and enums, checked by their types). A new message kind
        // fails this match on purpose: say what it must keep to here.
        ClientSignal::Media { .. } | ClientSignal::Admit { .. } | ClientSignal::Ping => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = std::str::from_utf8(data) else {
        return;
    };
    match ClientSignal::parse(frame) {
        Ok(signal) => {
            within_limits(&signal);
            let again = serde_json::to_string(&signal).expect("a parsed message serialises");
            assert!(
                again.len() <= MAX_FRAME_BYTES,
                "re-serialised frame too large"
            );
            assert_eq!(ClientSignal::parse(&again).as_ref(), Ok(&signal), "{again}");
        }
        Err(e) => {
            assert!(e.code().starts_with("SIG-"));
            match &e {
                SignalError::TooLarge => assert!(frame.len() > MAX_FRAME_BYTES),
                SignalError::Malformed(detail) => {
                    // Only a position: "line N column M".
                    let words: Vec<&str> = detail.split(' ').collect();
                    assert!(
                        matches!(words.as_slice(), ["line", l, "column", c]
                            if l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok()),
                        "{detail:?}"
                    );
                }
                SignalError::BadSdp | SignalError::BadCandidate | SignalError::BadChat => {}
            }
        }
    }
});
