//! The SVG every view is drawn into, written by hand: each mark is one element carrying
//! the benchmark id and the exact value it stands for (`data-id`, `data-value`) and a
//! `<title>` (hover text in any viewer), which a plotting library's backend would not let
//! us attach. Also the shared pieces: frames with axes and grid, facet grids, legends.

use std::fmt::Write;

use super::axis::Scale;
use super::model::number;
use crate::units::Quantity;

/// Width of every picture, in pixels.
pub const WIDTH: f64 = 980.0;

/// Categorical colours (Tableau 10): distinct for the first ten series, then repeated.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Growth (worse) and shrinkage (better), as in the terminal's colours.
pub const GROWTH: &str = "#d62728";
/// See [`GROWTH`].
pub const SHRINK: &str = "#2ca02c";
/// No change.
pub const SAME: &str = "#8c8c8c";

/// The colour of series `i`.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Text escaped for SVG/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to `max` characters with an ellipsis.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Approximate width of `s` at `size` px in a sans-serif face: enough to lay out margins.
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.58
}

const STYLE: &str = "text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',\
Arial,sans-serif;fill:#222}.t{font-size:17px;font-weight:600}.st{font-size:12px;fill:#555}\
.tk{font-size:11px;fill:#555}.al{font-size:12px;fill:#333}.lg{font-size:12px}\
.cap{font-size:11px;fill:#666}.cell{font-size:11px}.grid{stroke:#e6e6e6}\
.frame{fill:none;stroke:#999}.mark:hover{stroke:#000;stroke-width:1.5}";

/// An SVG document being written.
pub struct Svg {
    out: String,
    /// Its height.
    pub height: f64,
}

impl Svg {
    /// A blank white picture of `height` px titled `title` (for screen readers too).
    pub fn new(height: f64, title: &str, view: &str) -> Svg {
        let mut out = String::with_capacity(64 * 1024);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" class=\"benchmem-plot\" \
             data-view=\"{view}\"><style>{STYLE}</style>\
             <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>",
            w = WIDTH,
            h = height.ceil(),
            t = esc(title),
        );
        Svg {
            out,
            height: height.ceil(),
        }
    }

    /// Appends raw markup.
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Text at (x, y); `anchor` is start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, s: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" class=\"{class}\">{}</text>",
            esc(s)
        );
    }

    /// Text turned 90° counter-clockwise about (x, y).
    pub fn vtext(&mut self, x: f64, y: f64, class: &str, s: &str) {
        let _ = write!(
            self.out,
            "<text transform=\"translate({x:.1},{y:.1}) rotate(-90)\" text-anchor=\"middle\" \
             class=\"{class}\">{}</text>",
            esc(s)
        );
    }

    /// A line.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = write!(
            self.out,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" {style}/>"
        );
    }

    /// The title, and a subtitle line under it.
    pub fn heading(&mut self, title: &str, subtitle: &str) {
        self.text(20.0, 28.0, "start", "t", title);
        self.text(20.0, 47.0, "start", "st", subtitle);
    }

    /// Caption lines at the bottom.
    pub fn caption(&mut self, lines: &[String]) {
        let mut y = self.height - 10.0 - 15.0 * (lines.len().saturating_sub(1)) as f64;
        for l in lines {
            self.text(20.0, y, "start", "cap", l);
            y += 15.0;
        }
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// What one mark stands for, written as its data attributes and hover text.
pub struct Mark<'a> {
    /// Legend series it belongs to (toggled together), if any.
    pub series: Option<usize>,
    /// Benchmark id.
    pub id: &'a str,
    /// The run (or pivot value) it comes from.
    pub run: &'a str,
    /// The exact value drawn.
    pub value: f64,
    /// Hover text, one item per line.
    pub tip: &'a str,
}

impl Mark<'_> {
    /// ` class="mark" data-…` attributes.
    pub fn attrs(&self) -> String {
        let series = self
            .series
            .map_or_else(String::new, |s| format!(" data-series=\"{s}\""));
        format!(
            " class=\"mark\"{series} data-id=\"{}\" data-run=\"{}\" data-value=\"{}\"",
            esc(self.id),
            esc(self.run),
            number(self.value)
        )
    }

    /// The `<title>` child.
    pub fn title(&self) -> String {
        format!("<title>{}</title>", esc(self.tip))
    }
}

/// A plotting area and its two scales, already mapped onto its pixels.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Frame {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.left + self.w
    }
    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.top + self.h
    }
}

/// Which parts of the axes a frame shows.
pub struct Axes<'a> {
    /// x scale and quantity, `None` for a categorical x (drawn by the view).
    pub x: Option<(&'a Scale, Quantity)>,
    /// y scale and quantity, `None` for a categorical y.
    pub y: Option<(&'a Scale, Quantity)>,
    /// x-axis title (empty: none).
    pub x_label: &'a str,
    /// y-axis title (empty: none).
    pub y_label: &'a str,
    /// Panel title above the frame (empty: none).
    pub panel: &'a str,
}

/// Grid, frame, tick labels and axis titles of `f`.
pub fn axes(svg: &mut Svg, f: &Frame, a: &Axes<'_>) {
    if let Some((s, q)) = a.x {
        for (v, label) in s.ticks(q) {
            let x = s.px(v);
            svg.line(x, f.top, x, f.bottom(), "class=\"grid\"");
            svg.text(x, f.bottom() + 15.0, "middle", "tk", &label);
        }
    }
    if let Some((s, q)) = a.y {
        for (v, label) in s.ticks(q) {
            let y = s.px(v);
            svg.line(f.left, y, f.right(), y, "class=\"grid\"");
            svg.text(f.left - 6.0, y + 4.0, "end", "tk", &label);
        }
    }
    let _ = write!(
        svg.out,
        "<rect class=\"frame\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
        f.left, f.top, f.w, f.h
    );
    if !a.x_label.is_empty() {
        svg.text(
            f.left + f.w / 2.0,
            f.bottom() + 34.0,
            "middle",
            "al",
            a.x_label,
        );
    }
    if !a.y_label.is_empty() {
        svg.vtext(f.left - 62.0, f.top + f.h / 2.0, "al", a.y_label);
    }
    if !a.panel.is_empty() {
        svg.text(f.left + f.w / 2.0, f.top - 7.0, "middle", "al", a.panel);
    }
}

/// One legend entry: its series number (what toggling hides), label and colour.
pub struct Entry {
    /// Series number shared with the marks' `data-series`.
    pub series: usize,
    /// What it says.
    pub label: String,
    /// Its swatch colour.
    pub color: String,
}

/// Legend entries in a column starting at (x, y); each entry toggles its series in HTML.
pub fn legend(svg: &mut Svg, x: f64, y: f64, title: &str, entries: &[Entry]) {
    let mut y = y;
    if !title.is_empty() {
        svg.text(x, y, "start", "al", title);
        y += 18.0;
    }
    for e in entries {
        let _ = write!(
            svg.out,
            "<g class=\"legend-item\" data-series=\"{}\" style=\"cursor:pointer\">\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"lg\">{}</text><title>{}</title></g>",
            e.series,
            y - 10.0,
            e.color,
            x + 18.0,
            y,
            esc(&clip(&e.label, 28)),
            esc(&e.label),
        );
        y += 18.0;
    }
}

/// Where `n` panels go inside `area` (wrapping at three a row), each leaving `margin`
/// (left, top, right, bottom) for its own ticks and titles.
pub fn facet_grid(n: usize, area: Frame, margin: (f64, f64, f64, f64)) -> Vec<Frame> {
    let cols = n.clamp(1, 3);
    let rows = n.div_ceil(cols).max(1);
    let cw = area.w / cols as f64;
    let ch = area.h / rows as f64;
    (0..n)
        .map(|i| {
            let (c, r) = (i % cols, i / cols);
            Frame {
                left: area.left + c as f64 * cw + margin.0,
                top: area.top + r as f64 * ch + margin.1,
                w: cw - margin.0 - margin.2,
                h: ch - margin.1 - margin.3,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(esc("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&#39;\u{fffd}");
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    #[test]
    fn marks_carry_exact_values() {
        let m = Mark {
            series: Some(2),
            id: "m.py::t[1]",
            run: "base",
            value: 1_000_001.0,
            tip: "x",
        };
        assert_eq!(
            m.attrs(),
            " class=\"mark\" data-series=\"2\" data-id=\"m.py::t[1]\" data-run=\"base\" \
             data-value=\"1000001\""
        );
    }
}
