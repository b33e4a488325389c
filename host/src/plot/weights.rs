//! Parameters of a network: weight histograms and weight matrices (heat maps) per NeuronLayer, delay
//! distributions per delay layer.

use std::path::Path;

use plotters::prelude::*;

use super::histogram::{Labels, histograms};
use super::{Area, Drawn, PALETTE, PlotError, SIZE, Ticks, chart_with, figure, integer_ticks};
use crate::io::write_npy_f64;
use crate::model::Matrix;

/// Writes `<stem>.png`, a histogram of a layer's weights, and `<stem>.csv` with the bins.
pub fn weight_histogram(stem: &Path, title: &str, weights: &Matrix) -> Result<(), PlotError> {
    let labels = Labels { title, x_desc: "weight (model units)", y_desc: "synapses", missing: "not finite" };
    histograms(stem, labels, &[("weights", &weights.data)], Some(("zero", 0.0)))
}

/// Writes `<stem>.png`, a histogram of a delay layer's effective delays (after positivity and sharing), and
/// `<stem>.csv` with the bins.
pub fn delay_distribution(stem: &Path, title: &str, delays: &Matrix) -> Result<(), PlotError> {
    let labels = Labels { title, x_desc: "delay (model time units)", y_desc: "delays", missing: "not finite" };
    histograms(stem, labels, &[("effective delays", &delays.data)], None)
}

/// A diverging colour: blue for `-1`, white for 0, vermillion for `+1`.
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let end = if v < 0.0 { PALETTE[0] } else { PALETTE[3] };
    let mix = |a: u8| (255.0 + v.abs() * (f64::from(a) - 255.0)).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

/// Draws the heat map with a colour bar on the right.
fn draw_matrix(area: &Area, title: &str, weights: &Matrix) -> Drawn {
    let scale = weights.data.iter().filter(|w| w.is_finite()).fold(0.0f64, |m, w| m.max(w.abs())).max(1e-12);
    let (main, bar) = area.split_horizontally(area.dim_in_pixel().0 as i32 - 110);
    let (cols, rows) = (weights.cols as f64, weights.rows as f64);
    let ticks = Ticks { x: Some(&integer_ticks), y: Some(&integer_ticks) };
    let (x, y) = ((-0.5..cols - 0.5, "neuron"), (-0.5..rows - 0.5, "input"));
    let mut chart = chart_with(&main, title, x, y, ticks)?;
    chart.draw_series((0..weights.rows).flat_map(|i| {
        (0..weights.cols).map(move |j| {
            let (x, y) = (j as f64 - 0.5, i as f64 - 0.5);
            Rectangle::new([(x, y), (x + 1.0, y + 1.0)], diverging(weights.get(i, j) / scale).filled())
        })
    }))?;
    let mut key = ChartBuilder::on(&bar)
        .margin_top(50)
        .margin_bottom(62)
        .margin_right(12)
        .y_label_area_size(58)
        .build_cartesian_2d(0.0..1.0, -scale..scale)?;
    key.configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .disable_y_mesh()
        .y_desc("weight")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    let steps = 100;
    key.draw_series((0..steps).map(|k| {
        let (a, b) =
            (-scale + 2.0 * scale * k as f64 / steps as f64, -scale + 2.0 * scale * (k + 1) as f64 / steps as f64);
        Rectangle::new([(0.0, a), (1.0, b)], diverging((a + b) / 2.0 / scale).filled())
    }))?;
    Ok(())
}

/// Writes `<stem>.png`, a heat map of a layer's weights `[inputs, neurons]`, and `<stem>.npy` with them.
pub fn weight_matrix(stem: &Path, title: &str, weights: &Matrix) -> Result<(), PlotError> {
    figure(stem, SIZE, |area| draw_matrix(area, title, weights))?;
    let npy = stem.with_extension("npy");
    write_npy_f64(&npy, &[weights.rows, weights.cols], &weights.data).map_err(|e| PlotError::new(&npy, e))
}
