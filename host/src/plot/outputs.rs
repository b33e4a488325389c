//! Spike times of a network's layers: output-time histograms per true class, output times sorted per class,
//! the correct neuron's lead over the wrong ones, and the hidden layers' raster and histogram.

use std::path::Path;

use plotters::prelude::*;

use super::histogram::{Binned, Labels, draw_histograms, histograms};
use super::{
    Area, Csv, Drawn, PlotError, SIZE, Ticks, box_marker, chart, chart_with, colour, figure, integer_ticks, legend,
    padded_range,
};
use crate::model::Matrix;
use crate::plot::Classified;

/// The time axis of every spike-time plot.
const TIME: &str = "spike time (model time units)";

/// The rows of `times` whose true class is `class`.
fn rows_of(times: &Matrix, c: &Classified, class: usize) -> Vec<usize> {
    (0..times.rows).filter(|&r| c.labels[r] == class).collect()
}

/// Each output neuron's times over the samples of true class `class`.
fn class_series(outputs: &Matrix, c: &Classified, class: usize) -> Vec<(String, Vec<f64>)> {
    let rows = rows_of(outputs, c, class);
    (0..outputs.cols)
        .map(|j| (format!("neuron {j} ({})", c.name(j)), rows.iter().map(|&r| outputs.get(r, j)).collect()))
        .collect()
}

fn as_series(owned: &[(String, Vec<f64>)]) -> Vec<(&str, &[f64])> {
    owned.iter().map(|(l, v)| (l.as_str(), v.as_slice())).collect()
}

/// Writes `<stem>.png` with one panel per true class, each a histogram of every output neuron's spike times,
/// and `<stem>.csv` (`bin_start,bin_end,class<c>_neuron<j>...`, common bins).
pub fn output_histograms(stem: &Path, outputs: &Matrix, c: &Classified) -> Result<(), PlotError> {
    let n = c.n_classes();
    let (lo, hi) = padded_range(outputs.data.iter().copied());
    let per_class: Vec<Vec<(String, Vec<f64>)>> = (0..n).map(|k| class_series(outputs, c, k)).collect();
    let binned: Vec<Binned> = per_class.iter().map(|s| Binned::on(&as_series(s), lo, hi)).collect();
    figure(stem, (SIZE.0, SIZE.1 * n as u32 * 3 / 4), |area| {
        for (k, panel) in area.split_evenly((n, 1)).iter().enumerate() {
            let title = format!("Output spike times, true class {}", c.name(k));
            let labels = Labels { title: &title, x_desc: TIME, y_desc: "samples", missing: "no spike" };
            draw_histograms(panel, labels, &as_series(&per_class[k]), &binned[k], None)?;
        }
        Ok(())
    })?;
    let mut columns = vec!["bin_start".to_string(), "bin_end".to_string()];
    for k in 0..n {
        columns.extend((0..outputs.cols).map(|j| format!("class{k}_neuron{j}")));
    }
    let mut csv = Csv::new(&columns.iter().map(String::as_str).collect::<Vec<_>>());
    let rows: Vec<Vec<Vec<f64>>> = binned.iter().map(Binned::rows).collect();
    for i in 0..rows.first().map_or(0, Vec::len) {
        let mut row = rows[0][i][..2].to_vec();
        for r in &rows {
            row.extend_from_slice(&r[i][2..]);
        }
        csv.row(&row);
    }
    csv.write(stem)
}

/// Draws a histogram of the correct output neuron's times against the other output neurons' times.
pub(crate) fn draw_correct_wrong(area: &Area, outputs: &Matrix, c: &Classified) -> Drawn {
    let (mut correct, mut wrong) = (Vec::new(), Vec::new());
    for r in 0..outputs.rows {
        for j in 0..outputs.cols {
            if j == c.labels[r] { &mut correct } else { &mut wrong }.push(outputs.get(r, j));
        }
    }
    let series = [("correct neuron", correct.as_slice()), ("other neurons", wrong.as_slice())];
    let labels = Labels { title: "Output spike times", x_desc: TIME, y_desc: "spikes", missing: "no spike" };
    draw_histograms(area, labels, &series, &Binned::new(&series, None), None)
}

/// Writes `<stem>.png` with one panel per true class: every output neuron's time over that class's samples,
/// sorted by their earliest output spike; `<stem>.csv` (`class,rank,sample,t_0,...`).
pub fn sorted_output_times(stem: &Path, outputs: &Matrix, c: &Classified) -> Result<(), PlotError> {
    let n = c.n_classes();
    let earliest = |r: usize| outputs.row(r).iter().copied().fold(f64::INFINITY, f64::min);
    let sorted: Vec<Vec<usize>> = (0..n)
        .map(|k| {
            let mut rows = rows_of(outputs, c, k);
            rows.sort_by(|&a, &b| earliest(a).total_cmp(&earliest(b)));
            rows
        })
        .collect();
    let (lo, hi) = padded_range(outputs.data.iter().copied());
    figure(stem, (SIZE.0, SIZE.1 * n as u32 * 3 / 4), |area| {
        for (k, panel) in area.split_evenly((n, 1)).iter().enumerate() {
            let title = format!("Output times sorted by the earliest spike, true class {}", c.name(k));
            let x_max = sorted[k].len().max(1) as f64;
            let mut chart = chart(panel, &title, 0.0..x_max, lo..hi, "sample (sorted)", TIME)?;
            for j in 0..outputs.cols {
                let col = colour(j);
                let points = sorted[k]
                    .iter()
                    .enumerate()
                    .map(|(rank, &r)| (rank as f64, outputs.get(r, j)))
                    .filter(|p| p.1.is_finite());
                chart
                    .draw_series(points.map(|p| Circle::new(p, 2, col.filled())))?
                    .label(format!("neuron {j} ({})", c.name(j)))
                    .legend(box_marker(col.filled()));
            }
            legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }
        Ok(())
    })?;
    let mut columns = vec!["class".to_string(), "rank".into(), "sample".into()];
    columns.extend((0..outputs.cols).map(|j| format!("t_{j}")));
    let mut csv = Csv::new(&columns.iter().map(String::as_str).collect::<Vec<_>>());
    for (k, rows) in sorted.iter().enumerate() {
        for (rank, &r) in rows.iter().enumerate() {
            let mut row = vec![k as f64, rank as f64, r as f64];
            row.extend_from_slice(outputs.row(r));
            csv.row(&row);
        }
    }
    csv.write(stem)
}

/// Writes `<stem>.png`, histograms per true class of the correct neuron's time minus the earliest wrong
/// neuron's time (negative = correct and decided), and `<stem>.csv` with the bins.
pub fn time_differences(stem: &Path, outputs: &Matrix, c: &Classified) -> Result<(), PlotError> {
    let n = c.n_classes();
    let diff = |r: usize| {
        let l = c.labels[r];
        let wrong = outputs.row(r).iter().enumerate().filter(|(j, _)| *j != l).map(|(_, t)| *t);
        outputs.get(r, l) - wrong.fold(f64::INFINITY, f64::min)
    };
    let owned: Vec<(String, Vec<f64>)> = (0..n)
        .map(|k| (format!("class {}", c.name(k)), rows_of(outputs, c, k).into_iter().map(diff).collect()))
        .collect();
    let labels = Labels {
        title: "Correct minus earliest wrong output time",
        x_desc: "time difference (model time units)",
        y_desc: "samples",
        missing: "undefined (silent neurons)",
    };
    histograms(stem, labels, &as_series(&owned), Some(("equal times", 0.0)))
}

/// Writes `<stem>.png`, a raster of a hidden layer's spike times (each neuron's row split by the samples' true
/// class), and `<stem>.csv` (`sample,label,neuron,time`, spikes only).
pub fn hidden_raster(stem: &Path, title: &str, times: &Matrix, c: &Classified) -> Result<(), PlotError> {
    let n = c.n_classes();
    let offset = |class: usize| (class as f64 + 1.0) / (n as f64 + 1.0) - 0.5;
    let (lo, hi) = padded_range(times.data.iter().copied());
    figure(stem, SIZE, |area| {
        let y = -0.5..times.cols as f64 - 0.5;
        let ticks = Ticks { x: None, y: Some(&integer_ticks) };
        let mut chart = chart_with(area, title, (lo..hi, TIME), (y, "neuron"), ticks)?;
        for k in 0..n {
            let col = colour(k);
            let rows = rows_of(times, c, k);
            let points = rows.iter().flat_map(|&r| {
                (0..times.cols).map(move |j| (times.get(r, j), j as f64 + offset(k))).filter(|p| p.0.is_finite())
            });
            chart
                .draw_series(points.map(|p| Pixel::new(p, col.mix(0.6))))?
                .label(format!("true class {}", c.name(k)))
                .legend(box_marker(col.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    let mut csv = Csv::new(&["sample", "label", "neuron", "time"]);
    for r in 0..times.rows {
        for (j, &t) in times.row(r).iter().enumerate().filter(|(_, t)| t.is_finite()) {
            csv.row(&[r as f64, c.labels[r] as f64, j as f64, t]);
        }
    }
    csv.write(stem)
}

/// Writes `<stem>.png`, histograms of all of a hidden layer's spike times per true class, and `<stem>.csv`.
pub fn hidden_histogram(stem: &Path, title: &str, times: &Matrix, c: &Classified) -> Result<(), PlotError> {
    let owned: Vec<(String, Vec<f64>)> = (0..c.n_classes())
        .map(|k| {
            let values = rows_of(times, c, k).into_iter().flat_map(|r| times.row(r).to_vec()).collect();
            (format!("true class {}", c.name(k)), values)
        })
        .collect();
    let labels = Labels { title, x_desc: TIME, y_desc: "spikes", missing: "no spike" };
    histograms(stem, labels, &as_series(&owned), None)
}
