//! Confusion matrices: rows = true class, columns = predicted class (and "none" when the selected neuron did not
//! spike), each cell the fraction of its row with the count.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Area, Csv, Drawn, PlotError, SIZE, Ticks, chart_with, figure, integer_ticks};
use crate::plot::Classified;

/// Counts `[true][predicted]`; the last column counts missing predictions if there are any.
fn counts(c: &Classified) -> Vec<Vec<u32>> {
    let n = c.n_classes();
    let none = c.predictions.iter().any(|&p| p < 0 || p as usize >= n);
    let mut m = vec![vec![0u32; n + usize::from(none)]; n];
    for (&l, &p) in c.labels.iter().zip(c.predictions) {
        let col = if p < 0 || p as usize >= n { n } else { p as usize };
        m[l][col] += 1;
    }
    m
}

/// Draws the matrix, normalised per row, with the accuracy in the title.
pub(crate) fn draw_confusion(area: &Area, title: &str, c: &Classified) -> Drawn {
    let m = counts(c);
    let (rows, cols) = (m.len(), m.first().map_or(0, Vec::len));
    let title = format!("{title}: accuracy {:.2}%", 100.0 * c.accuracy());
    let names: Vec<String> = (0..cols).map(|j| if j < rows { c.name(j) } else { "none".into() }).collect();
    let x_desc = format!("predicted class ({})", names.join(", "));
    let ticks = Ticks { x: Some(&integer_ticks), y: Some(&integer_ticks) };
    let (x, y) = (-0.5..cols as f64 - 0.5, -0.5..rows as f64 - 0.5);
    let mut chart = chart_with(area, &title, (x, &x_desc), (y, "true class (0 at the bottom)"), ticks)?;
    let base = super::PALETTE[0];
    for (i, row) in m.iter().enumerate() {
        let total = row.iter().sum::<u32>().max(1);
        for (j, &n) in row.iter().enumerate() {
            let f = f64::from(n) / f64::from(total);
            let mix = |a: u8| (255.0 + f * (f64::from(a) - 255.0)).round() as u8;
            let fill = RGBColor(mix(base.0), mix(base.1), mix(base.2));
            let (x, y) = (j as f64 - 0.5, i as f64 - 0.5);
            chart.draw_series([Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled())])?;
            let text_colour = if f > 0.55 { WHITE } else { BLACK };
            let style =
                TextStyle::from(("sans-serif", 20)).color(&text_colour).pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series([Text::new(format!("{:.1}% ({n})", 100.0 * f), (x + 0.5, y + 0.5), style)])?;
        }
    }
    Ok(())
}

/// Writes `<stem>.png` and `<stem>.csv` (`true_class,predicted_0,...[,none]`, counts).
pub fn confusion_matrix(stem: &Path, title: &str, c: &Classified) -> Result<(), PlotError> {
    figure(stem, SIZE, |area| draw_confusion(area, title, c))?;
    let m = counts(c);
    let n = m.len();
    let mut columns = vec!["true_class".to_string()];
    columns.extend(
        (0..m.first().map_or(0, Vec::len)).map(|j| if j < n { format!("predicted_{j}") } else { "none".into() }),
    );
    let mut csv = Csv::new(&columns.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, row) in m.iter().enumerate() {
        let mut values = vec![i as f64];
        values.extend(row.iter().map(|&x| f64::from(x)));
        csv.row(&values);
    }
    csv.write(stem)
}
