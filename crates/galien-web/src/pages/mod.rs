//! Server-rendered pages, one module per page. Strings live beside each page, French first.

pub mod enrol;
pub mod home;

/// Formats an instant for people: `28/11/2026 17:40 UTC` in French, `2026-11-28 17:40 UTC` in English.
pub fn human_time(at: time::OffsetDateTime, lang: galien_core::Lang) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    match lang {
        galien_core::Lang::Fr => format!(
            "{:02}/{:02}/{} à {:02}:{:02} UTC",
            at.day(),
            u8::from(at.month()),
            at.year(),
            at.hour(),
            at.minute()
        ),
        galien_core::Lang::En => format!(
            "{}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
    }
}
