//! DelGrad's sweep figures (the reference's `sweep_plot.py`): test error against the number of parameters and
//! against the hidden size, one line per kind of network (W, WA, WD, WS), the median over seeds with the
//! quartile band, on a log error axis over 0.9-15 % (widened when a value falls outside). Where groups share a
//! kind and an x value (other swept values differ), the one with the lowest median validation error is drawn, as
//! the reference does.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{Area, Drawn, PlotError, chart_with, figure, integer_ticks, legend, line_marker, short_ticks};
use crate::io::write_atomic;
use crate::sweep::collect::{Group, Kind, Table};

/// The reference's colours and legend names.
fn style(kind: Kind) -> (RGBColor, &'static str) {
    match kind {
        Kind::W => (RGBColor(0x1f, 0x77, 0xb4), "w only"),
        Kind::WA => (RGBColor(0xff, 0x7f, 0x0e), "w & d_axo"),
        Kind::WD => (RGBColor(0xd6, 0x27, 0x28), "w & d_den"),
        Kind::WS => (RGBColor(0x94, 0x67, 0xbd), "w & d_syn"),
    }
}

/// One point of a line: x, and the test error's median and quartiles (in %).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    x: f64,
    median: f64,
    q25: f64,
    q75: f64,
}

/// The two x axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    Parameters,
    Hidden,
}

impl Axis {
    fn name(self) -> &'static str {
        match self {
            Axis::Parameters => "number_of_parameters",
            Axis::Hidden => "hidden_size",
        }
    }

    fn x(self, g: &Group) -> f64 {
        match self {
            Axis::Parameters => g.stats(|r| r.number_of_parameters as f64).quantiles[2],
            Axis::Hidden => g.runs[0].hidden as f64,
        }
    }
}

/// The lines of one panel, per kind present, each sorted by x.
fn lines(table: &Table, axis: Axis) -> Vec<(Kind, Vec<Point>)> {
    let mut kinds: Vec<Kind> = table.groups.iter().map(|g| g.runs[0].kind).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| {
            let mut best: Vec<(f64, f64, &Group)> = Vec::new(); // (x, median validation error, group)
            for g in table.groups.iter().filter(|g| g.runs[0].kind == kind) {
                let (x, val) = (axis.x(g), g.stats(|r| r.final_val_err).quantiles[2]);
                match best.iter_mut().find(|b| b.0 == x) {
                    Some(b) if val < b.1 => *b = (x, val, g),
                    Some(_) => {}
                    None => best.push((x, val, g)),
                }
            }
            best.sort_by(|a, b| a.0.total_cmp(&b.0));
            let points = best
                .iter()
                .map(|&(x, _, g)| {
                    let q = g.stats(|r| r.final_test_err).quantiles;
                    Point { x, median: 100.0 * q[2], q25: 100.0 * q[1], q75: 100.0 * q[3] }
                })
                .collect();
            (kind, points)
        })
        .collect()
}

/// Writes the figure to `png` and its numbers to the `.csv` beside it; returns the PNG's path.
pub fn sweep_errors(table: &Table, png: &Path) -> Result<PathBuf, PlotError> {
    let panels = [Axis::Parameters, Axis::Hidden].map(|a| (a, lines(table, a)));
    let mut csv = String::from("axis,kind,x,test_err_median_percent,test_err_25_percent,test_err_75_percent\n");
    for (axis, lines) in &panels {
        for (kind, points) in lines {
            for p in points {
                let _ = writeln!(csv, "{},{},{},{},{},{}", axis.name(), kind.name(), p.x, p.median, p.q25, p.q75);
            }
        }
    }
    let csv_path = png.with_extension("csv");
    write_atomic(&csv_path, csv.as_bytes()).map_err(|e| PlotError::new(&csv_path, e))?;
    figure(png, (1400, 560), |root| {
        let halves = root.split_evenly((1, 2));
        for (area, (axis, lines)) in halves.iter().zip(&panels) {
            draw_panel(area, *axis, lines)?;
        }
        Ok(())
    })?;
    Ok(png.to_path_buf())
}

fn draw_panel(area: &Area, axis: Axis, lines: &[(Kind, Vec<Point>)]) -> Drawn {
    let points = || lines.iter().flat_map(|(_, p)| p.iter());
    let (mut lo, mut hi) = (0.9f64, 15.0f64);
    for p in points() {
        for v in [p.q25, p.median, p.q75].into_iter().filter(|v| *v > 0.0) {
            lo = lo.min(v * 0.8);
            hi = hi.max(v * 1.25);
        }
    }
    let (x_lo, x_hi) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.x), b.max(p.x)));
    let pad = ((x_hi - x_lo) * 0.05).max(1.0);
    let (title, x_desc) = match axis {
        Axis::Parameters => ("Test error against parameters", "# parameters (median over seeds)"),
        Axis::Hidden => ("Test error against hidden size", "# hidden neurons"),
    };
    let y_ticks = |v: &f64| short_ticks(v);
    let ticks = super::Ticks { x: Some(&integer_ticks), y: Some(&y_ticks) };
    let mut chart =
        chart_with(area, title, ((x_lo - pad)..(x_hi + pad), x_desc), ((lo..hi).log_scale(), "test error [%]"), ticks)?;
    // An error of 0 sits on the axis floor of the log scale.
    let clamp = |v: f64| v.max(lo);
    for (kind, points) in lines {
        let (colour, label) = style(*kind);
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.x, clamp(p.q75)))
            .chain(points.iter().rev().map(|p| (p.x, clamp(p.q25))))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.3).filled())))?;
        let line = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.iter().map(|p| (p.x, clamp(p.median))), line))?
            .label(label)
            .legend(line_marker(line));
        chart.draw_series(points.iter().map(|p| Circle::new((p.x, clamp(p.median)), 4, colour.filled())))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}
