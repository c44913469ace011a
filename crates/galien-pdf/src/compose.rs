//! A small page composer over printpdf operations: a vertical cursor, word-wrapped text in two
//! weights, rules and fills, automatic page breaks with a running header, and the page footers
//! written once the page count is known.

use std::collections::BTreeSet;

use printpdf::{
    Color, FontId, Line, LinePoint, Op, PaintMode, PdfFontHandle, PdfPage, Point, Pt, Rect, Rgb,
    TextItem,
};

use crate::fonts::Face;
use crate::text::{paragraphs, wrap_line};

/// A4 in points.
pub(crate) const PAGE_W: f32 = 595.276;
pub(crate) const PAGE_H: f32 = 841.89;
/// 20 mm side margins.
pub(crate) const LEFT: f32 = 56.69;
pub(crate) const RIGHT: f32 = PAGE_W - 56.69;
pub(crate) const CONTENT_W: f32 = RIGHT - LEFT;
const TOP: f32 = PAGE_H - 48.0;
/// Content stops here; the footer lives below.
const BOTTOM: f32 = 72.0;
const FOOTER_RULE: f32 = 54.0;
const FOOTER_BASELINE: f32 = 40.0;

pub(crate) const INK: (f32, f32, f32) = (0.10, 0.11, 0.13);
pub(crate) const MUTED: (f32, f32, f32) = (0.38, 0.40, 0.44);
pub(crate) const ACCENT: (f32, f32, f32) = (0.09, 0.27, 0.47);
pub(crate) const RULE: (f32, f32, f32) = (0.78, 0.80, 0.83);
pub(crate) const PANEL: (f32, f32, f32) = (0.955, 0.962, 0.972);

/// The two weights of the document font.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// Font, size and colour of a run of text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub weight: Weight,
    pub size: f32,
    pub color: (f32, f32, f32),
}

impl Style {
    pub(crate) const fn new(weight: Weight, size: f32, color: (f32, f32, f32)) -> Self {
        Style {
            weight,
            size,
            color,
        }
    }

    /// Line height for this size.
    pub(crate) fn leading(self) -> f32 {
        self.size * 1.38
    }
}

/// Horizontal alignment of a line within its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

pub(crate) const REGULAR_ID: &str = "F1";
pub(crate) const BOLD_ID: &str = "F2";

fn rgb((r, g, b): (f32, f32, f32)) -> Color {
    Color::Rgb(Rgb {
        r,
        g,
        b,
        icc_profile: None,
    })
}

fn pt(x: f32, y: f32) -> Point {
    Point { x: Pt(x), y: Pt(y) }
}

/// Pages being composed.
pub(crate) struct Composer {
    regular: &'static Face,
    bold: &'static Face,
    /// Finished pages, then the one being written.
    done: Vec<Vec<Op>>,
    current: Vec<Op>,
    /// Top of the free space on the current page, in points from the bottom.
    y: f32,
    running_header: String,
    used_regular: BTreeSet<char>,
    used_bold: BTreeSet<char>,
}

/// What composition produced: the pages and the characters each face has to carry.
pub(crate) struct Composed {
    pub pages: Vec<PdfPage>,
    pub used_regular: BTreeSet<char>,
    pub used_bold: BTreeSet<char>,
}

impl Composer {
    /// A composer on a fresh first page. `running_header` heads every following page.
    pub(crate) fn new(regular: &'static Face, bold: &'static Face, running_header: String) -> Self {
        Composer {
            regular,
            bold,
            done: Vec::new(),
            current: Vec::new(),
            y: TOP,
            running_header,
            used_regular: BTreeSet::new(),
            used_bold: BTreeSet::new(),
        }
    }

    fn face(&self, w: Weight) -> &'static Face {
        match w {
            Weight::Regular => self.regular,
            Weight::Bold => self.bold,
        }
    }

    /// The current cursor (top of the free space), in points from the bottom of the page.
    pub(crate) fn y(&self) -> f32 {
        self.y
    }

    /// Moves the cursor down by `h` points (no page break: the next line checks).
    pub(crate) fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    /// Height available on an empty continuation page.
    fn page_capacity() -> f32 {
        TOP - 30.0 - BOTTOM
    }

    /// Starts a new page unless `h` points fit below the cursor. A block taller than a page
    /// starts on a fresh page and breaks where it must.
    pub(crate) fn keep(&mut self, h: f32) {
        if self.y - h.min(Self::page_capacity()) < BOTTOM {
            self.new_page();
        }
    }

    fn new_page(&mut self) {
        self.done.push(std::mem::take(&mut self.current));
        self.y = TOP;
        let header = self.running_header.clone();
        let style = Style::new(Weight::Regular, 8.0, MUTED);
        let line = self.fit(style, &header, CONTENT_W);
        self.draw_text(LEFT, self.y - 8.0, style, &line);
        self.hrule(LEFT, RIGHT, self.y - 13.0, RULE, 0.5);
        self.y -= 30.0;
    }

    /// Width of `text` as it will be drawn.
    pub(crate) fn width(&self, style: Style, text: &str) -> f32 {
        let face = self.face(style.weight);
        face.width(&face.map_text(text), style.size)
    }

    /// `text` on one line no wider than `width`, shortened with « … » when needed.
    pub(crate) fn fit(&self, style: Style, text: &str, width: f32) -> String {
        let face = self.face(style.weight);
        let mapped = face.map_text(text);
        if face.width(&mapped, style.size) <= width {
            return mapped;
        }
        let budget = width - face.width("…", style.size);
        let mut out = String::new();
        let mut w = 0.0;
        for c in mapped.chars() {
            let cw = face.char_width(c, style.size);
            if w + cw > budget {
                break;
            }
            out.push(c);
            w += cw;
        }
        out.truncate(out.trim_end().len());
        out.push('…');
        out
    }

    /// Lines of `text` (one paragraph or several, hard breaks kept) wrapped to `width`.
    pub(crate) fn wrap(&self, style: Style, text: &str, width: f32) -> Vec<String> {
        paragraphs(text)
            .into_iter()
            .flatten()
            .flat_map(|hard| self.wrap_hard_line(style, hard, width))
            .collect()
    }

    fn wrap_hard_line(&self, style: Style, line: &str, width: f32) -> Vec<String> {
        let face = self.face(style.weight);
        wrap_line(face, style.size, &face.map_text(line), width)
    }

    /// Like [`Composer::wrap`], at most `max` lines, the last one ending in « … » if cut.
    pub(crate) fn wrap_capped(
        &self,
        style: Style,
        text: &str,
        width: f32,
        max: usize,
    ) -> Vec<String> {
        let mut lines = self.wrap(style, text, width);
        if lines.len() > max {
            lines.truncate(max);
            if let Some(last) = lines.pop() {
                lines.push(self.fit(style, &format!("{last}…"), width));
            }
        }
        lines
    }

    /// Draws `text` (mapped to the face) with its baseline at (`x`, `baseline`).
    pub(crate) fn draw_text(&mut self, x: f32, baseline: f32, style: Style, text: &str) {
        if text.is_empty() {
            return;
        }
        let face = self.face(style.weight);
        let mapped = face.map_text(text);
        let (id, used) = match style.weight {
            Weight::Regular => (REGULAR_ID, &mut self.used_regular),
            Weight::Bold => (BOLD_ID, &mut self.used_bold),
        };
        used.extend(mapped.chars());
        let ops = &mut self.current;
        ops.push(Op::SetFillColor {
            col: rgb(style.color),
        });
        ops.push(Op::StartTextSection);
        ops.push(Op::SetFont {
            font: PdfFontHandle::External(FontId(id.to_owned())),
            size: Pt(style.size),
        });
        ops.push(Op::SetTextCursor {
            pos: pt(x, baseline),
        });
        ops.push(Op::ShowText {
            items: vec![TextItem::Text(mapped)],
        });
        ops.push(Op::EndTextSection);
    }

    /// Baseline of a line whose box starts `top` points from the bottom.
    pub(crate) fn baseline(top: f32, style: Style) -> f32 {
        top - (style.leading() - style.size) / 2.0 - style.size * 0.8
    }

    /// Draws already-wrapped `lines` at the cursor, one line box each, breaking pages as needed.
    pub(crate) fn lines(
        &mut self,
        lines: &[String],
        style: Style,
        x: f32,
        width: f32,
        align: Align,
    ) {
        let lead = style.leading();
        for line in lines {
            self.keep(lead);
            let w = self.width(style, line);
            let lx = match align {
                Align::Left => x,
                Align::Center => x + (width - w) / 2.0,
                Align::Right => x + width - w,
            };
            let base = Self::baseline(self.y, style);
            self.draw_text(lx.max(x), base, style, line);
            self.y -= lead;
        }
    }

    /// Wraps and draws `text` at the cursor; paragraphs (blank-line separated) get a half-line gap.
    pub(crate) fn paragraphs(&mut self, text: &str, style: Style, x: f32, width: f32) {
        for (i, para) in paragraphs(text).into_iter().enumerate() {
            if i > 0 {
                self.gap(style.leading() * 0.5);
            }
            let lines: Vec<String> = para
                .into_iter()
                .flat_map(|hard| self.wrap_hard_line(style, hard, width))
                .collect();
            self.lines(&lines, style, x, width, Align::Left);
        }
    }

    /// `label` then `value` wrapped beside it, with continuation lines hanging under the value.
    pub(crate) fn labelled(
        &mut self,
        label: &str,
        label_style: Style,
        value: &str,
        style: Style,
        x: f32,
        width: f32,
    ) {
        let lw = self.width(label_style, label).min(width / 2.0);
        let lines = self.wrap(style, value, width - lw);
        let lead = style.leading().max(label_style.leading());
        for (i, line) in lines.iter().enumerate() {
            self.keep(lead);
            if i == 0 {
                let base = Self::baseline(self.y, style);
                self.draw_text(x, base, label_style, label);
            }
            let base = Self::baseline(self.y, style);
            self.draw_text(x + lw, base, style, line);
            self.y -= lead;
        }
    }

    /// A horizontal rule at height `y`.
    pub(crate) fn hrule(
        &mut self,
        x1: f32,
        x2: f32,
        y: f32,
        color: (f32, f32, f32),
        thickness: f32,
    ) {
        let ops = &mut self.current;
        ops.push(Op::SaveGraphicsState);
        ops.push(Op::SetOutlineColor { col: rgb(color) });
        ops.push(Op::SetOutlineThickness { pt: Pt(thickness) });
        ops.push(Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint {
                        p: pt(x1, y),
                        bezier: false,
                    },
                    LinePoint {
                        p: pt(x2, y),
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        });
        ops.push(Op::RestoreGraphicsState);
    }

    /// A filled rectangle whose top-left corner is (`x`, `top`).
    pub(crate) fn fill(&mut self, x: f32, top: f32, w: f32, h: f32, color: (f32, f32, f32)) {
        let ops = &mut self.current;
        ops.push(Op::SaveGraphicsState);
        ops.push(Op::SetFillColor { col: rgb(color) });
        ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(top - h),
                width: Pt(w),
                height: Pt(h),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
        ops.push(Op::RestoreGraphicsState);
    }

    /// Writes the footer of every page (`footer_left`, then « page N / M » on the right) and
    /// returns the pages.
    pub(crate) fn finish(mut self, footer_left: &str) -> Composed {
        let mut pages = std::mem::take(&mut self.done);
        pages.push(std::mem::take(&mut self.current));
        let total = pages.len();
        let number_style = Style::new(Weight::Regular, 8.0, MUTED);
        let ref_style = Style::new(Weight::Regular, 7.0, MUTED);
        for (i, page_ops) in pages.iter_mut().enumerate() {
            let number = crate::i18n::page_number(i + 1, total);
            let nw = self.width(number_style, &number);
            self.hrule(LEFT, RIGHT, FOOTER_RULE, RULE, 0.5);
            self.draw_text(RIGHT - nw, FOOTER_BASELINE, number_style, &number);
            let left = self.fit(ref_style, footer_left, CONTENT_W - nw - 24.0);
            self.draw_text(LEFT, FOOTER_BASELINE, ref_style, &left);
            page_ops.append(&mut self.current);
        }
        Composed {
            pages: pages
                .into_iter()
                .map(|ops| PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), ops))
                .collect(),
            used_regular: self.used_regular,
            used_bold: self.used_bold,
        }
    }
}
