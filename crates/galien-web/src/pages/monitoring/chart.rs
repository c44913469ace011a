//! Charts of measurements, drawn on the server as inline SVG (no script, no CDN; the CSP forbids
//! inline styles, so the look comes from classes in `galien.css` and presentation attributes).
//!
//! A [`Chart`] is one measure over a period: the values as a line with points (a value beyond a
//! threshold is a triangle, not only a colour), the thresholds as dashed, labelled lines, axes with
//! dates and the unit, a `<title>`/`<desc>` for the picture and a table of every value for those who
//! do not see it. A [`Spark`] is the small line of the board's rows.

use crate::texts::T;
use galien_app::telemonitoring::Threshold;
use galien_app::telemonitoring::alerts::Series;
use galien_core::Lang;
use galien_core::measure::Measure;
use time::{Duration, OffsetDateTime};

/// The drawing's coordinate system (the SVG scales to its box, keeping proportions).
/// About a phone's width in CSS pixels, so that text in the drawing reads at its nominal size on a
/// phone (and a little larger on a desktop).
pub(crate) const WIDTH: f64 = 320.0;
/// See [`WIDTH`].
pub(crate) const HEIGHT: f64 = 210.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 26.0;

/// A number for people: at most one decimal, a decimal comma in French.
pub(crate) fn number(v: f64, lang: Lang) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    let text = if (rounded - rounded.round()).abs() < 1e-9 {
        format!("{}", rounded.round())
    } else {
        format!("{rounded:.1}")
    };
    let text = if text == "-0" { "0".to_owned() } else { text };
    match lang {
        Lang::Fr => text.replace('.', ","),
        Lang::En => text,
    }
}

/// A value with its unit, kept together (no-break space; `%` follows the French custom too).
pub(crate) fn quantity(v: f64, m: Measure, lang: Lang) -> String {
    format!("{}\u{a0}{}", number(v, lang), m.unit_label())
}

/// The measure's name in `lang`.
pub(crate) fn measure_label(m: Measure, lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => m.label_fr(),
        Lang::En => m.label_en(),
    }
}

/// `28/11` in French, `11-28` in English (the year is in the table).
fn day_label(at: OffsetDateTime, lang: Lang) -> String {
    let at = crate::local_time::zone().local(at);
    match lang {
        Lang::Fr => format!("{:02}/{:02}", at.day(), u8::from(at.month())),
        Lang::En => format!("{:02}-{:02}", u8::from(at.month()), at.day()),
    }
}

/// `text` with its `{}`s replaced, in order, by `values`.
pub(crate) fn fill(text: &str, values: &[&str]) -> String {
    values
        .iter()
        .fold(text.to_owned(), |acc, v| acc.replacen("{}", v, 1))
}

/// Where a value stands against the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Within them (or none set).
    Within,
    /// Below the low threshold.
    Low,
    /// Above the high threshold.
    High,
}

impl Standing {
    pub(crate) fn of(v: f64, t: Option<Threshold>) -> Standing {
        match t {
            Some(Threshold { low: Some(low), .. }) if v < low => Standing::Low,
            Some(Threshold {
                high: Some(high), ..
            }) if v > high => Standing::High,
            _ => Standing::Within,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Standing::Within => "monitoring.value.within",
            Standing::Low => "monitoring.value.low",
            Standing::High => "monitoring.value.high",
        }
    }
}

/// One tick of an axis: its position and label.
#[derive(Debug, Clone)]
pub(crate) struct Tick {
    pub(crate) at: String,
    pub(crate) label: String,
}

/// A threshold line.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) y: String,
    /// Where its label sits (above the line, or below it when at the top).
    pub(crate) label_y: String,
    pub(crate) label: String,
    /// `low` or `high`.
    pub(crate) kind: &'static str,
}

/// A point of the line.
#[derive(Debug, Clone)]
pub(crate) struct Dot {
    pub(crate) x: String,
    pub(crate) y: String,
    /// Beyond a threshold: drawn as a triangle (`shape` holds its path).
    pub(crate) out: bool,
    pub(crate) shape: String,
    /// "28/11/2026 à 08:30 UTC : 86 %", the point's tooltip.
    pub(crate) tip: String,
}

/// A row of the table of values.
#[derive(Debug, Clone)]
pub(crate) struct ValueRow {
    pub(crate) when: String,
    pub(crate) value: String,
    pub(crate) standing: &'static str,
    pub(crate) out: bool,
}

/// One measure's chart.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// `chart-weight`…: anchors and ARIA ids.
    pub(crate) id: String,
    pub(crate) title: &'static str,
    pub(crate) unit: &'static str,
    /// The SVG's short name ("Poids, 30 derniers jours").
    pub(crate) svg_title: String,
    /// What the picture shows, in words.
    pub(crate) desc: String,
    /// The thresholds in force, in words.
    pub(crate) thresholds: String,
    pub(crate) empty: bool,
    pub(crate) view_box: String,
    /// The plot area: x0, y0 (top), x1, y1 (bottom).
    pub(crate) x0: String,
    pub(crate) x1: String,
    pub(crate) y0: String,
    pub(crate) y1: String,
    /// Where the unit sits (above the y axis labels).
    pub(crate) unit_x: String,
    /// Where the threshold labels start.
    pub(crate) label_x: String,
    pub(crate) unit_y: String,
    /// Where the x labels sit.
    pub(crate) x_label_y: String,
    /// Where the y labels sit (right-aligned just left of the plot).
    pub(crate) y_label_x: String,
    pub(crate) y_ticks: Vec<Tick>,
    pub(crate) x_ticks: Vec<Tick>,
    pub(crate) rules: Vec<Rule>,
    /// The line through the points (`x,y x,y …`).
    pub(crate) line: String,
    pub(crate) dots: Vec<Dot>,
    /// The table of values, newest first.
    pub(crate) rows: Vec<ValueRow>,
    pub(crate) table_caption: String,
    pub(crate) value_header: String,
}

/// A coordinate, short.
fn c(v: f64) -> String {
    format!("{:.1}", v)
}

/// A "nice" step (1, 2, 2.5 or 5 times a power of ten) cutting `range` into about `parts` parts.
pub(crate) fn nice_step(range: f64, parts: f64) -> f64 {
    let raw = (range / parts).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// The value axis: bounds rounded to ticks, holding every value and threshold.
pub(crate) fn value_axis(values: &[f64]) -> (f64, f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if (hi - lo).abs() < 1e-9 {
        let pad = (lo.abs() * 0.05).max(1.0);
        (lo - pad, hi + pad)
    } else {
        let pad = (hi - lo) * 0.08;
        (lo - pad, hi + pad)
    };
    let step = nice_step(hi - lo, 4.0);
    let lo = (lo / step).floor() * step;
    let hi = (hi / step).ceil() * step;
    (lo, hi, step)
}

fn triangle(x: f64, y: f64, down: bool) -> String {
    let s = 5.5;
    if down {
        format!(
            "M{} {}L{} {}L{} {}Z",
            c(x - s),
            c(y - s * 0.8),
            c(x + s),
            c(y - s * 0.8),
            c(x),
            c(y + s)
        )
    } else {
        format!(
            "M{} {}L{} {}L{} {}Z",
            c(x - s),
            c(y + s * 0.8),
            c(x + s),
            c(y + s * 0.8),
            c(x),
            c(y - s)
        )
    }
}

/// The chart of `s` over the `days` days before `now`.
pub(crate) fn chart(s: &Series, days: i64, now: OffsetDateTime, t: T) -> Chart {
    let lang = t.lang;
    let m = s.measure;
    let title = measure_label(m, lang);
    let unit = m.unit_label();
    let period = fill(t.s("monitoring.chart.period"), &[&days.to_string()]);
    let start = now - Duration::days(days);
    let threshold = s.threshold;
    let low = threshold.and_then(|t| t.low);
    let high = threshold.and_then(|t| t.high);
    let mut values: Vec<f64> = s.points.iter().map(|(_, v)| *v).collect();
    values.extend(low);
    values.extend(high);
    let (vlo, vhi, step) = value_axis(&values);
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
    let span = (now - start).as_seconds_f64().max(1.0);
    let x_of = |at: OffsetDateTime| {
        let f = ((at - start).as_seconds_f64() / span).clamp(0.0, 1.0);
        x0 + f * (x1 - x0)
    };
    let y_of = |v: f64| y1 - ((v - vlo) / (vhi - vlo)).clamp(0.0, 1.0) * (y1 - y0);

    let mut y_ticks = Vec::new();
    let mut v = vlo;
    while v <= vhi + step * 0.01 && y_ticks.len() < 12 {
        y_ticks.push(Tick {
            at: c(y_of(v)),
            label: number(v, lang),
        });
        v += step;
    }
    // Dates at midnight in the organisation's time zone, about five of them.
    let every = Duration::days(((days + 4) / 5).max(1));
    let mut x_ticks = Vec::new();
    // Counted in dates, not in 24 h steps: a day of a summer time change lasts 23 or 25 hours.
    let zone = crate::local_time::zone();
    let mut date = zone.today(start) + Duration::days(1);
    let mut day = zone.midnight(date);
    while day <= now && x_ticks.len() < 8 {
        x_ticks.push(Tick {
            at: c(x_of(day)),
            label: day_label(day, lang),
        });
        date += every;
        day = zone.midnight(date);
    }

    let mut rules = Vec::new();
    for (value, kind, key) in [
        (low, "low", "monitoring.chart.low"),
        (high, "high", "monitoring.chart.high"),
    ] {
        if let Some(value) = value {
            let y = y_of(value);
            // The label above the line (at the left: the newest values are at the right), unless
            // that leaves the plot.
            let label_y = if y - 5.0 < y0 + 10.0 {
                y + 15.0
            } else {
                y - 5.0
            };
            rules.push(Rule {
                y: c(y),
                label_y: c(label_y),
                label: fill(t.s(key), &[&quantity(value, m, lang)]),
                kind,
            });
        }
    }

    let dots: Vec<Dot> = s
        .points
        .iter()
        .map(|(at, v)| {
            let (x, y) = (x_of(*at), y_of(*v));
            let standing = Standing::of(*v, threshold);
            Dot {
                x: c(x),
                y: c(y),
                out: standing != Standing::Within,
                shape: triangle(x, y, standing == Standing::Low),
                tip: format!(
                    "{} : {}",
                    crate::pages::human_time(*at, lang),
                    quantity(*v, m, lang)
                ),
            }
        })
        .collect();
    let line = dots
        .iter()
        .map(|d| format!("{},{}", d.x, d.y))
        .collect::<Vec<_>>()
        .join(" ");
    let rows = s
        .points
        .iter()
        .rev()
        .map(|(at, v)| {
            let standing = Standing::of(*v, threshold);
            ValueRow {
                when: crate::pages::human_time(*at, lang),
                value: quantity(*v, m, lang),
                standing: t.s(standing.key()),
                out: standing != Standing::Within,
            }
        })
        .collect();

    let thresholds = match (low, high) {
        (None, None) => t.s("monitoring.chart.no_thresholds").to_owned(),
        (Some(l), None) => fill(
            t.s("monitoring.chart.thresholds_low"),
            &[&quantity(l, m, lang)],
        ),
        (None, Some(h)) => fill(
            t.s("monitoring.chart.thresholds_high"),
            &[&quantity(h, m, lang)],
        ),
        (Some(l), Some(h)) => fill(
            t.s("monitoring.chart.thresholds_both"),
            &[&quantity(l, m, lang), &quantity(h, m, lang)],
        ),
    };
    // Weight in a programme: the trend rule applies (+2 kg in 3 days).
    let thresholds = if m == Measure::Weight && threshold.is_some() {
        format!("{thresholds} {}", t.s("monitoring.chart.weight_trend"))
    } else {
        thresholds
    };
    let desc = match (s.points.first(), s.points.last()) {
        (Some(_), Some((last_at, last))) => {
            let min = s.points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            let max = s
                .points
                .iter()
                .map(|p| p.1)
                .fold(f64::NEG_INFINITY, f64::max);
            let out = s
                .points
                .iter()
                .filter(|p| Standing::of(p.1, threshold) != Standing::Within)
                .count();
            let mut text = fill(
                t.s("monitoring.chart.desc"),
                &[
                    &s.points.len().to_string(),
                    &quantity(min, m, lang),
                    &quantity(max, m, lang),
                    &quantity(*last, m, lang),
                    &crate::pages::human_time(*last_at, lang),
                ],
            );
            if out > 0 {
                text.push(' ');
                text.push_str(&fill(t.s("monitoring.chart.desc_out"), &[&out.to_string()]));
            }
            text
        }
        _ => t.s("monitoring.chart.none").to_owned(),
    };
    Chart {
        id: format!("courbe-{}", m.as_str()),
        title,
        unit,
        svg_title: format!("{title}, {period}"),
        desc,
        thresholds,
        empty: s.points.is_empty(),
        view_box: format!("0 0 {} {}", WIDTH, HEIGHT),
        x0: c(x0),
        x1: c(x1),
        y0: c(y0),
        y1: c(y1),
        unit_x: c(2.0),
        label_x: c(x0 + 4.0),
        unit_y: c(y0 - 10.0),
        x_label_y: c(y1 + 18.0),
        y_label_x: c(x0 - 5.0),
        y_ticks,
        x_ticks,
        rules,
        line,
        dots,
        rows,
        table_caption: fill(t.s("monitoring.chart.table_caption"), &[title, &period]),
        value_header: fill(t.s("monitoring.chart.col.value"), &[unit]),
    }
}

/// The small line of a board row: the last days of one measure.
#[derive(Debug, Clone)]
pub(crate) struct Spark {
    pub(crate) line: String,
    /// The last point (emphasised).
    pub(crate) last_x: String,
    pub(crate) last_y: String,
    /// Threshold lines within the box.
    pub(crate) rules: Vec<String>,
    /// In words, for screen readers.
    pub(crate) label: String,
}

/// The sparkline of `s` over the `days` days before `now`, `None` without values.
pub(crate) fn spark(s: &Series, days: i64, now: OffsetDateTime, t: T) -> Option<Spark> {
    let lang = t.lang;
    let (_, last) = *s.points.last()?;
    let (w, h, pad) = (100.0, 28.0, 3.0);
    let start = now - Duration::days(days);
    let span = (now - start).as_seconds_f64().max(1.0);
    let low = s.threshold.and_then(|t| t.low);
    let high = s.threshold.and_then(|t| t.high);
    let mut values: Vec<f64> = s.points.iter().map(|p| p.1).collect();
    values.extend(low);
    values.extend(high);
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if (hi - lo).abs() < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let x_of = |at: OffsetDateTime| {
        pad + ((at - start).as_seconds_f64() / span).clamp(0.0, 1.0) * (w - 2.0 * pad)
    };
    let y_of = |v: f64| h - pad - ((v - lo) / (hi - lo)).clamp(0.0, 1.0) * (h - 2.0 * pad);
    let pts: Vec<(f64, f64)> = s
        .points
        .iter()
        .map(|(at, v)| (x_of(*at), y_of(*v)))
        .collect();
    let line = pts
        .iter()
        .map(|(x, y)| format!("{},{}", c(*x), c(*y)))
        .collect::<Vec<_>>()
        .join(" ");
    let (lx, ly) = pts.last().copied().unwrap_or((0.0, 0.0));
    let rules = [low, high]
        .into_iter()
        .flatten()
        .map(|v| c(y_of(v)))
        .collect();
    let label = fill(
        t.s("monitoring.spark"),
        &[
            measure_label(s.measure, lang),
            &days.to_string(),
            &s.points.len().to_string(),
            &quantity(last, s.measure, lang),
        ],
    );
    Some(Spark {
        line,
        last_x: c(lx),
        last_y: c(ly),
        rules,
        label,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use time::macros::datetime;

    fn series(points: Vec<(OffsetDateTime, f64)>) -> Series {
        Series {
            measure: Measure::Spo2,
            points,
            threshold: Some(Threshold {
                low: Some(90.0),
                high: None,
            }),
        }
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(72.4, Lang::Fr), "72,4");
        assert_eq!(number(72.4, Lang::En), "72.4");
        assert_eq!(number(90.0, Lang::Fr), "90");
        assert_eq!(number(72.449, Lang::Fr), "72,4");
        assert_eq!(number(-0.01, Lang::Fr), "0");
        assert_eq!(quantity(86.0, Measure::Spo2, Lang::Fr), "86\u{a0}%");
    }

    #[test]
    fn axes_hold_values_and_thresholds_on_round_ticks() {
        let (lo, hi, step) = value_axis(&[86.0, 97.0, 90.0]);
        assert!(lo <= 86.0 && hi >= 97.0, "{lo} {hi}");
        assert!(step == 2.0 || step == 2.5 || step == 5.0, "{step}");
        assert!((lo / step - (lo / step).round()).abs() < 1e-9);
        let (lo, hi, _) = value_axis(&[72.0]);
        assert!(lo < 72.0 && hi > 72.0);
        assert_eq!(value_axis(&[]), (0.0, 1.0, 0.25));
    }

    #[test]
    fn a_chart_draws_thresholds_points_and_words() {
        let now = datetime!(2026-11-28 09:00 UTC);
        let s = series(vec![
            (now - Duration::days(2), 96.0),
            (now - Duration::hours(1), 86.0),
        ]);
        let t = T { lang: Lang::Fr };
        let ch = chart(&s, 30, now, t);
        assert!(!ch.empty);
        assert_eq!(ch.dots.len(), 2);
        assert!(!ch.dots[0].out && ch.dots[1].out);
        assert_eq!(ch.rules.len(), 1);
        assert!(
            ch.rules[0].label.contains("90\u{a0}%"),
            "{}",
            ch.rules[0].label
        );
        assert!(ch.desc.contains("Nombre de mesures : 2."), "{}", ch.desc);
        assert_eq!(ch.rows[0].value, "86\u{a0}%", "newest first");
        assert!(ch.rows[0].out && ch.rows[0].standing.contains("bas"));
        assert!(ch.x_ticks.len() >= 4, "{:?}", ch.x_ticks);
        // Every coordinate is inside the drawing.
        for d in &ch.dots {
            let (x, y): (f64, f64) = (d.x.parse().unwrap(), d.y.parse().unwrap());
            assert!((0.0..=WIDTH).contains(&x) && (0.0..=HEIGHT).contains(&y));
        }
        let empty = chart(&series(Vec::new()), 7, now, t);
        assert!(empty.empty && empty.desc.contains("Aucune"));
        let sp = spark(&s, 7, now, t).unwrap();
        assert!(sp.label.contains("86\u{a0}%"), "{}", sp.label);
        assert!(spark(&series(Vec::new()), 7, now, t).is_none());
    }
}
