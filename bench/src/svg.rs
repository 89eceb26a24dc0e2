//! Dependency-free SVG charts for the benchmark report.
//!
//! Every chart is a standalone SVG document with a white background. Non-finite
//! values are skipped, negative values are clamped to the axis origin (0), and a
//! chart with nothing to plot shows "no data".

use std::fmt::Write;

/// One labelled set of measurements.
pub struct Series {
    pub label: String,
    pub values: Vec<f64>,
}

/// One labelled curve.
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 760.0;
const TOP: f64 = 44.0;
const ROW_H: f64 = 28.0;
const INK: &str = "#222222";
const GRID: &str = "#dddddd";
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
];

/// Plot area in pixels plus the data range it maps (both axes start at 0).
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x_max: f64,
    y_max: f64,
}

impl Plot {
    fn x(&self, v: f64) -> f64 {
        self.left + fraction(v, self.x_max) * self.width
    }
    fn y(&self, v: f64) -> f64 {
        self.top + self.height - fraction(v, self.y_max) * self.height
    }
}

fn fraction(v: f64, max: f64) -> f64 {
    let f = v / max;
    if f.is_finite() {
        f.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Distribution per series: one horizontal row per series; each value a small dot
/// (deterministic vertical jitter, no randomness), a thicker tick at the median, a thin
/// line from min to max; a linear x axis in `unit` starting at 0 with "nice" ticks
/// (1/2/5 × 10^k steps) and gridlines; series labels on the left; title on top.
pub fn distribution_chart(title: &str, unit: &str, series: &[Series]) -> String {
    let rows: Vec<(&str, Vec<f64>)> = series
        .iter()
        .map(|s| {
            let mut v: Vec<f64> = s.values.iter().copied().filter(|v| v.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            (s.label.as_str(), v)
        })
        .collect();
    if rows.iter().all(|(_, v)| v.is_empty()) {
        return no_data(title);
    }
    let max = rows
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let ticks = nice_ticks(max);
    let left = label_margin(rows.iter().map(|(l, _)| *l));
    let plot = Plot {
        left,
        top: TOP,
        width: WIDTH - left - 30.0,
        height: rows.len() as f64 * ROW_H,
        x_max: last(&ticks),
        y_max: 1.0,
    };
    let mut svg = open(title, plot.top + plot.height + 50.0);
    x_axis(&mut svg, &plot, &ticks, unit);
    for (i, (label, values)) in rows.iter().enumerate() {
        let cy = plot.top + (i as f64 + 0.5) * ROW_H;
        let color = PALETTE[i % PALETTE.len()];
        row_label(&mut svg, &plot, cy, label);
        let (Some(&lo), Some(&hi)) = (values.first(), values.last()) else {
            continue;
        };
        line(&mut svg, (plot.x(lo), cy), (plot.x(hi), cy), "#888888", 1.0);
        for (j, &v) in values.iter().enumerate() {
            // Golden-ratio sequence: spreads dots evenly over the row without randomness.
            let dy = ((j as f64 * 0.618_033_988_75).fract() - 0.5) * ROW_H * 0.5;
            let _ = write!(
                svg,
                r#"<circle cx="{}" cy="{}" r="2.5" fill="{color}" fill-opacity="0.6"/>"#,
                num(plot.x(v)),
                num(cy + dy)
            );
        }
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            values[n / 2 - 1] / 2.0 + values[n / 2] / 2.0
        };
        let mx = plot.x(median);
        let half = ROW_H * 0.35;
        line(&mut svg, (mx, cy - half), (mx, cy + half), INK, 3.0);
    }
    close(svg)
}

/// Horizontal bars, one per entry (label, value, colour index into the palette, so bars of
/// one kind share a colour), value printed at the bar end (with `unit`), x axis from 0.
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64, usize)]) -> String {
    let bars: Vec<(&str, f64, usize)> = bars
        .iter()
        .filter(|(_, v, _)| v.is_finite())
        .map(|(l, v, c)| (l.as_str(), *v, *c))
        .collect();
    if bars.is_empty() {
        return no_data(title);
    }
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let ticks = nice_ticks(max);
    let left = label_margin(bars.iter().map(|b| b.0));
    let plot = Plot {
        left,
        top: TOP,
        width: WIDTH - left - 110.0,
        height: bars.len() as f64 * ROW_H,
        x_max: last(&ticks),
        y_max: 1.0,
    };
    let mut svg = open(title, plot.top + plot.height + 50.0);
    x_axis(&mut svg, &plot, &ticks, unit);
    for (i, (label, value, colour)) in bars.iter().enumerate() {
        let cy = plot.top + (i as f64 + 0.5) * ROW_H;
        row_label(&mut svg, &plot, cy, label);
        let end = plot.x(*value);
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
            num(plot.left),
            num(cy - ROW_H * 0.3),
            num(end - plot.left),
            num(ROW_H * 0.6),
            PALETTE[colour % PALETTE.len()]
        );
        let value_label = if unit.is_empty() {
            format_number(*value)
        } else {
            format!("{} {unit}", format_number(*value))
        };
        text(&mut svg, end + 6.0, cy + 4.0, "start", "", &value_label);
    }
    close(svg)
}

/// Lines with markers at each point; linear x and y axes from 0 with nice ticks, axis labels,
/// and a legend; one distinct colour per line (a fixed palette, cycling).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, lines: &[Line]) -> String {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = lines
        .iter()
        .map(|l| {
            let mut p: Vec<(f64, f64)> = l
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            (l.label.as_str(), p)
        })
        .collect();
    if curves.iter().all(|(_, p)| p.is_empty()) {
        return no_data(title);
    }
    let points = || curves.iter().flat_map(|(_, p)| p.iter().copied());
    let x_ticks = nice_ticks(points().map(|p| p.0).fold(0.0, f64::max));
    let y_ticks = nice_ticks(points().map(|p| p.1).fold(0.0, f64::max));
    let height = (TOP + 360.0).max(TOP + curves.len() as f64 * 18.0 + 60.0);
    let plot = Plot {
        left: 80.0,
        top: TOP,
        width: WIDTH - 80.0 - 180.0,
        height: height - TOP - 60.0,
        x_max: last(&x_ticks),
        y_max: last(&y_ticks),
    };
    let mut svg = open(title, height);
    x_axis(&mut svg, &plot, &x_ticks, x_label);
    for &t in &y_ticks {
        let y = plot.y(t);
        line(
            &mut svg,
            (plot.left, y),
            (plot.left + plot.width, y),
            GRID,
            1.0,
        );
        text(
            &mut svg,
            plot.left - 6.0,
            y + 4.0,
            "end",
            "",
            &format_number(t),
        );
    }
    let mid = plot.top + plot.height / 2.0;
    let rotate = format!(r#" transform="rotate(-90 20 {})""#, num(mid));
    text(&mut svg, 20.0, mid, "middle", &rotate, y_label);
    for (i, (label, pts)) in curves.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if pts.len() > 1 {
            let path: Vec<String> = pts
                .iter()
                .map(|&(x, y)| format!("{},{}", num(plot.x(x)), num(plot.y(y))))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                path.join(" ")
            );
        }
        for &(x, y) in pts {
            let _ = write!(
                svg,
                r#"<circle cx="{}" cy="{}" r="3" fill="{color}"/>"#,
                num(plot.x(x)),
                num(plot.y(y))
            );
        }
        let lx = plot.left + plot.width + 16.0;
        let ly = plot.top + 4.0 + i as f64 * 18.0;
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{color}"/>"#,
            num(lx),
            num(ly)
        );
        text(
            &mut svg,
            lx + 18.0,
            ly + 10.0,
            "start",
            "",
            &truncate(label, 22),
        );
    }
    close(svg)
}

/// Ticks from 0 to at least `max` with a 1/2/5 × 10^k step (about five intervals).
fn nice_ticks(max: f64) -> Vec<f64> {
    if !(max > 0.0 && max.is_finite()) {
        return vec![0.0, 1.0];
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let step = magnitude
        * match norm {
            n if n <= 1.0 => 1.0,
            n if n <= 2.0 => 2.0,
            n if n <= 5.0 => 5.0,
            _ => 10.0,
        };
    // The epsilon stops float noise (e.g. 2.0000001 intervals) from adding an empty tick.
    let intervals = (max / step - 1e-9).ceil();
    if !(step > 0.0 && (1.0..=20.0).contains(&intervals) && (step * intervals).is_finite()) {
        return vec![0.0, max]; // subnormal or near f64::MAX: no nice step exists
    }
    (0..=intervals as usize).map(|i| i as f64 * step).collect()
}

/// At most 3 significant digits; plain decimals in [0.001, 1e6), otherwise "1.5e6" style.
fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let scale = 10f64.powf(v.abs().log10().floor() - 2.0);
    let rounded = match (v / scale).round() * scale {
        r if r.is_finite() && r != 0.0 => r,
        _ => v, // scale under- or overflowed at the edges of the f64 range
    };
    let magnitude = rounded.abs().log10().floor();
    if !(-3.0..6.0).contains(&magnitude) {
        let s = format!("{rounded:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = (2.0 - magnitude).max(0.0) as usize;
    trim_zeros(&format!("{rounded:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Coordinates: one decimal is plenty, and a non-finite value must never reach the SVG.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "0".to_string()
    }
}

fn last(ticks: &[f64]) -> f64 {
    ticks.last().copied().unwrap_or(1.0)
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max_chars - 1).collect();
    t.push('…');
    t
}

/// Left margin wide enough for the longest row label (about 7 px per character at 12 px).
fn label_margin<'a>(labels: impl Iterator<Item = &'a str>) -> f64 {
    let chars = labels.map(|l| l.chars().count().min(36)).max().unwrap_or(0);
    (chars as f64 * 7.0 + 20.0).clamp(80.0, 280.0)
}

fn open(title: &str, height: f64) -> String {
    let (w, h) = (num(WIDTH), num(height));
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12" fill="{INK}">"#
    );
    let _ = write!(svg, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##);
    text(
        &mut svg,
        WIDTH / 2.0,
        26.0,
        "middle",
        r#" font-size="16" font-weight="bold""#,
        title,
    );
    svg
}

fn close(mut svg: String) -> String {
    svg.push_str("</svg>\n");
    svg
}

fn text(svg: &mut String, x: f64, y: f64, anchor: &str, attrs: &str, content: &str) {
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="{anchor}"{attrs}>{}</text>"#,
        num(x),
        num(y),
        escape(content)
    );
}

fn line(svg: &mut String, from: (f64, f64), to: (f64, f64), stroke: &str, width: f64) {
    let _ = write!(
        svg,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}" stroke-width="{width}"/>"#,
        num(from.0),
        num(from.1),
        num(to.0),
        num(to.1)
    );
}

fn row_label(svg: &mut String, plot: &Plot, cy: f64, label: &str) {
    text(
        svg,
        plot.left - 8.0,
        cy + 4.0,
        "end",
        "",
        &truncate(label, 36),
    );
}

/// Vertical gridlines with tick labels below the plot, and the axis caption under them.
fn x_axis(svg: &mut String, plot: &Plot, ticks: &[f64], caption: &str) {
    let bottom = plot.top + plot.height;
    for &t in ticks {
        let x = plot.x(t);
        line(svg, (x, plot.top), (x, bottom), GRID, 1.0);
        text(svg, x, bottom + 16.0, "middle", "", &format_number(t));
    }
    line(svg, (plot.left, plot.top), (plot.left, bottom), INK, 1.0);
    line(
        svg,
        (plot.left, bottom),
        (plot.left + plot.width, bottom),
        INK,
        1.0,
    );
    text(
        svg,
        plot.left + plot.width / 2.0,
        bottom + 34.0,
        "middle",
        "",
        caption,
    );
}

fn no_data(title: &str) -> String {
    let mut svg = open(title, 200.0);
    let _ = write!(
        svg,
        r#"<rect x="20" y="{TOP}" width="{}" height="120" fill="none" stroke="{GRID}"/>"#,
        WIDTH - 40.0
    );
    text(
        &mut svg,
        WIDTH / 2.0,
        TOP + 64.0,
        "middle",
        r##" fill="#888888""##,
        "no data",
    );
    close(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, values: &[f64]) -> Series {
        Series {
            label: label.to_string(),
            values: values.to_vec(),
        }
    }

    fn assert_well_formed(svg: &str) {
        let s = svg.trim();
        assert!(
            s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{s}"
        );
        assert!(s.ends_with("</svg>"), "{s}");
        assert!(
            !s.contains("NaN") && !s.contains("inf"),
            "non-finite number in {s}"
        );
        assert_eq!(s.matches("<text").count(), s.matches("</text>").count());
    }

    fn height_of(svg: &str) -> f64 {
        let rest = &svg[svg.find(" height=\"").unwrap() + 9..];
        rest[..rest.find('"').unwrap()].parse().unwrap()
    }

    #[test]
    fn nice_ticks_use_1_2_5_steps() {
        assert_eq!(nice_ticks(7.3), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_ticks(10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(1500.0), vec![0.0, 500.0, 1000.0, 1500.0]);
        assert_eq!(nice_ticks(0.0), vec![0.0, 1.0]);
        assert_eq!(nice_ticks(-3.0), vec![0.0, 1.0]);
        assert_eq!(nice_ticks(f64::NAN), vec![0.0, 1.0]);
        let ticks = nice_ticks(0.003);
        assert!(ticks.len() >= 3 && *ticks.last().unwrap() >= 0.003);
        for max in [f64::MAX, 1e300, 1e-300, f64::MIN_POSITIVE / 1e10] {
            let ticks = nice_ticks(max);
            assert!(ticks.iter().all(|t| t.is_finite()), "{max}: {ticks:?}");
            assert!(*ticks.last().unwrap() >= max, "{max}: {ticks:?}");
        }
    }

    #[test]
    fn numbers_have_at_most_three_significant_digits() {
        let cases = [
            (0.25, "0.25"),
            (12.0, "12"),
            (1500.0, "1500"),
            (1234.5, "1230"),
            (999.9, "1000"),
            (999_999.0, "1e6"),
            (1.5e6, "1.5e6"),
            (0.000123, "1.23e-4"),
            (0.001, "0.001"),
            (0.30000000000000004, "0.3"),
            (-2.5, "-2.5"),
            (0.0, "0"),
        ];
        for (v, want) in cases {
            assert_eq!(format_number(v), want, "{v}");
        }
        assert!(format_number(f64::MAX).starts_with("1.8e308"));
        assert!(!format_number(f64::MIN_POSITIVE / 1e10).contains("NaN"));
    }

    #[test]
    fn one_circle_per_finite_value() {
        let data = [
            series("a", &[1.0, 2.0, f64::NAN, 3.0]),
            series("empty", &[]),
            series("b", &[f64::INFINITY, 5.0, f64::NEG_INFINITY]),
        ];
        let svg = distribution_chart("t", "ms", &data);
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains(">empty</text>"));
    }

    #[test]
    fn height_grows_with_rows() {
        let few = distribution_chart("t", "ms", &[series("a", &[1.0])]);
        let many: Vec<Series> = (0..6).map(|i| series(&i.to_string(), &[1.0])).collect();
        assert!(height_of(&distribution_chart("t", "ms", &many)) > height_of(&few));
    }

    #[test]
    fn labels_and_titles_are_escaped() {
        let svg = distribution_chart("<a & 'b'>", "\"u\"", &[series("x<y", &[1.0])]);
        assert_well_formed(&svg);
        assert!(svg.contains("&lt;a &amp; &apos;b&apos;&gt;"));
        assert!(svg.contains("&quot;u&quot;") && svg.contains("x&lt;y"));
        assert!(!svg.contains("<a ") && !svg.contains("x<y"));
        let bars = bar_chart("t", "&", &[("<b>".to_string(), 1.0, 0)]);
        assert!(bars.contains("&lt;b&gt;") && bars.contains("1 &amp;"));
    }

    #[test]
    fn empty_or_non_finite_input_says_no_data() {
        let nan_line = Line {
            label: "l".into(),
            points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
        };
        let charts = [
            distribution_chart("t", "ms", &[]),
            distribution_chart("t", "ms", &[series("a", &[]), series("b", &[f64::NAN])]),
            bar_chart("t", "ms", &[]),
            bar_chart("t", "ms", &[("a".into(), f64::NAN, 0)]),
            line_chart("t", "x", "y", &[]),
            line_chart("t", "x", "y", &[nan_line]),
        ];
        for svg in charts {
            assert_well_formed(&svg);
            assert!(svg.contains(">no data</text>"), "{svg}");
        }
    }

    #[test]
    fn degenerate_values_never_leak_non_finite_numbers() {
        let extremes = [0.0, f64::MAX, 1e-300, f64::MIN_POSITIVE / 1e10, -5.0];
        for v in extremes {
            assert_well_formed(&distribution_chart("t", "s", &[series("a", &[v])]));
            assert_well_formed(&distribution_chart("t", "s", &[series("a", &[v, v, v])]));
            assert_well_formed(&bar_chart("t", "s", &[("a".into(), v, 0)]));
            let line = Line {
                label: "l".into(),
                points: vec![(v, v), (v, 0.0)],
            };
            assert_well_formed(&line_chart("t", "x", "y", &[line]));
        }
        let mixed = [series("a", &[f64::MAX, 1e-300, 0.0])];
        assert_well_formed(&distribution_chart("t", "s", &mixed));
    }

    #[test]
    fn line_chart_legend_lists_every_label() {
        let lines: Vec<Line> = (0..10)
            .map(|i| Line {
                label: format!("runtime-{i}"),
                points: vec![(1.0, i as f64), (4.0, 2.0 * i as f64), (2.0, 0.5)],
            })
            .collect();
        let svg = line_chart("Startup", "containers", "ms", &lines);
        assert_well_formed(&svg);
        for l in &lines {
            assert!(svg.contains(&format!(">{}</text>", l.label)), "{}", l.label);
        }
        assert_eq!(svg.matches("<polyline").count(), 10);
        assert_eq!(svg.matches("<circle").count(), 30);
        assert!(svg.contains(">containers</text>") && svg.contains(">ms</text>"));
        // The palette cycles, so line 8 reuses the first colour.
        assert!(svg.matches(&format!("fill=\"{}\"", PALETTE[0])).count() >= 2 * 3 + 2);
    }

    #[test]
    fn bar_chart_prints_each_value() {
        let bars = [
            ("a".to_string(), 12.0, 0),
            ("b".to_string(), 0.25, 1),
            ("c".to_string(), 1500.0, 9),
        ];
        let svg = bar_chart("Memory", "ms", &bars);
        assert_well_formed(&svg);
        for want in [">12 ms</text>", ">0.25 ms</text>", ">1500 ms</text>"] {
            assert!(svg.contains(want), "{want}");
        }
        // Colour indices pick from the palette, cycling.
        assert!(svg.contains(&format!("fill=\"{}\"", PALETTE[1])));
        assert!(svg.contains(&format!("fill=\"{}\"", PALETTE[9 % PALETTE.len()])));
        assert!(bar_chart("t", "", &bars).contains(">12</text>"));
    }
}
