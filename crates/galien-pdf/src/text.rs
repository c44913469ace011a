//! User text made safe to lay out: newlines, tabs and invisible characters normalised, then
//! broken into paragraphs and lines by measured glyph widths.

use crate::fonts::Face;

/// Multi-line user text: Windows and old-Mac newlines become `\n`, tabs become a space, other
/// control and invisible formatting characters are dropped.
pub(crate) fn normalize_multiline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\t' => out.push(' '),
            c if c.is_control() || is_invisible(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Single-line user text (names, labels): like [`normalize_multiline`], with line breaks turned
/// into spaces and surrounding whitespace trimmed.
pub(crate) fn normalize_line(s: &str) -> String {
    normalize_multiline(s)
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Default-ignorable code points (soft hyphen, zero-width and bidi controls, variation
/// selectors, tags…): they have no glyph of their own and would otherwise print as `?`.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Whitespace a line may break at. No-break spaces (used before « : » in French) do not count.
pub(crate) fn is_break_space(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{2007}' | '\u{202F}')
}

/// Paragraphs of normalised multi-line text: separated by blank lines; each paragraph keeps its
/// own hard line breaks.
pub(crate) fn paragraphs(normalized: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in normalized.split('\n') {
        if line.chars().all(char::is_whitespace) {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Breaks one hard line (no `\n`) of text, already mapped to `face`'s glyphs, into lines no
/// wider than `max_width` points at `size`. Runs of breaking whitespace collapse to one space; a
/// word wider than a line is split between characters (never before a zero-width mark, so
/// accents stay on their letter). Always returns at least one line, possibly empty.
pub(crate) fn wrap_line(face: &Face, size: f32, text: &str, max_width: f32) -> Vec<String> {
    const EPS: f32 = 0.01;
    let max = max_width.max(size); // at least one glyph per line, whatever the caller asked
    let space = face.width(" ", size);
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0.0_f32;
    for word in text.split(is_break_space).filter(|w| !w.is_empty()) {
        let w = face.width(word, size);
        if !cur.is_empty() && cur_w + space + w <= max + EPS {
            cur.push(' ');
            cur.push_str(word);
            cur_w += space + w;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if w <= max + EPS {
            cur.push_str(word);
            cur_w = w;
        } else {
            // Split the long word; the last piece stays open for the next words.
            cur_w = 0.0;
            for c in word.chars() {
                let cw = face.char_width(c, size);
                if !cur.is_empty() && cw > 0.0 && cur_w + cw > max + EPS {
                    lines.push(std::mem::take(&mut cur));
                    cur_w = 0.0;
                }
                cur.push(c);
                cur_w += cw;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_tabs_and_invisibles_are_normalised() {
        assert_eq!(
            normalize_multiline("a\r\nb\rc\td\u{200B}e\u{7}f"),
            "a\nb\nc def"
        );
        assert_eq!(normalize_line("  Jean\r\n  Dupont \u{FEFF}"), "Jean Dupont");
        assert_eq!(normalize_line(""), "");
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        let p = paragraphs("a\nb\n\n  \n\nc\n");
        assert_eq!(p, vec![vec!["a", "b"], vec!["c"]]);
        assert!(paragraphs("\n \n").is_empty());
    }

    #[test]
    fn wrapping_keeps_every_character_and_fits() {
        let face = crate::fonts::regular().unwrap();
        let text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor";
        let lines = wrap_line(face, 10.0, text, 120.0);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(face.width(l, 10.0) <= 120.01, "{l}");
        }
        assert_eq!(lines.join(" "), text);

        let long = "x".repeat(5000);
        let lines = wrap_line(face, 10.0, &long, 100.0);
        assert_eq!(lines.concat(), long);
        assert!(lines.iter().all(|l| face.width(l, 10.0) <= 100.01));

        assert_eq!(wrap_line(face, 10.0, "", 100.0), vec![String::new()]);
        assert_eq!(wrap_line(face, 10.0, "abc", 0.0).concat(), "abc");
    }
}
