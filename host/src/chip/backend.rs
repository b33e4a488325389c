//! The chip backend: runs a network's forward pass on a chip (embedded emulator or an endpoint) through the
//! protocol, one program per batch, and cuts the recording into per-sample first-spike times.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bss2_calibration::calibrate::Targets;
use bss2_calibration::delays::DelayCalibration;
use bss2_calibration::file::CalibrationFile;
use bss2_protocol::label::SpikeLabel;
use bss2_protocol::program::{CYCLES_PER_US, Program, ProgramBuilder, Response};
use bss2_protocol::transport::BlockingConnection;

use super::config::{
    CircuitValues, SYNAPSE_DAC_BIAS, Scales, choose_dac, nominal_values, static_writes, synapse_quad_words,
};
use super::delays::{PairSettings, pair_counts};
use super::layout::{self, LOGICAL_NEURONS};
use super::mapping::{ChipMapping, External, PairOutput, SynapseImage, quantise};
use super::{Chip, ChipError};
use crate::config::DelayKind;
use crate::model::Matrix;
use crate::network::{Layer, Network};
use crate::text::chain;

/// Settings of the backend.
#[derive(Clone, Debug)]
pub struct ChipSettings {
    /// Model-to-chip units.
    pub scales: Scales,
    /// Sample window (model units).
    pub window: f64,
    /// Quiet time before the first sample (us).
    pub offset_us: f64,
    /// Runs tried before giving up.
    pub retries: usize,
    /// Longest wait for one program's answer.
    pub timeout: Duration,
    /// A calibration of this chip (its file, for messages): CapMem values instead of the nominal ones.
    pub calibration: Option<(PathBuf, CalibrationFile)>,
    /// A delay calibration of this chip (a calibration file's delay section): the delay pairs' values, maps and
    /// which pairs work; without it every pair, at nominal values with the reference's map.
    pub delays: Option<DelayCalibration>,
}

impl Default for ChipSettings {
    fn default() -> Self {
        ChipSettings {
            scales: Scales::REFERENCE,
            window: 30.0,
            offset_us: 100.0,
            retries: 5,
            timeout: Duration::from_secs(10),
            calibration: None,
            delays: None,
        }
    }
}

/// The longest program the FPGA's 32-bit timer can time (us): 2^32 cycles at 125 MHz, about 34.4 s.
pub const MAX_PROGRAM_US: f64 = 4_294_967_296.0 / CYCLES_PER_US as f64;

impl ChipSettings {
    /// Checks that a batch of `batch` samples fits one program: positive, finite window and time unit, and
    /// the whole train (offset, then one window per sample) inside the FPGA timer's range.
    pub fn check(&self, batch: usize) -> Result<(), ChipError> {
        let setting = |name: &'static str, value: f64, why: String| Err(ChipError::Setting { name, value, why });
        let (window, unit) = (self.window, self.scales.time_unit_us);
        if !(window > 0.0 && window.is_finite()) {
            return setting("window", window, "must be a positive number of model time units".into());
        }
        if !(unit > 0.0 && unit.is_finite()) {
            return setting("time unit", unit, "must be a positive number of microseconds".into());
        }
        let program_us = self.offset_us + batch as f64 * window * unit;
        if !(program_us < MAX_PROGRAM_US) {
            return setting(
                "window",
                window,
                format!(
                    "a batch of {batch} samples of {window} model units at {unit} us per unit lasts {:.3e} s, longer \
                     than the FPGA timer's {:.1} s (choose a shorter --window or --time-unit-us)",
                    program_us * 1e-6,
                    MAX_PROGRAM_US * 1e-6
                ),
            );
        }
        Ok(())
    }
}

/// Counters of the chip's work.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChipStats {
    /// Programs run successfully.
    pub runs: u64,
    /// Runs repeated after a stall, a timeout or a broken link.
    pub retries: u64,
    /// Wall time spent waiting for the chip's answers (program out over the link, run, recording back).
    pub chip_seconds: f64,
    /// The successful programs' experiment time on the chip's own clock (input offset plus one window per
    /// sample): what the batches take on a real chip, beside the wall time an emulator needs for them.
    pub experiment_seconds: f64,
    /// Host time spent building programs and cutting recordings into spike times.
    pub protocol_seconds: f64,
    /// Omnibus words written.
    pub words_written: u64,
}

impl std::fmt::Display for ChipStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} runs, {} retries, {:.3} s waiting for the chip ({:.3} s of experiment on the chip's clock), {} \
             configuration words written",
            self.runs, self.retries, self.chip_seconds, self.experiment_seconds, self.words_written
        )
    }
}

/// Nominal CapMem values of every circuit from the chip's nominal curves for each mapped layer's model, and the
/// DAC bias chosen with them.
fn nominal_circuit_values(mapping: &ChipMapping, chip: &Chip, scales: Scales) -> (Vec<CircuitValues>, u16) {
    let curves = chip.nominal_curves();
    let params: Vec<_> = mapping.layers.iter().map(|l| l.params).collect();
    let dac = choose_dac(&curves, &params, scales);
    // Circuits outside the network (threshold off) get the first layer's values.
    let mut values = vec![nominal_values(&curves, &params[0], scales, dac); bss2_calibration::CIRCUITS];
    for layer in &mapping.layers {
        let v = nominal_values(&curves, &layer.params, scales, dac);
        for b in layer.first..layer.first + layer.size {
            for c in layout::circuits(b) {
                values[c] = v;
            }
        }
    }
    (values, dac)
}

/// Checks that a calibration's targets (of the file at `path`) are what each mapped layer's model needs.
fn check_targets(mapping: &ChipMapping, t: &Targets, scales: Scales, path: &std::path::Path) -> Result<(), ChipError> {
    for layer in &mapping.layers {
        let want = super::targets::circuit_targets(&layer.params, scales);
        for b in layer.first..layer.first + layer.size {
            let c = layout::circuits(b)[0];
            for (parameter, &w) in want.iter() {
                let g = t[parameter][c];
                if (g - w).abs() > 1e-6 * w.abs().max(1.0) {
                    return Err(ChipError::CalibrationTargets {
                        path: path.to_path_buf(),
                        parameter: parameter.key(),
                        found: g,
                        needed: w,
                        layer: layer.chain_index,
                    });
                }
            }
        }
    }
    Ok(())
}

/// One external spike of a batch.
#[derive(Clone, Copy, Debug)]
struct InputSpike {
    /// The sample in the batch.
    sample: usize,
    /// The external source slot.
    slot: usize,
    /// Time after the sample's start (us).
    local_us: f64,
    /// When it is sent (FPGA cycles after the timer reset).
    cycles: u32,
}

impl InputSpike {
    fn event(&self) -> (u32, SpikeLabel) {
        (self.cycles, SpikeLabel(layout::external_label(self.slot)))
    }
}

/// The first spike of every on-chip neuron of every sample, per NeuronLayer, and of every delay pair.
#[derive(Clone, Debug, PartialEq)]
pub struct ChipForward {
    /// `[batch, size]` per NeuronLayer in chain order, model units after the sample start, +inf = silent. A layer
    /// whose outputs leave through delay pairs (a dendritic delay before it) shows the pairs' delayed spikes.
    pub layers: Vec<Matrix>,
    /// Per mapped delay layer in chain order: for an axonal one the delayed times `[batch, columns]` its pairs
    /// measured (+inf = the delayed spike never came), None for a dendritic one (see `layers`).
    pub delays: Vec<Option<Matrix>>,
}

/// A chip with a network mapped onto it.
#[derive(Debug)]
pub struct ChipBackend {
    chip: Chip,
    settings: ChipSettings,
    mapping: ChipMapping,
    values: Vec<CircuitValues>,
    /// Synapse DAC bias of every quadrant.
    dac: u16,
    connection: Option<BlockingConnection>,
    /// Static configuration already on the chip.
    configured: bool,
    /// The synapse quad words last written.
    written_quads: Option<Vec<(u32, u32)>>,
    label_table: Vec<Option<u16>>,
    layer_of_neuron: Vec<Option<(usize, usize)>>,
    /// Per logical position: the mapped pair there (index into the mapping's pairs).
    pair_at: Vec<Option<usize>>,
    /// The delay pairs' values and maps.
    pairs: PairSettings,
    /// The refractory counts last written to the mapped pairs.
    written_counts: Option<Vec<u8>>,
    stats: ChipStats,
    clip_warned: bool,
    /// Clipped delays last reported.
    delays_clipped: usize,
}

impl ChipBackend {
    /// Maps a network onto a chip; CapMem values from the calibration in `settings`, else from the chip's
    /// nominal curves.
    pub fn new(network: &Network, chip: Chip, settings: ChipSettings) -> Result<ChipBackend, ChipError> {
        let pairs = settings.delays.as_ref().map_or_else(PairSettings::nominal, PairSettings::calibrated);
        let mapping = ChipMapping::with_pairs(network, &pairs.usable())?;
        let (values, dac) = match &settings.calibration {
            Some((path, file)) => {
                file.check_chip(path, &chip.identity())?;
                check_targets(&mapping, &file.targets, settings.scales, path)?;
                // Calibrations are measured at the standard DAC bias.
                (file.values.clone(), SYNAPSE_DAC_BIAS)
            }
            None => nominal_circuit_values(&mapping, &chip, settings.scales),
        };
        let mut layer_of_neuron = vec![None; LOGICAL_NEURONS];
        for (l, layer) in mapping.layers.iter().enumerate().filter(|(_, l)| !l.delayed_outputs) {
            for j in 0..layer.size {
                layer_of_neuron[layer.first + j] = Some((l, j));
            }
        }
        let mut pair_at = vec![None; LOGICAL_NEURONS];
        for (k, p) in mapping.pairs.iter().enumerate() {
            pair_at[layout::pair_position(p.pair)] = Some(k);
        }
        let label_table = layout::label_table(&mapping.neuron_slots);
        Ok(ChipBackend {
            chip,
            settings,
            mapping,
            values,
            dac,
            connection: None,
            configured: false,
            written_quads: None,
            label_table,
            layer_of_neuron,
            pair_at,
            pairs,
            written_counts: None,
            stats: ChipStats::default(),
            clip_warned: false,
            delays_clipped: 0,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> ChipStats {
        self.stats
    }

    /// The model-to-chip units.
    pub fn scales(&self) -> Scales {
        self.settings.scales
    }

    /// The chip.
    pub fn chip(&self) -> &Chip {
        &self.chip
    }

    fn connect(&mut self) -> Result<&mut BlockingConnection, ChipError> {
        if self.connection.is_none() {
            self.connection = Some(self.chip.connect(self.settings.timeout)?);
            // A new connection may meet a chip whose state we do not know: configure everything again.
            self.configured = false;
            self.written_quads = None;
        }
        Ok(self.connection.as_mut().expect("just connected"))
    }

    /// Runs `program` on the chip over the current connection (made if needed).
    fn run(&mut self, program: &Program) -> Result<Response, ChipError> {
        let connection = self.connect()?;
        connection.run(program).map_err(|source| ChipError::Run { chip: self.chip.identity(), source })
    }

    /// Runs a batch `[batch, n_inputs]` of input times on the chip with the network's current weights.
    pub fn forward(&mut self, network: &Network, inputs: &Matrix) -> Result<ChipForward, ChipError> {
        self.settings.check(inputs.rows)?;
        let quads = self.synapse_quads(network);
        let counts = self.pair_counts(network);
        let mut last_error = None;
        for attempt in 0..self.settings.retries.max(1) {
            if attempt > 0 {
                self.stats.retries += 1;
            }
            let building = Instant::now();
            let program = self.program(inputs, &quads, &counts);
            let started = Instant::now();
            let outcome = self.run(&program);
            let answered = Instant::now();
            let forward = outcome.and_then(|response| self.dissect(&response, inputs.rows));
            self.stats.chip_seconds += (answered - started).as_secs_f64();
            self.stats.protocol_seconds += (started - building + answered.elapsed()).as_secs_f64();
            match forward {
                Ok(forward) => {
                    self.configured = true;
                    self.written_quads = Some(quads);
                    self.written_counts = Some(counts);
                    self.stats.runs += 1;
                    self.stats.experiment_seconds += 1e-6 * self.experiment_us(inputs.rows);
                    return Ok(forward);
                }
                Err(e) => {
                    tracing::warn!(
                        "chip run {} of {} failed: {}",
                        attempt + 1,
                        self.settings.retries.max(1),
                        chain(&e)
                    );
                    // Drop the connection: the next attempt reconnects and rewrites the whole configuration.
                    self.connection = None;
                    last_error = Some(e);
                }
            }
        }
        Err(ChipError::GaveUp { attempts: self.settings.retries.max(1), last: Box::new(last_error.expect("tried")) })
    }

    /// The synapse quad words of the network's current weights (rounded and clipped; the first clipping is
    /// reported once).
    fn synapse_quads(&mut self, network: &Network) -> Vec<(u32, u32)> {
        let weights: Vec<&Matrix> = self
            .mapping
            .layers
            .iter()
            .map(|l| match &network.layers[l.chain_index] {
                Layer::Neuron(n) => &n.weights,
                _ => unreachable!("mapped layers are NeuronLayers"),
            })
            .collect();
        let quantised = quantise(&self.mapping, &weights, self.settings.scales.scale_weights);
        if quantised.clipped > 0 && !self.clip_warned {
            tracing::warn!(
                "{} of {} synapse weights exceed the chip's range of +-{} LSB ({:.3} model units) and were clipped",
                quantised.clipped,
                quantised.synapses.len(),
                super::mapping::MAX_WEIGHT,
                f64::from(super::mapping::MAX_WEIGHT) / self.settings.scales.scale_weights
            );
            self.clip_warned = true;
        }
        synapse_quad_words(&SynapseImage::new(&self.mapping, &quantised))
    }

    /// The refractory counts of the mapped pairs for the network's current delays (a change in the number of
    /// delays clipped to the pairs' range is reported).
    fn pair_counts(&mut self, network: &Network) -> Vec<u8> {
        let (counts, clipped) = pair_counts(&self.mapping, network, &self.pairs, self.settings.scales.time_unit_us);
        if clipped != self.delays_clipped {
            if clipped > 0 {
                tracing::warn!(
                    "{clipped} of {} delays are outside what the chip's delay pairs realise ({}..{} refractory \
                     counts) and were clipped",
                    counts.len(),
                    bss2_protocol::delay_pair::MIN_COUNTS,
                    bss2_protocol::delay_pair::MAX_COUNTS
                );
            }
            self.delays_clipped = clipped;
        }
        counts
    }

    /// The mapped pairs with their CapMem values and `counts`.
    fn pair_writes(&self, counts: &[u8]) -> Vec<super::config::PairWrite> {
        self.mapping
            .pairs
            .iter()
            .zip(counts)
            .map(|(p, &c)| {
                let capmem =
                    self.pairs.get(p.pair).map_or(bss2_protocol::delay_pair::PairCapMem::NOMINAL, |s| s.capmem);
                (p.pair, capmem, c)
            })
            .collect()
    }

    /// The external spikes of a batch: every input and bias copy of every sample inside its window (spikes
    /// outside it would land in another sample and are not sent).
    fn input_spikes(&self, inputs: &Matrix) -> Vec<InputSpike> {
        let tu = self.settings.scales.time_unit_us;
        let window_us = self.settings.window * tu;
        let mut spikes = Vec::new();
        for sample in 0..inputs.rows {
            for (slot, external) in self.mapping.externals.iter().enumerate() {
                let t = match *external {
                    External::Input(i) => inputs.data[sample * inputs.cols + i],
                    External::Bias(t) => t,
                };
                if !(t >= 0.0 && t < self.settings.window) {
                    continue;
                }
                let us = self.settings.offset_us + sample as f64 * window_us + t * tu;
                let cycles = (us * CYCLES_PER_US as f64).round() as u32;
                spikes.push(InputSpike { sample, slot, local_us: t * tu, cycles });
            }
        }
        spikes
    }

    /// One program: configuration that changed, then the batch's input spikes, each sample in its window.
    fn program(&mut self, inputs: &Matrix, quads: &[(u32, u32)], counts: &[u8]) -> Program {
        let mut builder = ProgramBuilder::new();
        let mut words = 0u64;
        if !self.configured {
            let writes = static_writes(&self.mapping, &self.values, self.dac, &self.pair_writes(counts));
            words += writes.len() as u64;
            builder.write_all(writes);
        } else if let Some(old) = &self.written_counts {
            for ((p, &new), &old) in self.mapping.pairs.iter().zip(counts).zip(old) {
                if new != old {
                    let writes = bss2_protocol::delay_pair::counts_writes(p.pair, new);
                    words += writes.len() as u64;
                    builder.write_all(writes);
                }
            }
        }
        match &self.written_quads {
            Some(old) => {
                for (new, old) in quads.iter().zip(old) {
                    if new != old {
                        builder.write(new.0, new.1);
                        words += 1;
                    }
                }
            }
            None => {
                builder.write_all(quads.iter().copied());
                words += quads.len() as u64;
            }
        }
        self.stats.words_written += words;
        builder.systime_sync();
        builder.timer_reset();
        let events: Vec<_> = self.input_spikes(inputs).iter().map(InputSpike::event).collect();
        builder.spikes(&events);
        let end_us = self.experiment_us(inputs.rows);
        builder.wait_until((end_us * CYCLES_PER_US as f64).ceil() as u32);
        builder.build()
    }

    /// The experiment time of a batch of `rows` samples on the chip's clock: the input offset, then one window each.
    fn experiment_us(&self, rows: usize) -> f64 {
        self.settings.offset_us + rows as f64 * self.settings.window * self.settings.scales.time_unit_us
    }

    /// Cuts the recording into per-sample first-spike times of every layer.
    fn dissect(&self, response: &Response, batch: usize) -> Result<ChipForward, ChipError> {
        let mut layers: Vec<Matrix> = self
            .mapping
            .layers
            .iter()
            .map(|l| Matrix { rows: batch, cols: l.size, data: vec![f64::INFINITY; batch * l.size] })
            .collect();
        let tu = self.settings.scales.time_unit_us;
        let duration = batch as f64 * self.settings.window;
        let mut delays: Vec<Option<Matrix>> = self
            .mapping
            .delays
            .iter()
            .map(|d| {
                (d.kind == DelayKind::Axonal).then(|| Matrix {
                    rows: batch,
                    cols: d.entries,
                    data: vec![f64::INFINITY; batch * d.entries],
                })
            })
            .collect();
        let mut unknown = 0usize;
        for spike in &response.spikes {
            let Some(b) = self.label_table[usize::from(spike.label.0 & 0x7FF)] else {
                unknown += 1;
                continue;
            };
            let b = usize::from(b);
            // A neuron's spike, or a pair's delayed spike (a column of a delay layer or a layer's delayed output).
            let (target, j) = match (self.layer_of_neuron[b], self.pair_at[b].map(|k| self.mapping.pairs[k].output)) {
                (Some((l, j)), _) => (&mut layers[l], j),
                (None, Some(PairOutput::LayerOutput { layer, neuron })) => (&mut layers[layer], neuron),
                (None, Some(PairOutput::Delayed { delay, column })) => match delays[delay].as_mut() {
                    Some(m) => (m, column),
                    None => unreachable!("axonal delays have a matrix"),
                },
                (None, None) => {
                    // A network neuron whose output a pair delays: its own spike only triggers the pair.
                    if !self
                        .mapping
                        .layers
                        .iter()
                        .any(|l| l.delayed_outputs && (l.first..l.first + l.size).contains(&b))
                    {
                        unknown += 1;
                    }
                    continue;
                }
            };
            // The stamp counts whole cycles: take the middle of the cycle.
            let t = ((spike.chip_time as f64 + 0.5) / CYCLES_PER_US as f64 - self.settings.offset_us) / tu;
            if t > duration + self.settings.window {
                return Err(ChipError::Stall { spike_us: t * tu, run_us: duration * tu });
            }
            if t < 0.0 {
                continue;
            }
            let sample = (t / self.settings.window).floor() as usize;
            if sample >= batch {
                continue;
            }
            let local = t - sample as f64 * self.settings.window;
            let cols = target.cols;
            let cell = &mut target.data[sample * cols + j];
            if local < *cell {
                *cell = local;
            }
        }
        if unknown > 0 {
            tracing::warn!("{unknown} recorded spikes came from neurons outside the network");
        }
        Ok(ChipForward { layers, delays })
    }
}

/// The membrane of one logical neuron during one sample, recorded by the MADC, with the spikes it received and
/// sent (all times in us after the sample's start).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MembraneTrace {
    /// The sample's index in the batch.
    pub sample: usize,
    /// MADC sample times.
    pub times_us: Vec<f64>,
    /// Membrane potential (mV).
    pub voltages_mv: Vec<f64>,
    /// Spikes of the neuron's sources: the external inputs and biases sent, or the recorded spikes of the
    /// on-chip neurons feeding it.
    pub inputs_us: Vec<f64>,
    /// The neuron's own recorded spikes.
    pub outputs_us: Vec<f64>,
}

impl ChipBackend {
    /// Runs a batch like [`ChipBackend::forward`] (one attempt) while the MADC records the membrane of logical
    /// neuron `neuron` (the network's on-chip neurons are numbered layer by layer from 0); one trace per sample.
    /// The whole configuration is written again by the next forward pass, since the readout changes it.
    pub fn record_membrane(
        &mut self,
        network: &Network,
        inputs: &Matrix,
        neuron: usize,
    ) -> Result<Vec<MembraneTrace>, ChipError> {
        use bss2_calibration::measure::{MADC_MV_PER_LSB, sample_period};
        use bss2_protocol::containers::{Container, MadcControl, NeuronConfig, ReadoutSource, UInt, WritableContainer};
        use bss2_protocol::coords::Neuron;

        self.settings.check(inputs.rows)?;
        let Some((layer, _)) = self.layer_of_neuron.get(neuron).copied().flatten() else {
            return Err(ChipError::Unsupported(format!(
                "neuron {neuron} is not part of the network on the chip (it uses neurons 0..{})",
                self.mapping.neurons()
            )));
        };
        let quads = self.synapse_quads(network);

        // The static configuration with the readout of the neuron's first circuit switched on.
        let counts = self.pair_counts(network);
        let mut writes = static_writes(&self.mapping, &self.values, self.dac, &self.pair_writes(&counts));
        let coord = Neuron::from_index(layout::circuits(neuron)[0]).expect("circuit below 512");
        let mut words = <NeuronConfig as Container>::Words::default();
        for (word, address) in words.as_mut().iter_mut().zip(NeuronConfig::addresses(coord).as_ref()) {
            *word = writes.iter().rev().find(|w| w.0 == *address).map_or(0, |w| w.1);
        }
        let mut readout = NeuronConfig::decode(&words)
            .map_err(|source| ChipError::Configuration { circuit: layout::circuits(neuron)[0], source })?;
        readout.enable_readout = true;
        readout.readout_source = ReadoutSource::Membrane;
        writes.extend(readout.writes(coord).into_iter().map(|w| (w.address, w.data)));

        let (offset_us, window, tu) =
            (self.settings.offset_us, self.settings.window, self.settings.scales.time_unit_us);
        let window_us = window * tu;
        let end_us = offset_us + inputs.rows as f64 * window_us;
        let period = sample_period(end_us);
        let samples = ((end_us * CYCLES_PER_US as f64) / f64::from(period)).ceil().min(65_535.0) as u32;
        let madc = MadcControl {
            enable_sampling: true,
            number_of_samples: UInt::new(samples).expect("16 bit"),
            sample_period: UInt::new(period).expect("8 bit"),
            ..MadcControl::default()
        };
        let sent = self.input_spikes(inputs);
        let events: Vec<_> = sent.iter().map(InputSpike::event).collect();
        let mut builder = ProgramBuilder::new();
        builder.write_all(writes);
        builder.write_all(quads.iter().copied());
        builder.systime_sync();
        builder.timer_reset();
        builder.wait_until(10);
        builder.write_all(madc.writes(()).into_iter().map(|w| (w.address, w.data)));
        builder.spikes(&events);
        builder.wait_until((end_us * CYCLES_PER_US as f64).ceil() as u32 + 10);
        let program = builder.build();

        // The readout stays on until the next full configuration.
        self.configured = false;
        self.written_quads = None;
        let started = Instant::now();
        let response = self.run(&program);
        self.stats.chip_seconds += started.elapsed().as_secs_f64();
        let response = response.inspect_err(|_| self.connection = None)?;
        self.stats.runs += 1;

        let local = |chip_time: u64| {
            let t = (chip_time as f64 + 0.5) / CYCLES_PER_US as f64 - offset_us;
            let b = (t / window_us).floor();
            (b >= 0.0 && (b as usize) < inputs.rows).then_some((b as usize, t - b * window_us))
        };
        let mut traces: Vec<MembraneTrace> =
            (0..inputs.rows).map(|sample| MembraneTrace { sample, ..MembraneTrace::default() }).collect();
        for s in &response.samples {
            if let Some((b, t)) = local(s.chip_time) {
                traces[b].times_us.push(t);
                traces[b].voltages_mv.push(f64::from(s.value & 0x3FF) * MADC_MV_PER_LSB);
            }
        }
        let sources = &self.mapping.layers[layer].row_sources;
        for spike in &response.spikes {
            let Some(b) = self.label_table[usize::from(spike.label.0 & 0x7FF)] else { continue };
            let Some((sample, t)) = local(spike.chip_time) else { continue };
            let from = usize::from(b);
            if from == neuron {
                traces[sample].outputs_us.push(t);
            }
            if sources.contains(&super::mapping::Source::Neuron(from)) {
                traces[sample].inputs_us.push(t);
            }
        }
        for spike in sent.iter().filter(|s| sources.contains(&super::mapping::Source::External(s.slot))) {
            traces[spike.sample].inputs_us.push(spike.local_us);
        }
        for trace in &mut traces {
            trace.inputs_us.sort_by(f64::total_cmp);
        }
        Ok(traces)
    }
}
