//! Training curves: loss and accuracy over epochs, train and validation, with learning-rate changes and epochs
//! with weight bumps marked.

use std::path::Path;

use plotters::prelude::*;

use super::{
    Area, Csv, Drawn, PlotError, SIZE, Ticks, box_marker, chart, chart_with, colour, figure, legend, line_marker,
    short_ticks,
};

/// The history of a run, one entry per epoch (epoch 0 = before training).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curves {
    /// Epoch numbers.
    pub epochs: Vec<f64>,
    /// Mean training loss (NaN where there is none).
    pub train_loss: Vec<f64>,
    /// Training accuracy (0..1).
    pub train_accuracy: Vec<f64>,
    /// Validation loss.
    pub val_loss: Vec<f64>,
    /// Validation accuracy (0..1).
    pub val_accuracy: Vec<f64>,
    /// Learning rate of each epoch.
    pub learning_rate: Vec<f64>,
    /// Batches bumped in each epoch (NaN where unknown).
    pub bumped_batches: Vec<f64>,
    /// Training batches per epoch, if known: bumps are then drawn as the fraction of an epoch's batches.
    pub batches_per_epoch: Option<f64>,
}

impl Curves {
    /// Epochs whose learning rate differs from the previous epoch's (epoch 0 has none to differ from).
    fn rate_changes(&self) -> Vec<f64> {
        let rates: Vec<(f64, f64)> = self.epochs.iter().copied().zip(self.learning_rate.iter().copied()).collect();
        rates.windows(2).filter(|w| w[0].1 != w[1].1 && w[0].1.is_finite()).map(|w| w[1].0).collect()
    }

    /// Epochs with weight bumps.
    fn bump_epochs(&self) -> Vec<f64> {
        self.epochs.iter().zip(&self.bumped_batches).filter(|(_, b)| **b > 0.0).map(|(e, _)| *e).collect()
    }

    fn epoch_range(&self) -> std::ops::Range<f64> {
        let last = self.epochs.iter().copied().fold(1.0, f64::max);
        0.0..last
    }
}

/// Vertical lines at the learning-rate changes, from `lo` to `hi`.
fn rate_change_lines<Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    curves: &Curves,
    lo: f64,
    hi: f64,
) -> Drawn {
    let changes = curves.rate_changes();
    if changes.is_empty() {
        return Ok(());
    }
    let style = BLACK.mix(0.35).stroke_width(1);
    chart
        .draw_series(changes.iter().map(|&e| PathElement::new([(e, lo), (e, hi)], style)))?
        .label(format!("learning-rate change ({})", changes.len()))
        .legend(line_marker(style));
    Ok(())
}

/// Train and validation series (points where a value is missing are skipped).
fn series(epochs: &[f64], ys: &[f64], scale: f64) -> Vec<(f64, f64)> {
    epochs.iter().zip(ys).filter(|(_, y)| y.is_finite() && **y > 0.0).map(|(&e, &y)| (e, y * scale)).collect()
}

/// The loss panel (log scale).
pub(crate) fn draw_loss(area: &Area, curves: &Curves) -> Drawn {
    let all: Vec<f64> =
        curves.train_loss.iter().chain(&curves.val_loss).copied().filter(|x| x.is_finite() && *x > 0.0).collect();
    let (lo, hi) = all.iter().fold((f64::INFINITY, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
    let (lo, hi) = if all.is_empty() { (1e-3, 1.0) } else { (lo / 1.5, hi * 1.5) };
    let ticks = Ticks { x: None, y: Some(&short_ticks) };
    let y = (lo..hi).log_scale();
    let mut chart = chart_with(area, "Loss", (curves.epoch_range(), "epoch"), (y, "loss (log scale)"), ticks)?;
    rate_change_lines(&mut chart, curves, lo, hi)?;
    for (k, (name, ys)) in [("train", &curves.train_loss), ("validation", &curves.val_loss)].into_iter().enumerate() {
        let style = colour(k).stroke_width(2);
        chart
            .draw_series(LineSeries::new(series(&curves.epochs, ys, 1.0), style))?
            .label(name)
            .legend(line_marker(style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// The accuracy panel (percent), with bump epochs as triangles along the bottom.
pub(crate) fn draw_accuracy(area: &Area, curves: &Curves) -> Drawn {
    let mut chart = chart(area, "Accuracy", curves.epoch_range(), 0.0..100.0, "epoch", "accuracy (%)")?;
    rate_change_lines(&mut chart, curves, 0.0, 100.0)?;
    for (k, (name, ys)) in
        [("train", &curves.train_accuracy), ("validation", &curves.val_accuracy)].into_iter().enumerate()
    {
        let style = colour(k).stroke_width(2);
        let last = ys.iter().rev().find(|y| y.is_finite()).map_or(String::new(), |y| format!(" {:.2}%", 100.0 * y));
        chart
            .draw_series(LineSeries::new(series(&curves.epochs, ys, 100.0), style))?
            .label(format!("{name}{last}"))
            .legend(line_marker(style));
    }
    let bumps = curves.bump_epochs();
    if let (false, Some(batches)) = (bumps.is_empty(), curves.batches_per_epoch) {
        // Runs that bump in most epochs (chip runs) show how much, not just where.
        let style = colour(3).stroke_width(1);
        // Epochs without bumps count as 0 % (not as gaps, as the accuracy series' missing values do).
        let points = curves.epochs.iter().zip(&curves.bumped_batches).filter(|(_, b)| b.is_finite());
        chart
            .draw_series(LineSeries::new(points.map(|(&e, &b)| (e, 100.0 * b / batches)), style))?
            .label("batches bumped instead of stepped (%)")
            .legend(line_marker(style));
    } else if !bumps.is_empty() {
        let c = colour(3);
        chart
            .draw_series(bumps.iter().map(|&e| TriangleMarker::new((e, 2.0), 5, c.filled())))?
            .label(format!("epochs with weight bumps ({})", bumps.len()))
            .legend(box_marker(c.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::MiddleRight)
}

/// Writes `<stem>.png` (loss above accuracy) and `<stem>.csv` with the curves.
pub fn training_curves(stem: &Path, curves: &Curves) -> Result<(), PlotError> {
    figure(stem, (SIZE.0, 2 * SIZE.1), |area| {
        let panels = area.split_evenly((2, 1));
        draw_loss(&panels[0], curves)?;
        draw_accuracy(&panels[1], curves)
    })?;
    let mut csv = Csv::new(&[
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "learning_rate",
        "bumped_batches",
    ]);
    for i in 0..curves.epochs.len() {
        let at = |v: &Vec<f64>| v.get(i).copied().unwrap_or(f64::NAN);
        csv.row(&[
            curves.epochs[i],
            at(&curves.train_loss),
            at(&curves.train_accuracy),
            at(&curves.val_loss),
            at(&curves.val_accuracy),
            at(&curves.learning_rate),
            at(&curves.bumped_batches),
        ]);
    }
    csv.write(stem)
}
