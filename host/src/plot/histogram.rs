//! Overlaid histograms of several series of values (non-finite values are left out and counted in the legend),
//! optionally with a marked value, e.g. a calibration's target.

use std::path::Path;

use plotters::prelude::*;

use super::{Area, Csv, Drawn, PlotError, SIZE, bin_counts, box_marker, chart, colour, figure, legend, line_marker};

/// Bins per histogram.
const BINS: usize = 60;

/// What a histogram shows, apart from its values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Labels<'a> {
    /// Title.
    pub title: &'a str,
    /// The quantity with its unit.
    pub x_desc: &'a str,
    /// What is counted.
    pub y_desc: &'a str,
    /// What a non-finite value means (e.g. "no spike").
    pub missing: &'a str,
}

/// Series binned on common bins.
pub(crate) struct Binned {
    lo: f64,
    width: f64,
    counts: Vec<Vec<u32>>,
}

impl Binned {
    /// Bins every series on `BINS` bins spanning all finite values (and `marker`).
    pub(crate) fn new(series: &[(&str, &[f64])], marker: Option<f64>) -> Binned {
        let all = series.iter().flat_map(|(_, xs)| xs.iter().copied()).chain(marker);
        let (lo, hi) = super::padded_range(all);
        Binned::on(series, lo, hi)
    }

    /// Bins every series on `BINS` bins over `[lo, hi)`.
    pub(crate) fn on(series: &[(&str, &[f64])], lo: f64, hi: f64) -> Binned {
        let counts = series.iter().map(|(_, xs)| bin_counts(xs, lo, hi, BINS)).collect();
        Binned { lo, width: (hi - lo) / BINS as f64, counts }
    }

    /// `bin_start,bin_end,count_<label>...`.
    pub(crate) fn csv(&self, series: &[(&str, &[f64])]) -> Csv {
        let mut columns = vec!["bin_start".to_string(), "bin_end".to_string()];
        columns.extend(series.iter().map(|(label, _)| format!("count_{}", label.replace([' ', ','], "_"))));
        let mut csv = Csv::new(&columns.iter().map(String::as_str).collect::<Vec<_>>());
        for row in self.rows() {
            csv.row(&row);
        }
        csv
    }

    /// One row per bin: start, end, then the count of every series.
    pub(crate) fn rows(&self) -> Vec<Vec<f64>> {
        (0..BINS)
            .map(|i| {
                let start = self.lo + i as f64 * self.width;
                let mut row = vec![start, start + self.width];
                row.extend(self.counts.iter().map(|c| f64::from(c[i])));
                row
            })
            .collect()
    }
}

/// Draws overlaid histograms of `series` (already binned) with an optional vertical line at `marker`.
pub(crate) fn draw_histograms(
    area: &Area,
    labels: Labels,
    series: &[(&str, &[f64])],
    binned: &Binned,
    marker: Option<(&str, f64)>,
) -> Drawn {
    let top = binned.counts.iter().flatten().copied().max().unwrap_or(1).max(1);
    let top = top + top / 8 + 1;
    let hi = binned.lo + BINS as f64 * binned.width;
    let mut chart = chart(area, labels.title, binned.lo..hi, 0u32..top, labels.x_desc, labels.y_desc)?;
    let alpha = if series.len() > 1 { 0.55 } else { 0.8 };
    for (k, ((label, xs), counts)) in series.iter().zip(&binned.counts).enumerate() {
        let c = colour(k);
        let missing = xs.iter().filter(|x| !x.is_finite()).count();
        chart
            .draw_series(counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, &n)| {
                let x0 = binned.lo + i as f64 * binned.width;
                Rectangle::new([(x0, 0), (x0 + binned.width, n)], c.mix(alpha).filled())
            }))?
            .label(if missing > 0 {
                format!("{label} ({} values, {missing} {})", xs.len() - missing, labels.missing)
            } else {
                format!("{label} ({} values)", xs.len())
            })
            .legend(box_marker(c.mix(alpha).filled()));
    }
    if let Some((label, x)) = marker {
        let style = BLACK.stroke_width(2);
        chart.draw_series(LineSeries::new([(x, 0), (x, top)], style))?.label(label).legend(line_marker(style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Writes `<stem>.png` with overlaid histograms of `series` and `<stem>.csv` with their bins
/// (`bin_start,bin_end,count_<label>...`).
pub(crate) fn histograms(
    stem: &Path,
    labels: Labels,
    series: &[(&str, &[f64])],
    marker: Option<(&str, f64)>,
) -> Result<(), PlotError> {
    let binned = Binned::new(series, marker.map(|(_, x)| x));
    figure(stem, SIZE, |area| draw_histograms(area, labels, series, &binned, marker))?;
    binned.csv(series).write(stem)
}

/// Histograms of `before` and `after` (non-finite values are left out and counted in the legend), a vertical
/// line at `target`; writes `<stem>.png` and `<stem>.csv` (bin start, bin end, count before, count after).
pub fn before_after_histogram(
    stem: &Path,
    title: &str,
    unit: &str,
    target: f64,
    before: &[f64],
    after: &[f64],
) -> Result<(), PlotError> {
    let labels = Labels { title, x_desc: unit, y_desc: "neuron circuits", missing: "unmeasured" };
    let target_label = format!("target {target:.4}");
    histograms(stem, labels, &[("before", before), ("after", after)], Some((&target_label, target)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_support::png_size_and_variance;

    #[test]
    fn a_histogram_is_a_png_with_content_and_its_numbers_as_csv() {
        let dir = tempfile::tempdir().unwrap();
        let before: Vec<f64> = (0..512).map(|i| 6.0 + 0.9 * ((i as f64) * 0.37).sin()).collect();
        let after: Vec<f64> =
            (0..512).map(|i| if i == 7 { f64::NAN } else { 6.0 + 0.01 * ((i as f64) * 0.7).cos() }).collect();
        let stem = dir.path().join("tau_mem");
        before_after_histogram(&stem, "tau_mem", "tau_mem (us)", 6.0, &before, &after).unwrap();
        let (size, variance) = png_size_and_variance(&stem.with_extension("png"));
        assert_eq!(size, SIZE);
        assert!(variance > 100.0, "a plot, not a blank image (variance {variance})");
        let csv = std::fs::read_to_string(stem.with_extension("csv")).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "bin_start,bin_end,count_before,count_after");
        let total =
            |col: usize| rows[1..].iter().map(|r| r.split(',').nth(col).unwrap().parse::<u32>().unwrap()).sum::<u32>();
        assert_eq!((total(2), total(3)), (512, 511), "every finite value in one bin");
    }
}
