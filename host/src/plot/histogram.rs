//! Overlaid histograms of a quantity before and after a change (e.g. a calibration), with the target marked.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use super::{PALETTE, PlotError, SIZE, init};
use crate::io::atomic::write_atomic;

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
    init();
    let png = stem.with_extension("png");
    let finite = |xs: &[f64]| xs.iter().copied().filter(|x| x.is_finite()).collect::<Vec<f64>>();
    let (b, a) = (finite(before), finite(after));
    let all: Vec<f64> = b.iter().chain(&a).copied().chain(std::iter::once(target)).collect();
    let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 1e-3 };
    let (lo, hi) = (lo - 0.02 * span, hi + 0.02 * span);
    const BINS: usize = 60;
    let width = (hi - lo) / BINS as f64;
    let count = |xs: &[f64]| {
        let mut c = [0u32; BINS];
        for &x in xs {
            c[(((x - lo) / width) as usize).min(BINS - 1)] += 1;
        }
        c
    };
    let (cb, ca) = (count(&b), count(&a));
    let mut csv = String::from("bin_start,bin_end,count_before,count_after\n");
    for i in 0..BINS {
        let start = lo + i as f64 * width;
        let _ = writeln!(csv, "{start},{},{},{}", start + width, cb[i], ca[i]);
    }
    let top = cb.iter().chain(&ca).copied().max().unwrap_or(1).max(1);

    let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| PlotError::new(&png, e);
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(lo..hi, 0u32..(top + top / 10 + 1))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(unit)
        .y_desc("neuron circuits")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|e| err(&e))?;
    for (counts, colour, label, n, missing) in [
        (&cb, PALETTE[1], "before", b.len(), before.len() - b.len()),
        (&ca, PALETTE[0], "after", a.len(), after.len() - a.len()),
    ] {
        let style = colour.mix(0.55).filled();
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new([(x0, 0), (x0 + width, c)], style)
            }))
            .map_err(|e| err(&e))?
            .label(format!(
                "{label} ({n} circuits{})",
                if missing > 0 { format!(", {missing} unmeasured") } else { String::new() }
            ))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.mix(0.55).filled()));
    }
    chart
        .draw_series(LineSeries::new([(target, 0), (target, top + top / 10)], PALETTE[7].stroke_width(2)))
        .map_err(|e| err(&e))?
        .label(format!("target {target:.4}"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], PALETTE[7].stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    drop(chart);
    drop(root);
    write_atomic(&stem.with_extension("csv"), csv.as_bytes()).map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoded pixels of a PNG.
    fn pixels(path: &Path) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn a_histogram_is_a_png_with_content_and_its_numbers_as_csv() {
        let dir = tempfile::tempdir().unwrap();
        let before: Vec<f64> = (0..512).map(|i| 6.0 + 0.9 * ((i as f64) * 0.37).sin()).collect();
        let after: Vec<f64> =
            (0..512).map(|i| if i == 7 { f64::NAN } else { 6.0 + 0.01 * ((i as f64) * 0.7).cos() }).collect();
        let stem = dir.path().join("tau_mem");
        before_after_histogram(&stem, "tau_mem", "tau_mem (us)", 6.0, &before, &after).unwrap();
        let (w, h, data) = pixels(&stem.with_extension("png"));
        assert_eq!((w, h), SIZE);
        let mean = data.iter().map(|&v| f64::from(v)).sum::<f64>() / data.len() as f64;
        let variance = data.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / data.len() as f64;
        assert!(variance > 100.0, "a plot, not a blank image (variance {variance})");
        let csv = std::fs::read_to_string(stem.with_extension("csv")).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "bin_start,bin_end,count_before,count_after");
        let total =
            |col: usize| rows[1..].iter().map(|r| r.split(',').nth(col).unwrap().parse::<u32>().unwrap()).sum::<u32>();
        assert_eq!((total(2), total(3)), (512, 511), "every finite value in one bin");
    }
}
