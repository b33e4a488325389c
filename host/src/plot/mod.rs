//! Plots as PNG, drawn with `plotters` and an embedded font (DejaVu Sans, `assets/fonts`), so no system font
//! libraries are needed. One style for every figure: white background, titles, axis labels with units, a
//! colour-blind-safe palette (Okabe-Ito). The numbers behind each plot are written next to it (same stem) as CSV
//! or `.npy`.
//!
//! Each family of plots has its own module; a module's `draw_*` functions draw onto any drawing area (so that
//! [`summary`] can combine panels) and its public functions write one figure with its numbers. The shared
//! pieces are here: [`figure`] (a PNG with the standard background), [`chart`] (a titled chart with labelled
//! axes), [`legend`], [`Csv`], and histogram binning.

mod chip;
mod confusion;
mod curves;
mod histogram;
mod inputs;
mod outputs;
mod plane;
mod summary;
mod sweep;
mod weights;

pub use chip::{NeuronTimes, measured_vs_ideal, membrane_traces};
pub use confusion::confusion_matrix;
pub use curves::{Curves, training_curves};
pub use histogram::before_after_histogram;
pub use inputs::input_grid;
pub use outputs::{hidden_histogram, hidden_raster, output_histograms, sorted_output_times, time_differences};
pub use plane::{Classified, plane};
pub use summary::{SummaryPanels, summary};
pub use sweep::sweep_errors;
pub use weights::{delay_distribution, weight_histogram, weight_matrix};

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::RGBColor;

use crate::io::atomic::write_atomic;

/// Okabe-Ito colours: blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow, black.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// Figure size in pixels.
pub const SIZE: (u32, u32) = (800, 560);

/// Font sizes: titles, tick labels and legends, axis descriptions.
const TITLE_FONT: u32 = 24;
const LABEL_FONT: u32 = 15;
const AXIS_FONT: u32 = 17;

static FONT: Once = Once::new();

/// Registers the embedded font (once per process).
pub fn init() {
    FONT.call_once(|| {
        let font: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        // The font is valid TTF shipped with the crate; registration cannot fail for it.
        let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, font);
    });
}

/// A plot that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("plot {}", path.display())]
pub struct PlotError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong: a drawing error of plotters, or the file layer's.
    #[source]
    pub source: Box<dyn Error + Send + Sync>,
}

impl PlotError {
    pub(crate) fn new(path: &Path, e: impl Into<Box<dyn Error + Send + Sync>>) -> PlotError {
        PlotError { path: path.into(), source: e.into() }
    }
}

/// A drawing area on a bitmap.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A chart with cartesian coordinates on a bitmap.
pub(crate) type Chart<'a, 'b, X, Y> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<X, Y>>;

/// The result of drawing onto an area.
pub(crate) type Drawn = Result<(), Box<dyn Error + Send + Sync>>;

/// The colour of class or neuron `i`.
pub(crate) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Draws `<stem>.png` of `size` pixels: a white background, then `draw`.
pub(crate) fn figure(stem: &Path, size: (u32, u32), draw: impl FnOnce(&Area) -> Drawn) -> Result<(), PlotError> {
    init();
    let png = stem.with_extension("png");
    let root = BitMapBackend::new(&png, size).into_drawing_area();
    let result = root.fill(&WHITE).map_err(Into::into).and_then(|()| draw(&root));
    result.and_then(|()| root.present().map_err(Into::into)).map_err(|e| PlotError::new(&png, e))
}

/// Tick-label formatters of a chart's axes (None: plotters' default).
pub(crate) struct Ticks<'f, XV, YV> {
    /// The x axis.
    pub x: Option<&'f dyn Fn(&XV) -> String>,
    /// The y axis.
    pub y: Option<&'f dyn Fn(&YV) -> String>,
}

impl<XV, YV> Default for Ticks<'_, XV, YV> {
    fn default() -> Self {
        Ticks { x: None, y: None }
    }
}

/// Labels only integer ticks (for axes of neurons, inputs or classes, whose cells are centred on integers).
pub(crate) fn integer_ticks(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round()) } else { String::new() }
}

/// A tick value to three significant digits, without float noise (for log axes).
pub(crate) fn short_ticks(v: &f64) -> String {
    if *v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let p = 10f64.powi(2 - v.abs().log10().floor() as i32);
    format!("{}", (v * p).round() / p)
}

/// A chart on `area` with a title, a light mesh and axis descriptions (with units).
pub(crate) fn chart<'a, 'b, X, Y>(
    area: &'a Area<'b>,
    title: &str,
    x: X,
    y: Y,
    x_desc: &str,
    y_desc: &str,
) -> Result<Chart<'a, 'b, X::CoordDescType, Y::CoordDescType>, Box<dyn Error + Send + Sync>>
where
    X: AsRangedCoord,
    Y: AsRangedCoord,
    X::CoordDescType: ValueFormatter<X::Value>,
    Y::CoordDescType: ValueFormatter<Y::Value>,
{
    chart_with(area, title, (x, x_desc), (y, y_desc), Ticks::default())
}

/// [`chart`] with tick-label formatters; each axis is given as (range, description).
pub(crate) fn chart_with<'a, 'b, X, Y>(
    area: &'a Area<'b>,
    title: &str,
    (x, x_desc): (X, &str),
    (y, y_desc): (Y, &str),
    ticks: Ticks<X::Value, Y::Value>,
) -> Result<Chart<'a, 'b, X::CoordDescType, Y::CoordDescType>, Box<dyn Error + Send + Sync>>
where
    X: AsRangedCoord,
    Y: AsRangedCoord,
    X::CoordDescType: ValueFormatter<X::Value>,
    Y::CoordDescType: ValueFormatter<Y::Value>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", TITLE_FONT))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(68)
        .build_cartesian_2d(x, y)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", AXIS_FONT))
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.12));
    if let Some(f) = ticks.x {
        mesh.x_label_formatter(f);
    }
    if let Some(f) = ticks.y {
        mesh.y_label_formatter(f);
    }
    mesh.draw()?;
    Ok(chart)
}

/// Draws the legend of a chart's labelled series.
pub(crate) fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut Chart<'a, 'b, X, Y>,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font(("sans-serif", LABEL_FONT))
        .position(position)
        .draw()?;
    Ok(())
}

/// The legend marker of a filled series (bars, points).
pub(crate) fn box_marker(style: ShapeStyle) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], style)
}

/// The legend marker of a line series.
pub(crate) fn line_marker(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style)
}

/// Text of a CSV file: a header, then one row of numbers per line (`inf`, `NaN` as Rust prints them).
pub(crate) struct Csv {
    text: String,
}

impl Csv {
    /// A CSV with these column names.
    pub(crate) fn new(columns: &[&str]) -> Csv {
        Csv { text: columns.join(",") + "\n" }
    }

    /// Appends a row.
    pub(crate) fn row(&mut self, values: &[f64]) {
        let mut first = true;
        for v in values {
            if !first {
                self.text.push(',');
            }
            first = false;
            let _ = write!(self.text, "{v}");
        }
        self.text.push('\n');
    }

    /// Writes `<stem>.csv`.
    pub(crate) fn write(&self, stem: &Path) -> Result<(), PlotError> {
        let path = stem.with_extension("csv");
        write_atomic(&path, self.text.as_bytes()).map_err(|e| PlotError::new(&path, e))
    }
}

/// A range covering `xs` with a small margin (a unit range around 0 if there is nothing finite).
pub(crate) fn padded_range(xs: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = xs
        .into_iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 1e-2 };
    (lo - 0.03 * span, hi + 0.03 * span)
}

/// Equal-width bins over `[lo, hi)`: counts of the finite `xs` (values at `hi` go to the last bin).
pub(crate) fn bin_counts(xs: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<u32> {
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u32; bins];
    for &x in xs.iter().filter(|x| x.is_finite()) {
        let i = ((x - lo) / width).floor();
        if i >= 0.0 {
            counts[(i as usize).min(bins - 1)] += 1;
        }
    }
    counts
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    /// The size of a PNG and the variance of its decoded bytes.
    pub(crate) fn png_size_and_variance(path: &Path) -> ((u32, u32), f64) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        let mean = buf.iter().map(|&v| f64::from(v)).sum::<f64>() / buf.len() as f64;
        let variance = buf.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / buf.len() as f64;
        ((info.width, info.height), variance)
    }
}
