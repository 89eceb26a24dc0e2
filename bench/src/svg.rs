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
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
];
const MIDDLE: &str = r#" text-anchor="middle""#;
const END: &str = r#" text-anchor="end""#;
const GRID: &str = r##" stroke="#dddddd""##;
const AXIS: &str = r##" stroke="#222222""##;

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
    /// One row per label, with the left margin sized to fit the labels.
    fn rows(labels: &[&str], right_margin: f64, x_max: f64) -> Plot {
        let chars = labels.iter().map(|l| l.chars().count().min(36)).max();
        // About 7 px per character at font-size 12.
        let left = (chars.unwrap_or(0) as f64 * 7.0 + 20.0).clamp(80.0, 280.0);
        let (width, height) = (WIDTH - left - right_margin, labels.len() as f64 * ROW_H);
        Plot {
            left,
            top: TOP,
            width,
            height,
            x_max,
            y_max: 1.0,
        }
    }
    fn x(&self, v: f64) -> f64 {
        self.left + fraction(v, self.x_max) * self.width
    }
    fn y(&self, v: f64) -> f64 {
        self.top + self.height - fraction(v, self.y_max) * self.height
    }
    fn row_y(&self, i: usize) -> f64 {
        self.top + (i as f64 + 0.5) * ROW_H
    }
    fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

fn fraction(v: f64, max: f64) -> f64 {
    let f = v / max;
    if f.is_nan() {
        0.0
    } else {
        f.clamp(0.0, 1.0)
    }
}

/// Distribution per series: one horizontal row per series; each value a small dot
/// (deterministic vertical jitter, no randomness), a thicker tick at the median, a thin
/// line from min to max; a linear x axis in `unit` starting at 0 with "nice" ticks
/// (1/2/5 × 10^k steps) and gridlines; series labels on the left; title on top.
pub fn distribution_chart(title: &str, unit: &str, series: &[Series]) -> String {
    let rows: Vec<Vec<f64>> = series.iter().map(|s| sorted_finite(&s.values)).collect();
    let Some(max) = rows.iter().flatten().copied().reduce(f64::max) else {
        return no_data(title);
    };
    let ticks = nice_ticks(max);
    let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    let plot = Plot::rows(&labels, 30.0, last(&ticks));
    let mut svg = Svg::open(title, plot.bottom() + 50.0);
    svg.x_axis(&plot, &ticks, unit);
    for (i, values) in rows.iter().enumerate() {
        let cy = plot.row_y(i);
        svg.text((plot.left - 8.0, cy + 4.0), END, &truncate(labels[i], 36));
        let (Some(&lo), Some(&hi)) = (values.first(), values.last()) else {
            continue;
        };
        svg.line((plot.x(lo), cy), (plot.x(hi), cy), r##" stroke="#888888""##);
        let color = PALETTE[i % PALETTE.len()];
        let fill = format!(r#" fill="{color}" fill-opacity="0.6""#);
        for (j, &v) in values.iter().enumerate() {
            // Golden-ratio sequence: spreads dots evenly over the row without randomness.
            let dy = ((j as f64 * 0.618_033_988_75).fract() - 0.5) * ROW_H * 0.5;
            svg.circle((plot.x(v), cy + dy), 2.5, &fill);
        }
        let n = values.len();
        // Halving first avoids overflow near f64::MAX; for odd n both indices coincide.
        let mx = plot.x(values[(n - 1) / 2] / 2.0 + values[n / 2] / 2.0);
        let half = ROW_H * 0.35;
        svg.line(
            (mx, cy - half),
            (mx, cy + half),
            &format!(r#"{AXIS} stroke-width="3""#),
        );
    }
    svg.finish()
}

/// Horizontal bars, one per entry (label, value, colour index into the palette, so bars of
/// one kind share a colour), value printed at the bar end (with `unit`), x axis from 0.
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64, usize)]) -> String {
    let bars: Vec<&(String, f64, usize)> = bars.iter().filter(|b| b.1.is_finite()).collect();
    if bars.is_empty() {
        return no_data(title);
    }
    let ticks = nice_ticks(bars.iter().map(|b| b.1).fold(0.0, f64::max));
    let labels: Vec<&str> = bars.iter().map(|b| b.0.as_str()).collect();
    let plot = Plot::rows(&labels, 110.0, last(&ticks));
    let mut svg = Svg::open(title, plot.bottom() + 50.0);
    svg.x_axis(&plot, &ticks, unit);
    for (i, (label, value, colour)) in bars.iter().enumerate() {
        let fill = format!(r#" fill="{}""#, PALETTE[colour % PALETTE.len()]);
        let (cy, end) = (plot.row_y(i), plot.x(*value));
        svg.text((plot.left - 8.0, cy + 4.0), END, &truncate(label, 36));
        let size = (end - plot.left, ROW_H * 0.6);
        svg.rect((plot.left, cy - ROW_H * 0.3), size, &fill);
        let value_label = format!("{} {unit}", format_number(*value));
        svg.text((end + 6.0, cy + 4.0), "", value_label.trim_end());
    }
    svg.finish()
}

/// Lines with markers at each point; linear x and y axes from 0 with nice ticks, axis labels,
/// and a legend; one distinct colour per line (a fixed palette, cycling).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, lines: &[Line]) -> String {
    let curves: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| finite_points(&l.points)).collect();
    if curves.iter().all(Vec::is_empty) {
        return no_data(title);
    }
    let max = |axis: fn(&(f64, f64)) -> f64| curves.iter().flatten().map(axis).fold(0.0, f64::max);
    let (x_ticks, y_ticks) = (nice_ticks(max(|p| p.0)), nice_ticks(max(|p| p.1)));
    let height = (TOP + 360.0).max(TOP + lines.len() as f64 * 18.0 + 60.0);
    let plot = Plot {
        left: 80.0,
        top: TOP,
        width: WIDTH - 80.0 - 180.0,
        height: height - TOP - 60.0,
        x_max: last(&x_ticks),
        y_max: last(&y_ticks),
    };
    let mut svg = Svg::open(title, height);
    svg.x_axis(&plot, &x_ticks, x_label);
    let right = plot.left + plot.width;
    for &t in &y_ticks {
        let y = plot.y(t);
        svg.line((plot.left, y), (right, y), GRID);
        svg.text((plot.left - 6.0, y + 4.0), END, &format_number(t));
    }
    let mid = plot.top + plot.height / 2.0;
    let rotate = format!(r#"{MIDDLE} transform="rotate(-90 20 {})""#, num(mid));
    svg.text((20.0, mid), &rotate, y_label);
    for (i, (line, pts)) in lines.iter().zip(&curves).enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let xy: Vec<String> = pts.iter().map(|&(x, y)| xy(plot.x(x), plot.y(y))).collect();
        if xy.len() > 1 {
            let stroke = format!(r#"fill="none" stroke="{color}" stroke-width="2""#);
            let _ = write!(svg.0, r#"<polyline points="{}" {stroke}/>"#, xy.join(" "));
        }
        let fill = format!(r#" fill="{color}""#);
        for &(x, y) in pts {
            svg.circle((plot.x(x), plot.y(y)), 3.0, &fill);
        }
        let (lx, ly) = (right + 16.0, plot.top + 4.0 + i as f64 * 18.0);
        svg.rect((lx, ly), (12.0, 12.0), &fill);
        svg.text((lx + 18.0, ly + 10.0), "", &truncate(&line.label, 22));
    }
    svg.finish()
}

fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn finite_points(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> = points.to_vec();
    p.retain(|(x, y)| x.is_finite() && y.is_finite());
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    p
}

/// Ticks from 0 to at least `max` with a 1/2/5 × 10^k step (about five intervals).
fn nice_ticks(max: f64) -> Vec<f64> {
    if !(max > 0.0 && max.is_finite()) {
        return vec![0.0, 1.0];
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let nice = [1.0, 2.0, 5.0].into_iter().find(|&m| raw <= m * magnitude);
    let step = nice.unwrap_or(10.0) * magnitude;
    // The epsilon stops float noise (e.g. 2.0000001 intervals) from adding an empty tick.
    let intervals = (max / step - 1e-9).ceil();
    if !(step > 0.0 && (1.0..=20.0).contains(&intervals) && (step * intervals).is_finite()) {
        return vec![0.0, max]; // subnormal or near f64::MAX: no nice step exists
    }
    (0..=intervals as usize).map(|i| i as f64 * step).collect()
}

/// At most 3 significant digits; plain decimals in [0.001, 1e6), otherwise "1.5e6" style.
fn format_number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return if v == 0.0 { "0" } else { "n/a" }.to_string();
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
    match s.contains('.') {
        true => s.trim_end_matches('0').trim_end_matches('.'),
        false => s,
    }
}

fn escape(s: &str) -> String {
    let s = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    s.replace('"', "&quot;").replace('\'', "&apos;")
}

/// Coordinates: one decimal is plenty, and a non-finite value must never reach the SVG.
fn num(v: f64) -> String {
    format!("{:.1}", if v.is_finite() { v } else { 0.0 })
}

fn xy(x: f64, y: f64) -> String {
    format!("{},{}", num(x), num(y))
}

fn last(ticks: &[f64]) -> f64 {
    ticks.last().copied().unwrap_or(1.0)
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    s.chars().take(max_chars - 1).chain(['…']).collect()
}

fn no_data(title: &str) -> String {
    let mut svg = Svg::open(title, 200.0);
    svg.rect(
        (20.0, TOP),
        (WIDTH - 40.0, 120.0),
        &format!(r#" fill="none"{GRID}"#),
    );
    let grey = format!(r##"{MIDDLE} fill="#888888""##);
    svg.text((WIDTH / 2.0, TOP + 64.0), &grey, "no data");
    svg.finish()
}

/// SVG document under construction; `attrs` arguments are raw, pre-escaped attribute text.
struct Svg(String);

impl Svg {
    fn open(title: &str, height: f64) -> Svg {
        let (w, h) = (num(WIDTH), num(height));
        let mut svg = Svg(format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12" fill="#222222">"##
        ));
        svg.rect((0.0, 0.0), (WIDTH, height), r##" fill="#ffffff""##);
        let bold = format!(r#"{MIDDLE} font-size="16" font-weight="bold""#);
        svg.text((WIDTH / 2.0, 26.0), &bold, title);
        svg
    }
    fn finish(mut self) -> String {
        self.0.push_str("</svg>\n");
        self.0
    }
    fn text(&mut self, (x, y): (f64, f64), attrs: &str, content: &str) {
        let (x, y, content) = (num(x), num(y), escape(content));
        let _ = write!(self.0, r#"<text x="{x}" y="{y}"{attrs}>{content}</text>"#);
    }
    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attrs: &str) {
        let (x1, y1, x2, y2) = (num(x1), num(y1), num(x2), num(y2));
        let _ = write!(
            self.0,
            r#"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"{attrs}/>"#
        );
    }
    fn rect(&mut self, (x, y): (f64, f64), (w, h): (f64, f64), attrs: &str) {
        let (x, y, w, h) = (num(x), num(y), num(w), num(h));
        let _ = write!(
            self.0,
            r#"<rect x="{x}" y="{y}" width="{w}" height="{h}"{attrs}/>"#
        );
    }
    fn circle(&mut self, (cx, cy): (f64, f64), r: f64, attrs: &str) {
        let (cx, cy) = (num(cx), num(cy));
        let _ = write!(self.0, r#"<circle cx="{cx}" cy="{cy}" r="{r}"{attrs}/>"#);
    }
    /// Vertical gridlines with tick labels below the plot, and the axis caption under them.
    fn x_axis(&mut self, plot: &Plot, ticks: &[f64], caption: &str) {
        let (left, bottom, right) = (plot.left, plot.bottom(), plot.left + plot.width);
        for &t in ticks {
            let x = plot.x(t);
            self.line((x, plot.top), (x, bottom), GRID);
            self.text((x, bottom + 16.0), MIDDLE, &format_number(t));
        }
        self.line((left, plot.top), (left, bottom), AXIS);
        self.line((left, bottom), (right, bottom), AXIS);
        self.text(((left + right) / 2.0, bottom + 34.0), MIDDLE, caption);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, values: &[f64]) -> Series {
        let (label, values) = (label.to_string(), values.to_vec());
        Series { label, values }
    }

    fn line_of(label: &str, points: &[(f64, f64)]) -> Line {
        let (label, points) = (label.to_string(), points.to_vec());
        Line { label, points }
    }

    fn assert_well_formed(svg: &str) {
        let s = svg.trim();
        assert!(s.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        assert!(s.ends_with("</svg>"), "{s}");
        assert!(!s.contains("NaN") && !s.contains("inf"), "{s}");
        assert_eq!(s.matches("<text").count(), s.matches("</text>").count());
    }

    fn height_of(svg: &str) -> f64 {
        let rest = &svg[svg.find(" height=\"").unwrap() + 9..];
        rest[..rest.find('"').unwrap()].parse().unwrap()
    }

    #[test]
    fn nice_ticks_use_1_2_5_steps() {
        assert_eq!(nice_ticks(7.3), [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_ticks(10.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(1500.0), [0.0, 500.0, 1000.0, 1500.0]);
        for degenerate in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(nice_ticks(degenerate), [0.0, 1.0]);
        }
        for max in [0.003, f64::MAX, 1e300, 1e-300, f64::MIN_POSITIVE / 1e10] {
            let ticks = nice_ticks(max);
            assert!(ticks.len() >= 2 && ticks.iter().all(|t| t.is_finite()));
            assert!(*ticks.last().unwrap() >= max, "{max}: {ticks:?}");
        }
    }

    #[test]
    fn numbers_have_at_most_three_significant_digits() {
        let cases = "0.25=0.25 12=12 1500=1500 1234.5=1230 999.9=1000 999999=1e6 1.5e6=1.5e6 \
                     0.000123=1.23e-4 0.001=0.001 -2.5=-2.5 0=0 1.797e308=1.8e308";
        for case in cases.split(' ') {
            let (input, want) = case.split_once('=').unwrap();
            assert_eq!(format_number(input.parse().unwrap()), want, "{input}");
        }
        assert_eq!(format_number(0.1 + 0.2), "0.3");
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
        // One median tick per non-empty series, drawn with a visible stroke.
        assert_eq!(
            svg.matches(r##"stroke="#222222" stroke-width="3""##)
                .count(),
            2
        );
        assert!(svg.contains(">empty</text>"));
        let many: Vec<Series> = (0..6).map(|i| series(&i.to_string(), &[1.0])).collect();
        assert!(height_of(&distribution_chart("t", "ms", &many)) > height_of(&svg));
    }

    #[test]
    fn labels_and_titles_are_escaped() {
        let svg = distribution_chart("<a & 'b'>", "\"u\"", &[series("x<y", &[1.0])]);
        assert_well_formed(&svg);
        assert!(svg.contains("&lt;a &amp; &apos;b&apos;&gt;"));
        assert!(svg.contains("&quot;u&quot;") && svg.contains("x&lt;y"));
        assert!(!svg.contains("<a ") && !svg.contains("x<y"));
        let bars = bar_chart("t", "&", &[("<b>".to_string(), 1.0, 0)]);
        assert!(bars.contains("&lt;b&gt;") && bars.contains(">1 &amp;</text>"));
        let lines = line_chart("t", "<x>", "<y>", &[line_of("<l>", &[(1.0, 1.0)])]);
        assert!(!lines.contains("<x>") && !lines.contains("<y>") && !lines.contains("<l>"));
    }

    #[test]
    fn empty_or_non_finite_input_says_no_data() {
        let nan_line = line_of("l", &[(f64::NAN, 1.0), (1.0, f64::INFINITY)]);
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
        for v in [0.0, f64::MAX, 1e-300, f64::MIN_POSITIVE / 1e10, -5.0] {
            assert_well_formed(&distribution_chart("t", "s", &[series("a", &[v])]));
            assert_well_formed(&distribution_chart("t", "s", &[series("a", &[v, v, v])]));
            assert_well_formed(&bar_chart("t", "s", &[("a".into(), v, 0)]));
            let line = [line_of("l", &[(v, v), (v, 0.0)])];
            assert_well_formed(&line_chart("t", "x", "y", &line));
        }
        let mixed = [series("a", &[f64::MAX, 1e-300, 0.0])];
        assert_well_formed(&distribution_chart("t", "s", &mixed));
    }

    #[test]
    fn line_chart_legend_lists_every_label() {
        let points = |i: f64| [(1.0, i), (4.0, 2.0 * i), (2.0, 0.5)];
        let lines: Vec<Line> = (0..10)
            .map(|i| line_of(&format!("rt-{i}"), &points(i as f64)))
            .collect();
        let svg = line_chart("Startup", "containers", "ms", &lines);
        assert_well_formed(&svg);
        for l in &lines {
            assert!(svg.contains(&format!(">{}</text>", l.label)), "{}", l.label);
        }
        assert_eq!(svg.matches("<polyline").count(), 10);
        assert_eq!(svg.matches("<circle").count(), 30);
        assert!(svg.contains(">containers</text>") && svg.contains(">ms</text>"));
        // The palette cycles: lines 0 and 8 share a colour (3 markers + 1 swatch each).
        assert_eq!(svg.matches(&format!("fill=\"{}\"", PALETTE[0])).count(), 8);
    }

    #[test]
    fn bar_chart_prints_each_value() {
        let bars = [(12.0, 0), (0.25, 1), (1500.0, 9)].map(|(v, c)| (format!("bar {v}"), v, c));
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
