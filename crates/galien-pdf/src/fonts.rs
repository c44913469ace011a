//! The embedded DejaVu Sans faces: glyph coverage, advance widths (from printpdf's parse of the
//! font's `cmap` and `hmtx`), and per-document subsetting (allsorts, the parser printpdf itself
//! uses), so a one-page ordonnance weighs kilobytes rather than the 1.4 MB of the two faces.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{CmapTarget, SubsetProfile, subset};
use printpdf::ParsedFont;

use crate::PdfError;

static REGULAR_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// One font face with the metrics the layout needs.
#[derive(Debug)]
pub(crate) struct Face {
    /// PostScript-style name, written as the PDF `/BaseFont` after the subset tag.
    name: &'static str,
    /// Six upper-case letters marking a subset (ISO 32000-1, 9.6.4); fixed so output is
    /// deterministic, distinct per face.
    subset_tag: &'static str,
    bytes: &'static [u8],
    parsed: ParsedFont,
    units_per_em: f32,
}

impl Face {
    fn load(
        name: &'static str,
        subset_tag: &'static str,
        bytes: &'static [u8],
    ) -> Result<Self, String> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut warnings)
            .ok_or_else(|| format!("{name}: {warnings:?}"))?;
        let units_per_em = f32::from(parsed.units_per_em.max(1));
        Ok(Face {
            name,
            subset_tag,
            bytes,
            parsed,
            units_per_em,
        })
    }

    fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .lookup_glyph_index(u32::from(c))
            .filter(|g| *g != 0)
    }

    /// The character as it will be drawn: itself when the face has a glyph for it, a plain space
    /// for a whitespace it lacks (line breaks included: layout splits lines before mapping), `?`
    /// otherwise.
    pub(crate) fn map_char(&self, c: char) -> char {
        if self.glyph(c).is_some() {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '?'
        }
    }

    /// `text` with every character the face lacks replaced (see [`Face::map_char`]).
    pub(crate) fn map_text(&self, text: &str) -> String {
        text.chars().map(|c| self.map_char(c)).collect()
    }

    /// Advance width of one (mapped) character, in points at `size`.
    pub(crate) fn char_width(&self, c: char, size: f32) -> f32 {
        let advance = self
            .glyph(self.map_char(c))
            .and_then(|g| self.parsed.get_glyph_width(g))
            .unwrap_or(0);
        f32::from(advance) * size / self.units_per_em
    }

    /// Width of `text` in points at `size`, as a PDF reader will advance it (no kerning: the
    /// content stream carries none).
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.char_width(c, size)).sum()
    }

    /// A font program holding only the glyphs of `used` (already mapped characters), with a
    /// Unicode `cmap` so printpdf maps text to the renumbered glyphs. Falls back to the whole
    /// face if subsetting fails: a bigger file, never a wrong one.
    pub(crate) fn subset_for(&self, used: &BTreeSet<char>) -> Result<ParsedFont, PdfError> {
        let gids: BTreeSet<u16> = used.iter().filter_map(|c| self.glyph(*c)).collect();
        // allsorts requires .notdef first and no duplicates.
        let ids: Vec<u16> = std::iter::once(0).chain(gids).collect();
        let subset_bytes = ReadScope::new(self.bytes)
            .read::<FontData<'_>>()
            .map_err(|e| e.to_string())
            .and_then(|data| data.table_provider(0).map_err(|e| e.to_string()))
            .and_then(|provider| {
                subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode)
                    .map_err(|e| e.to_string())
            });
        let mut warnings = Vec::new();
        match subset_bytes
            .ok()
            .and_then(|b| ParsedFont::from_bytes(&b, 0, &mut warnings))
        {
            Some(mut font) => {
                font.font_name = Some(format!("{}+{}", self.subset_tag, self.name));
                Ok(font)
            }
            None => {
                let mut font = self.parsed.clone();
                font.font_name = Some(self.name.to_owned());
                Ok(font)
            }
        }
    }
}

static REGULAR: OnceLock<Result<Face, String>> = OnceLock::new();
static BOLD: OnceLock<Result<Face, String>> = OnceLock::new();

/// DejaVu Sans, parsed once per process.
pub(crate) fn regular() -> Result<&'static Face, PdfError> {
    REGULAR
        .get_or_init(|| Face::load("DejaVuSans", "GALREG", REGULAR_TTF))
        .as_ref()
        .map_err(|e| PdfError::Font(e.clone()))
}

/// DejaVu Sans Bold, parsed once per process.
pub(crate) fn bold() -> Result<&'static Face, PdfError> {
    BOLD.get_or_init(|| Face::load("DejaVuSans-Bold", "GALBLD", BOLD_TTF))
        .as_ref()
        .map_err(|e| PdfError::Font(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_characters_are_covered_and_others_fall_back() {
        let f = regular().unwrap();
        for c in "éèêàçœŒ«»€ÉÀÇ’".chars() {
            assert_eq!(f.map_char(c), c, "{c}");
        }
        assert_eq!(f.map_char('\u{10FFFD}'), '?');
        assert_eq!(f.map_text("a\u{10FFFD}b"), "a?b");
        assert!(f.width("Ordonnance", 10.0) > 40.0);
        assert!(bold().unwrap().width("Ordonnance", 10.0) > f.width("Ordonnance", 10.0));
    }

    #[test]
    fn subset_keeps_the_used_characters_only() {
        let f = regular().unwrap();
        let used: BTreeSet<char> = "Éé €?".chars().collect();
        let sub = f.subset_for(&used).unwrap();
        assert!(
            sub.original_bytes.len() < 20_000,
            "{}",
            sub.original_bytes.len()
        );
        for c in used {
            assert!(
                sub.lookup_glyph_index(u32::from(c)).is_some_and(|g| g != 0),
                "{c}"
            );
        }
        assert_eq!(sub.font_name.as_deref(), Some("GALREG+DejaVuSans"));
    }
}
