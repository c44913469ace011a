//! Galien's own rules on what the provider asserts (AUTH-2): the level (`acr`), two factors of
//! different kinds (`amr`), a recent authentication (`auth_time`), and the RPPS number.

use super::{CLOCK_SKEW, ExtraClaims, MAX_AUTH_AGE, Refusal};
use crate::{App, OidcSettings};
use galien_core::identity::ProfessionalId;
use openidconnect::IdTokenClaims;
use openidconnect::core::CoreGenderClaim;
use time::OffsetDateTime;

/// The kind of an authentication factor named in `amr` (RFC 8176).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FactorKind {
    /// Something one knows: `pwd`, `pin`, `kba`.
    Knowledge,
    /// Something one has: `otp`, `hwk`, `swk`, `sc`, `sms`, `tel`, `pop`.
    Possession,
    /// Something one is: `fpt`, `face`, `iris`, `retina`, `vbm`.
    Inherence,
}

/// The kind of one `amr` value; `None` for values that are not a factor (`mfa`, `rba`, `user`, …).
pub fn factor_kind(amr: &str) -> Option<FactorKind> {
    match amr {
        "pwd" | "pin" | "kba" => Some(FactorKind::Knowledge),
        "otp" | "hwk" | "swk" | "sc" | "sms" | "tel" | "pop" => Some(FactorKind::Possession),
        "fpt" | "face" | "iris" | "retina" | "vbm" => Some(FactorKind::Inherence),
        _ => None,
    }
}

/// Galien's rule for `amr` (AUTH-2): the values name at least two factors of different kinds
/// (e.g. `pwd`+`otp`, `pin`+`sc`, `pin`+`hwk`, `swk`+`face`), or the provider says `mfa`
/// (multiple-factor authentication, which RFC 8176 defines as factors of different kinds). Two
/// factors of one kind (`pwd`+`kba`, `otp`+`sms`) or a single one (`hwk` alone) are not enough;
/// an absent `amr` is refused.
pub fn two_kinds_of_factor<'a>(amr: impl IntoIterator<Item = &'a str>) -> bool {
    let mut kinds = Vec::new();
    for value in amr {
        if value == "mfa" {
            return true;
        }
        if let Some(kind) = factor_kind(value)
            && !kinds.contains(&kind)
        {
            kinds.push(kind);
        }
    }
    kinds.len() >= 2
}

pub(super) fn check_strength(
    app: &App,
    settings: &OidcSettings,
    claims: &IdTokenClaims<ExtraClaims, CoreGenderClaim>,
) -> Result<(), Refusal> {
    let acr = claims.auth_context_ref().map(|a| a.as_str());
    if !acr.is_some_and(|acr| {
        settings
            .acr_values
            .split_whitespace()
            .any(|want| want == acr)
    }) {
        return Err(Refusal::weak(
            "acr",
            format!("acr {acr:?}, required one of {:?}", settings.acr_values),
        ));
    }
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .map(|v| v.iter().map(|a| a.as_str()).collect())
        .unwrap_or_default();
    if !two_kinds_of_factor(amr.iter().copied()) {
        return Err(Refusal::weak(
            "amr",
            format!("amr {amr:?} is not two factors of different kinds"),
        ));
    }
    let Some(auth_time) = claims.auth_time() else {
        return Err(Refusal::weak("auth_time", "no auth_time"));
    };
    let now = app.clock.now();
    let auth_time = OffsetDateTime::from_unix_timestamp(auth_time.timestamp())
        .map_err(|_| Refusal::weak("auth_time", "auth_time out of range"))?;
    let age = now - auth_time;
    if age > MAX_AUTH_AGE || age < -CLOCK_SKEW {
        return Err(Refusal::weak(
            "auth_time",
            format!("authenticated {age} before now"),
        ));
    }
    Ok(())
}

/// The RPPS number in a claims map: 11 digits (Luhn key checked), or Pro Santé Connect's national
/// identifier `8` followed by the RPPS number.
pub fn parse_rpps(value: &serde_json::Value) -> Option<ProfessionalId> {
    let text = match value {
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if text.len() == 12
        && let Some(rest) = text.strip_prefix('8')
    {
        return ProfessionalId::rpps(rest);
    }
    ProfessionalId::rpps(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_02_amr_needs_two_kinds_of_factor() {
        assert!(two_kinds_of_factor(["pwd", "otp"]));
        assert!(two_kinds_of_factor(["pin", "sc"]));
        assert!(two_kinds_of_factor(["swk", "face"]));
        assert!(two_kinds_of_factor(["mfa"]));
        assert!(!two_kinds_of_factor(["pwd"]));
        assert!(!two_kinds_of_factor(["hwk"]));
        assert!(!two_kinds_of_factor(["pwd", "kba"]));
        assert!(!two_kinds_of_factor(["otp", "sms"]));
        assert!(!two_kinds_of_factor(["rba", "user"]));
        assert!(!two_kinds_of_factor([]));
    }

    #[test]
    fn rpps_claim_accepts_the_number_or_the_national_identifier() {
        let body = "1000000000";
        let key = galien_core::identity::luhn_check_digit(body).unwrap();
        let good = format!("{body}{key}");
        let id = ProfessionalId::rpps(&good).unwrap();
        assert_eq!(parse_rpps(&serde_json::json!(good)), Some(id.clone()));
        assert_eq!(parse_rpps(&serde_json::json!(format!("8{good}"))), Some(id));
        assert_eq!(parse_rpps(&serde_json::json!("123")), None);
        assert_eq!(parse_rpps(&serde_json::json!(["x"])), None);
    }
}
