//! Blocks both documents share: letterhead, date line, patient panel, title with the
//! teleconsultation mention, section headings, signature.

use galien_core::Lang;
use time::{Date, OffsetDateTime};

use crate::compose::{
    ACCENT, Align, CONTENT_W, Composer, INK, LEFT, MUTED, PANEL, RIGHT, RULE, Style, Weight,
};
use crate::i18n::{self, label, words};
use crate::text::normalize_line;
use crate::{Organisation, PatientLine, Prescriber};

/// Body text of both documents.
pub(crate) const BODY: Style = Style::new(Weight::Regular, 10.5, INK);
const HEADING: Style = Style::new(Weight::Bold, 11.0, ACCENT);

/// Draws pre-wrapped lines from `top` down, without page breaks (the letterhead and panels
/// have a bounded height); returns the height used.
fn draw_block(
    c: &mut Composer,
    x: f32,
    top: f32,
    width: f32,
    items: &[(Vec<String>, Style)],
    align: Align,
) -> f32 {
    let mut y = top;
    for (lines, style) in items {
        for line in lines {
            let lx = match align {
                Align::Left => x,
                Align::Center => x + (width - c.width(*style, line)) / 2.0,
                Align::Right => x + width - c.width(*style, line),
            };
            c.draw_text(lx.max(x), Composer::baseline(y, *style), *style, line);
            y -= style.leading();
        }
    }
    top - y
}

/// Organisation letterhead on the left, prescriber identification on the right, then a rule.
pub(crate) fn letterhead(c: &mut Composer, lang: Lang, org: &Organisation, who: &Prescriber) {
    let w = words(lang);
    let col_w = CONTENT_W * 0.5 - 12.0;
    let org_style = Style::new(Weight::Bold, 13.0, ACCENT);
    let small = Style::new(Weight::Regular, 9.0, MUTED);

    let mut left = vec![(
        c.wrap_capped(org_style, &normalize_line(&org.name), col_w, 3),
        org_style,
    )];
    for line in org
        .address_lines
        .iter()
        .map(|l| normalize_line(l))
        .filter(|l| !l.is_empty())
        .take(6)
    {
        left.push((c.wrap_capped(small, &line, col_w, 2), small));
    }
    if let Some(phone) = org
        .phone
        .as_deref()
        .map(normalize_line)
        .filter(|p| !p.is_empty())
    {
        left.push((
            c.wrap_capped(small, &format!("{}{phone}", label(lang, w.phone)), col_w, 2),
            small,
        ));
    }

    let name_style = Style::new(Weight::Bold, 11.0, INK);
    let prof_style = Style::new(Weight::Regular, 9.5, INK);
    let mut right = vec![(
        c.wrap_capped(name_style, &normalize_line(&who.name), col_w, 3),
        name_style,
    )];
    let profession = normalize_line(&who.profession);
    if !profession.is_empty() {
        right.push((c.wrap_capped(prof_style, &profession, col_w, 2), prof_style));
    }
    if let Some(rpps) = who
        .rpps
        .as_deref()
        .map(normalize_line)
        .filter(|r| !r.is_empty())
    {
        right.push((
            c.wrap_capped(small, &format!("{}{rpps}", label(lang, w.rpps)), col_w, 1),
            small,
        ));
    }

    let top = c.y();
    let hl = draw_block(c, LEFT, top, col_w, &left, Align::Left);
    let hr = draw_block(c, RIGHT - col_w, top, col_w, &right, Align::Right);
    c.gap(hl.max(hr) + 8.0);
    c.hrule(LEFT, RIGHT, c.y(), ACCENT, 1.0);
    c.gap(12.0);
}

/// « Paris, le 14 mars 2026 », right-aligned.
pub(crate) fn date_line(c: &mut Composer, lang: Lang, org: &Organisation, on: Date) {
    let text = i18n::date_line(lang, i18n::place(&org.address_lines).as_deref(), on);
    let style = Style::new(Weight::Regular, 10.0, INK);
    let lines = c.wrap_capped(style, &text, CONTENT_W, 2);
    c.lines(&lines, style, LEFT, CONTENT_W, Align::Right);
    c.gap(8.0);
}

/// The patient panel: name and birth date (with age) on the left, sex and weight on the right.
pub(crate) fn patient_panel(c: &mut Composer, lang: Lang, p: &PatientLine, on: Date) {
    let w = words(lang);
    let label_style = Style::new(Weight::Regular, 9.5, MUTED);
    let value_style = Style::new(Weight::Regular, 10.0, INK);
    let name_style = Style::new(Weight::Bold, 10.5, INK);

    let name = normalize_line(&p.name);
    let mut left = vec![(
        label(lang, w.patient),
        if name.is_empty() {
            "—".to_owned()
        } else {
            name
        },
        name_style,
    )];
    if let Some(birth) = p.birth_date {
        let mut v = i18n::date_short(lang, birth);
        if let Some(age) = i18n::age(lang, birth, on) {
            v.push_str(&format!(" ({age})"));
        }
        left.push((label(lang, w.birth), v, value_style));
    }
    let mut right = Vec::new();
    if let Some(sex) = p
        .sex
        .as_deref()
        .map(normalize_line)
        .filter(|s| !s.is_empty())
    {
        right.push((label(lang, w.sex), sex, value_style));
    }
    if let Some(weight) = p
        .weight_kg
        .as_deref()
        .map(normalize_line)
        .filter(|s| !s.is_empty())
    {
        let v = if weight.to_lowercase().ends_with("kg") {
            weight
        } else {
            format!("{weight}\u{a0}kg")
        };
        right.push((label(lang, w.weight), v, value_style));
    }

    let pad = 9.0;
    let col_w = (CONTENT_W - 3.0 * pad) / 2.0;
    let layout = |c: &Composer,
                  rows: &[(String, String, Style)]|
     -> (f32, Vec<(String, Vec<String>, Style)>) {
        let lw = rows
            .iter()
            .map(|(l, _, _)| c.width(label_style, l))
            .fold(0.0_f32, f32::max)
            .min(col_w / 2.0);
        let rows = rows
            .iter()
            .map(|(l, v, s)| {
                (
                    c.fit(label_style, l, lw),
                    c.wrap_capped(*s, v, col_w - lw, 2),
                    *s,
                )
            })
            .collect();
        (lw, rows)
    };
    let (llw, lrows) = layout(c, &left);
    let (rlw, rrows) = layout(c, &right);
    let height_of = |rows: &[(String, Vec<String>, Style)]| -> f32 {
        rows.iter()
            .map(|(_, lines, s)| lines.len() as f32 * s.leading())
            .sum()
    };
    let height = height_of(&lrows).max(height_of(&rrows)) + 2.0 * pad;

    c.keep(height + 4.0);
    let top = c.y();
    c.fill(LEFT, top, CONTENT_W, height, PANEL);
    c.fill(LEFT, top, 2.5, height, ACCENT);
    for (x, lw, rows) in [
        (LEFT + pad + 4.0, llw, &lrows),
        (LEFT + 2.0 * pad + col_w, rlw, &rrows),
    ] {
        let mut y = top - pad;
        for (l, lines, s) in rows {
            c.draw_text(x, Composer::baseline(y, *s), label_style, l);
            for line in lines {
                c.draw_text(x + lw, Composer::baseline(y, *s), *s, line);
                y -= s.leading();
            }
        }
    }
    c.gap(height);
}

/// The document title, centred, and the teleconsultation mention under it.
pub(crate) fn title(c: &mut Composer, lang: Lang, title: &str, at: OffsetDateTime) {
    let title_style = Style::new(Weight::Bold, 17.0, ACCENT);
    let mention_style = Style::new(Weight::Regular, 9.5, MUTED);
    c.gap(20.0);
    let lines = c.wrap(title_style, title, CONTENT_W);
    c.lines(&lines, title_style, LEFT, CONTENT_W, Align::Center);
    c.gap(2.0);
    let mention = c.wrap(
        mention_style,
        &i18n::teleconsultation_mention(lang, at),
        CONTENT_W,
    );
    c.lines(&mention, mention_style, LEFT, CONTENT_W, Align::Center);
    c.gap(18.0);
}

/// A section heading with a hairline under it, kept with the first lines of its section.
pub(crate) fn heading(c: &mut Composer, text: &str) {
    c.keep(HEADING.leading() + 6.0 + 2.0 * BODY.leading());
    let lines = c.wrap(HEADING, text, CONTENT_W);
    c.lines(&lines, HEADING, LEFT, CONTENT_W, Align::Left);
    c.hrule(LEFT, RIGHT, c.y() + 1.0, RULE, 0.5);
    c.gap(6.0);
}

/// A titled section of free text; nothing when the text is blank.
pub(crate) fn section(c: &mut Composer, title: &str, text: &str) {
    let text = crate::text::normalize_multiline(text);
    if text.trim().is_empty() {
        return;
    }
    heading(c, title);
    c.paragraphs(&text, BODY, LEFT, CONTENT_W);
    c.gap(14.0);
}

/// « Signé électroniquement par / <name> / le … », in the right half, kept in one piece.
pub(crate) fn signature(c: &mut Composer, lang: Lang, name: &str, at: OffsetDateTime) {
    let intro_style = Style::new(Weight::Regular, 9.5, MUTED);
    let name_style = Style::new(Weight::Bold, 10.5, INK);
    let when_style = Style::new(Weight::Regular, 9.5, INK);
    let name = normalize_line(name);
    let name = if name.is_empty() {
        "—".to_owned()
    } else {
        name
    };
    let (intro, when) = i18n::signature(lang, at);
    let width = CONTENT_W * 0.5 - 10.0;
    let parts = [
        (c.wrap(intro_style, intro, width), intro_style),
        (c.wrap_capped(name_style, &name, width, 3), name_style),
        (c.wrap(when_style, &when, width), when_style),
    ];
    let height: f32 = parts
        .iter()
        .map(|(lines, s)| lines.len() as f32 * s.leading())
        .sum();
    c.gap(16.0);
    c.keep(height + 8.0);
    let x = RIGHT - width - 10.0;
    c.fill(x, c.y(), 2.0, height, ACCENT);
    for (lines, style) in &parts {
        c.lines(lines, *style, x + 10.0, width, Align::Left);
    }
    c.gap(8.0);
}
