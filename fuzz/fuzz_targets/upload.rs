//! The upload handler's checks (ACT-1): `check_upload` on arbitrary bytes and `clean_file_name` on
//! the arbitrary name a browser sends. Beyond "no panic": an accepted file is one of the accepted
//! types, within the size limit and starts with that type's magic bytes; a cleaned name is never
//! empty, at most 120 characters, holds no path separator, control or quote character (so it is
//! safe in `Content-Disposition`), does not start with a dot, and cleaning it again changes nothing.
#![no_main]

use galien_core::consultation::{
    ACCEPTED_TYPES, MAX_DOCUMENT_BYTES, UploadRefusal, check_upload, clean_file_name,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line is the file name, the rest the file.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (name, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or(&[]);
    match check_upload(body) {
        Ok(media_type) => {
            assert!(ACCEPTED_TYPES.contains(&media_type));
            assert!(!body.is_empty() && body.len() <= MAX_DOCUMENT_BYTES);
            let magic: &[u8] = match media_type {
                "application/pdf" => b"%PDF-",
                "image/jpeg" => &[0xFF, 0xD8, 0xFF],
                _ => &[0x89, b'P', b'N', b'G'],
            };
            assert!(body.starts_with(magic));
        }
        Err(UploadRefusal::Empty) => assert!(body.is_empty()),
        Err(UploadRefusal::TooLarge) => assert!(body.len() > MAX_DOCUMENT_BYTES),
        Err(UploadRefusal::WrongType) => {}
    }
    let name = String::from_utf8_lossy(name);
    let cleaned = clean_file_name(&name);
    assert!(!cleaned.is_empty());
    assert!(cleaned.chars().count() <= 120, "{cleaned}");
    assert!(
        !cleaned
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"' | '\'' | ';' | '<' | '>')),
        "{cleaned:?}"
    );
    assert!(!cleaned.starts_with('.'), "{cleaned:?}");
    assert_eq!(clean_file_name(&cleaned), cleaned, "cleaning is idempotent");
});
