//! Plots as PNG, drawn with `plotters` and an embedded font (DejaVu Sans, `assets/fonts`), so no system font
//! libraries are needed. One style for every figure: white background, titles, axis labels with units, a
//! colour-blind-safe palette (Okabe-Ito). The numbers behind each plot are written next to it as CSV.

mod histogram;

pub use histogram::before_after_histogram;

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::style::RGBColor;

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
#[error("plot {path}: {message}")]
pub struct PlotError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl PlotError {
    pub(crate) fn new(path: &Path, e: impl std::fmt::Display) -> PlotError {
        PlotError { path: path.into(), message: e.to_string() }
    }
}
