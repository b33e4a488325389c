//! Chip runs: spike times measured on the chip against the simulation's (ideal) times of the same network, and
//! membrane traces recorded by the chip's MADC.

use std::path::Path;

use plotters::prelude::*;

use super::{Csv, PlotError, SIZE, box_marker, chart, colour, figure, legend, line_marker, padded_range};
use crate::chip::MembraneTrace;
use crate::model::Matrix;

/// One NeuronLayer's spike times in simulation and on the chip, `[samples, neurons]` each (+inf = silent).
#[derive(Clone, Copy, Debug)]
pub struct NeuronTimes<'a> {
    /// The layer's name, e.g. "layer 2 (hidden)".
    pub label: &'a str,
    /// Simulated times.
    pub sim: &'a Matrix,
    /// Measured times.
    pub chip: &'a Matrix,
}

/// Writes `<stem>.png`, a scatter of chip times over simulated times per layer with the diagonal, and
/// `<stem>.csv` (`layer,sample,neuron,sim,chip`, every pair, `inf` = silent).
pub fn measured_vs_ideal(stem: &Path, layers: &[NeuronTimes]) -> Result<(), PlotError> {
    let all = layers.iter().flat_map(|l| l.sim.data.iter().chain(&l.chip.data).copied());
    let (lo, hi) = padded_range(all);
    figure(stem, (SIZE.0, SIZE.0), |area| {
        let mut chart = chart(
            area,
            "Chip vs simulation, test set",
            lo..hi,
            lo..hi,
            "simulated spike time (model time units)",
            "chip spike time (model time units)",
        )?;
        let diagonal = BLACK.mix(0.6).stroke_width(1);
        chart
            .draw_series(LineSeries::new([(lo, lo), (hi, hi)], diagonal))?
            .label("equal")
            .legend(line_marker(diagonal));
        for (k, l) in layers.iter().enumerate() {
            let col = colour(k);
            let pairs: Vec<(f64, f64)> = l.sim.data.iter().copied().zip(l.chip.data.iter().copied()).collect();
            let both = pairs.iter().filter(|(s, c)| s.is_finite() && c.is_finite()).count();
            let only_sim = pairs.iter().filter(|(s, c)| s.is_finite() && !c.is_finite()).count();
            let only_chip = pairs.iter().filter(|(s, c)| !s.is_finite() && c.is_finite()).count();
            chart
                .draw_series(
                    pairs
                        .iter()
                        .filter(|(s, c)| s.is_finite() && c.is_finite())
                        .map(|&p| Circle::new(p, 2, col.mix(0.5).filled())),
                )?
                .label(format!("{}: {both} pairs, {only_sim} silent on chip, {only_chip} only on chip", l.label))
                .legend(box_marker(col.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })?;
    let mut csv = Csv::new(&["layer", "sample", "neuron", "sim", "chip"]);
    for (k, l) in layers.iter().enumerate() {
        for r in 0..l.sim.rows {
            for j in 0..l.sim.cols {
                csv.row(&[k as f64, r as f64, j as f64, l.sim.get(r, j), l.chip.get(r, j)]);
            }
        }
    }
    csv.write(stem)
}

/// Writes `<stem>.png`, one panel per trace with input spikes and output spikes marked, and `<stem>.csv`
/// (`sample,kind,time_us,voltage_mv`; kind 0 = membrane sample, 1 = input spike, 2 = output spike, voltage NaN
/// for spikes).
pub fn membrane_traces(stem: &Path, title: &str, traces: &[MembraneTrace]) -> Result<(), PlotError> {
    let n = traces.len().max(1);
    figure(stem, (SIZE.0, (SIZE.1 * n as u32 * 3 / 4).max(SIZE.1)), |area| {
        for (trace, panel) in traces.iter().zip(area.split_evenly((n, 1)).iter()) {
            // The activity sits at the start of the window: show it and the decay after it (30 us), not the
            // whole quiet remainder.
            let last_spike = trace.inputs_us.iter().chain(&trace.outputs_us).fold(0.0f64, |a, &t| a.max(t));
            let shown = |t: &f64| *t <= last_spike + 30.0;
            let (t0, t1) = padded_range(
                trace.times_us.iter().filter(|t| shown(t)).chain(&trace.inputs_us).chain(&trace.outputs_us).copied(),
            );
            let (v0, v1) = padded_range(trace.voltages_mv.iter().copied());
            let panel_title = format!("{title}, sample {}", trace.sample);
            let mut chart =
                chart(panel, &panel_title, t0..t1, v0..v1, "time after the sample's start (us)", "membrane (mV)")?;
            let input = colour(5).stroke_width(1);
            if !trace.inputs_us.is_empty() {
                chart
                    .draw_series(trace.inputs_us.iter().map(|&t| PathElement::new([(t, v0), (t, v1)], input)))?
                    .label(format!("input spikes ({})", trace.inputs_us.len()))
                    .legend(line_marker(input));
            }
            let output = colour(3).stroke_width(3);
            if !trace.outputs_us.is_empty() {
                chart
                    .draw_series(trace.outputs_us.iter().map(|&t| PathElement::new([(t, v0), (t, v1)], output)))?
                    .label(format!("output spikes ({})", trace.outputs_us.len()))
                    .legend(line_marker(output));
            }
            let line = colour(0).stroke_width(2);
            let points =
                trace.times_us.iter().copied().zip(trace.voltages_mv.iter().copied()).filter(|(t, _)| shown(t));
            chart.draw_series(LineSeries::new(points, line))?.label("membrane (MADC)").legend(line_marker(line));
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })?;
    let mut csv = Csv::new(&["sample", "kind", "time_us", "voltage_mv"]);
    for tr in traces {
        let s = tr.sample as f64;
        for (t, v) in tr.times_us.iter().zip(&tr.voltages_mv) {
            csv.row(&[s, 0.0, *t, *v]);
        }
        for t in &tr.inputs_us {
            csv.row(&[s, 1.0, *t, f64::NAN]);
        }
        for t in &tr.outputs_us {
            csv.row(&[s, 2.0, *t, f64::NAN]);
        }
    }
    csv.write(stem)
}
