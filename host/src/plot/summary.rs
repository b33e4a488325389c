//! A one-page summary of a run: loss and accuracy curves, the input plane (if the data set has one), confusion
//! matrices and the output-time histogram.

use std::path::Path;

use super::confusion::draw_confusion;
use super::curves::{draw_accuracy, draw_loss};
use super::outputs::draw_correct_wrong;
use super::plane::draw_plane;
use super::{Area, Csv, Drawn, PlotError, SIZE, figure};
use crate::model::Matrix;
use crate::plot::{Classified, Curves};

/// Draws one panel.
type Panel<'a> = Box<dyn Fn(&Area) -> Drawn + 'a>;

/// What the summary shows.
#[derive(Clone, Copy, Debug)]
pub struct SummaryPanels<'a> {
    /// The page's title.
    pub title: &'a str,
    /// The training history.
    pub curves: &'a Curves,
    /// The test set's (x, y) points, for a data set with a plane.
    pub plane: Option<&'a [(f64, f64)]>,
    /// Test-set classification.
    pub test: Classified<'a>,
    /// Training-set classification.
    pub train: Classified<'a>,
    /// Test-set output times `[samples, outputs]`.
    pub test_outputs: &'a Matrix,
}

/// Writes `<stem>.png` (a grid of the most important panels) and `<stem>.csv` (the final accuracies:
/// `train_accuracy,test_accuracy,final_val_accuracy`).
pub fn summary(stem: &Path, p: &SummaryPanels) -> Result<(), PlotError> {
    let mut panels: Vec<Panel> = vec![
        Box::new(|a| draw_loss(a, p.curves)),
        Box::new(|a| draw_accuracy(a, p.curves)),
        Box::new(|a| draw_confusion(a, "Test set", &p.test)),
        Box::new(|a| draw_correct_wrong(a, p.test_outputs, &p.test)),
        Box::new(|a| draw_confusion(a, "Training set", &p.train)),
    ];
    if let Some(xy) = p.plane {
        panels.insert(2, Box::new(move |a| draw_plane(a, "Test set", xy, &p.test)));
    }
    figure(stem, (3 * SIZE.0, 2 * SIZE.1 + 50), |area| {
        let body = area.titled(p.title, ("sans-serif", 30))?;
        for (panel, cell) in panels.iter().zip(body.split_evenly((2, 3)).iter()) {
            panel(cell)?;
        }
        Ok(())
    })?;
    let mut csv = Csv::new(&["train_accuracy", "test_accuracy", "final_val_accuracy"]);
    let last_val = p.curves.val_accuracy.iter().rev().copied().find(|x| x.is_finite()).unwrap_or(f64::NAN);
    csv.row(&[p.train.accuracy(), p.test.accuracy(), last_val]);
    csv.write(stem)
}
