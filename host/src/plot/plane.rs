//! The input plane of a two-dimensional data set (Yin-Yang): every sample at its (x, y), coloured by the
//! predicted class, wrong predictions crossed.

use std::path::Path;

use plotters::prelude::*;

use super::{Area, Csv, Drawn, PlotError, SIZE, box_marker, chart, colour, figure, legend, line_marker, padded_range};

/// Samples with their true and predicted classes.
#[derive(Clone, Copy, Debug)]
pub struct Classified<'a> {
    /// True class of each sample.
    pub labels: &'a [usize],
    /// Predicted class of each sample (-1 = no prediction: the selected neuron did not spike).
    pub predictions: &'a [i64],
    /// Class names by label.
    pub class_names: &'a [String],
}

impl Classified<'_> {
    /// Fraction of correct predictions.
    pub fn accuracy(&self) -> f64 {
        let correct = self.labels.iter().zip(self.predictions).filter(|(l, p)| **l as i64 == **p).count();
        correct as f64 / self.labels.len().max(1) as f64
    }

    /// The name of class `c`.
    pub(crate) fn name(&self, c: usize) -> String {
        self.class_names.get(c).cloned().unwrap_or_else(|| format!("class {c}"))
    }

    /// Number of classes.
    pub(crate) fn n_classes(&self) -> usize {
        self.class_names.len().max(self.labels.iter().map(|l| l + 1).max().unwrap_or(0))
    }
}

/// Draws the plane: points coloured by prediction, wrong ones crossed.
pub(crate) fn draw_plane(area: &Area, title: &str, xy: &[(f64, f64)], c: &Classified) -> Drawn {
    let (x0, x1) = padded_range(xy.iter().map(|p| p.0));
    let (y0, y1) = padded_range(xy.iter().map(|p| p.1));
    let title = format!("{title}: accuracy {:.2}%", 100.0 * c.accuracy());
    let mut chart = chart(area, &title, x0..x1, y0..y1, "x (input 0, scaled to [0, 1])", "y (input 1)")?;
    for class in -1..c.n_classes() as i64 {
        let points: Vec<(f64, f64)> =
            xy.iter().zip(c.predictions).filter(|(_, p)| **p == class).map(|(xy, _)| *xy).collect();
        if points.is_empty() {
            continue;
        }
        let (col, name) = match usize::try_from(class) {
            Ok(k) => (colour(k), format!("predicted {}", c.name(k))),
            Err(_) => (RGBColor(150, 150, 150), "no output spike".to_string()),
        };
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, col.mix(0.8).filled())))?
            .label(name)
            .legend(box_marker(col.filled()));
    }
    let wrong: Vec<(f64, f64)> = xy
        .iter()
        .zip(c.labels.iter().zip(c.predictions))
        .filter(|(_, (l, p))| **l as i64 != **p)
        .map(|(xy, _)| *xy)
        .collect();
    let style = BLACK.stroke_width(2);
    chart
        .draw_series(wrong.iter().map(|&p| Cross::new(p, 4, style)))?
        .label(format!("wrong ({})", wrong.len()))
        .legend(line_marker(style));
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Writes `<stem>.png` and `<stem>.csv` (`x,y,label,prediction`).
pub fn plane(stem: &Path, title: &str, xy: &[(f64, f64)], c: &Classified) -> Result<(), PlotError> {
    figure(stem, (SIZE.0, SIZE.0), |area| draw_plane(area, title, xy, c))?;
    let mut csv = Csv::new(&["x", "y", "label", "prediction"]);
    for ((x, y), (l, p)) in xy.iter().zip(c.labels.iter().zip(c.predictions)) {
        csv.row(&[*x, *y, *l as f64, *p as f64]);
    }
    csv.write(stem)
}
