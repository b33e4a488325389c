//! What goes into a network: a grid of the first samples' input times, each sample as an image where its inputs
//! form a square (MNIST's pixels), else as a strip. Early spikes are white, late ones dark, no spike black.

use std::path::Path;

use plotters::prelude::*;

use super::{Drawn, PlotError, figure};

/// Samples per row of the grid.
const COLUMNS: usize = 8;
/// Pixels per image cell (image and label).
const CELL: u32 = 96;
/// Height of the title band.
const TITLE: u32 = 40;

/// Writes `<stem>.png`: the samples of `times` (row-major, `n_inputs` per sample) in a grid, each captioned with
/// its label.
pub fn input_grid(stem: &Path, title: &str, times: &[f64], n_inputs: usize, labels: &[usize]) -> Result<(), PlotError> {
    let samples = times.len().checked_div(n_inputs).unwrap_or(0);
    let rows = samples.div_ceil(COLUMNS).max(1);
    let size = (COLUMNS as u32 * CELL, TITLE + rows as u32 * CELL);
    figure(stem, size, |area| draw(area, title, times, n_inputs, labels, samples))
}

/// The side of the square the inputs form, if they do and are an image (256 -> 16, 784 -> 28; not 4).
fn square_side(n: usize) -> Option<usize> {
    let side = (n as f64).sqrt().round() as usize;
    (side * side == n && n >= 16).then_some(side)
}

fn draw(area: &super::Area, title: &str, times: &[f64], n: usize, labels: &[usize], samples: usize) -> Drawn {
    let (top, grid) = area.split_vertically(TITLE);
    top.titled(title, ("sans-serif", 22))?;
    let finite = times.iter().copied().filter(|t| t.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    // Early = white, late = dark grey, no spike = black.
    let shade = |t: f64| {
        if !t.is_finite() {
            return BLACK;
        }
        let v = (255.0 - 180.0 * (t - lo) / span).round() as u8;
        RGBColor(v, v, v)
    };
    let (cols_px, rows_px) = match square_side(n) {
        Some(side) => (side, side),
        None => (n.max(1), 1),
    };
    let image = (CELL - 24) as f64;
    let pixel = (image / cols_px as f64).min(image / rows_px as f64);
    for s in 0..samples {
        let (x0, y0) = ((s % COLUMNS) as i32 * CELL as i32 + 12, (s / COLUMNS) as i32 * CELL as i32 + 4);
        for (k, &t) in times[s * n..(s + 1) * n].iter().enumerate() {
            let (px, py) = ((k % cols_px) as f64, (k / cols_px) as f64);
            let corner = |dx: f64, dy: f64| (x0 + ((px + dx) * pixel) as i32, y0 + ((py + dy) * pixel) as i32);
            grid.draw(&Rectangle::new([corner(0.0, 0.0), corner(1.0, 1.0)], shade(t).filled()))?;
        }
        let label = labels.get(s).map_or_else(String::new, |l| format!("label {l}"));
        let below = y0 + (rows_px as f64 * pixel) as i32 + 2;
        grid.draw(&Text::new(label, (x0 + 2, below), ("sans-serif", 14).into_font().color(&BLACK)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_inputs_are_images() {
        assert_eq!(square_side(256), Some(16));
        assert_eq!(square_side(784), Some(28));
        assert_eq!(square_side(4), None, "yin-yang's four inputs are no image");
        assert_eq!(square_side(16), Some(4));
        assert_eq!(square_side(5), None);
        assert_eq!(square_side(1), None);
    }
}
