//! The chip backend: runs a network's forward pass on a chip (embedded emulator or an endpoint) through the
//! protocol, one program per batch, and cuts the recording into per-sample first-spike times.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bss2_calibration::calibrate::Targets;
use bss2_calibration::file::CalibrationFile;
use bss2_firmware_sim::serve::{InProcessServer, ServerFaults};
use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::label::SpikeLabel;
use bss2_protocol::program::{CYCLES_PER_US, Program, ProgramBuilder, Response};
use bss2_protocol::transport::{BlockingConnection, Endpoint, Link};

use super::ChipError;
use super::config::{
    CircuitValues, SYNAPSE_DAC_BIAS, Scales, choose_dac, nominal_values, static_writes, synapse_quad_words,
};
use super::layout::{self, LOGICAL_NEURONS};
use super::mapping::{ChipMapping, External, SynapseImage, quantise};
use crate::model::Matrix;
use crate::network::{Layer, Network};

/// The environment variable naming the chip endpoint a config's `substrate: hx` means.
pub const ENDPOINT_VARIABLE: &str = "BSS2_ENDPOINT";

/// Where the chip is.
#[derive(Clone, Debug)]
pub enum Substrate {
    /// The embedded emulator with a profile.
    Emulator {
        /// The chip profile.
        profile: ChipProfile,
    },
    /// A served or real chip.
    Endpoint(Endpoint),
}

impl Substrate {
    /// The identity a calibration of this chip records.
    pub fn identity(&self, chip_seed: u64) -> String {
        match self {
            Substrate::Emulator { profile } => super::targets::emulator_identity(profile, chip_seed),
            Substrate::Endpoint(endpoint) => endpoint.to_string(),
        }
    }

    /// The substrate a config or command line names: None for `sim`; the reference's `hx` (and `hx_pynn`)
    /// is the chip at `BSS2_ENDPOINT` (the command line's `--substrate` replaces the config's value instead).
    pub fn resolve(text: &str) -> Result<Option<Substrate>, ChipError> {
        match text {
            "sim" => Ok(None),
            "hx" | "hx_pynn" => match std::env::var(ENDPOINT_VARIABLE) {
                Ok(endpoint) if !endpoint.trim().is_empty() => Substrate::parse(endpoint.trim()).map(Some),
                _ => Err(ChipError::Substrate(format!(
                    "{text:?} means a chip endpoint: give it with --substrate tcp://HOST:PORT (or udp://, serial://, \
                     usb://) or in {ENDPOINT_VARIABLE}; --substrate emulator uses the embedded emulator"
                ))),
            },
            other => Substrate::parse(other).map(Some),
        }
    }

    /// Parses `emulator`, `emulator:ideal`, `emulator:PROFILE.yaml`, `tcp://...`, `udp://...`, `serial://...`,
    /// `usb://...`.
    pub fn parse(text: &str) -> Result<Substrate, ChipError> {
        if text == "emulator" {
            return Ok(Substrate::Emulator { profile: ChipProfile::default_chip() });
        }
        if let Some(name) = text.strip_prefix("emulator:") {
            let profile = match ChipProfile::builtin(name) {
                Some(p) => p,
                None => ChipProfile::load(std::path::Path::new(name))
                    .map_err(|e| ChipError::Substrate(format!("{text}: {}", super::with_causes(&e))))?,
            };
            return Ok(Substrate::Emulator { profile });
        }
        Endpoint::parse(text).map(Substrate::Endpoint).map_err(|e| {
            ChipError::Substrate(format!(
                "{text:?}: {e} (expected sim, emulator, emulator:ideal, emulator:PROFILE.yaml, tcp://HOST:PORT, \
                 udp://HOST:PORT, serial://PATH or usb://VID:PID)"
            ))
        })
    }
}

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
    /// Seed of the embedded emulator.
    pub chip_seed: u64,
    /// Faults of the embedded emulator's link and program execution (tests).
    pub faults: ServerFaults,
    /// A calibration of this chip (its file, for messages): CapMem values instead of the nominal ones.
    pub calibration: Option<(PathBuf, CalibrationFile)>,
}

impl Default for ChipSettings {
    fn default() -> Self {
        ChipSettings {
            scales: Scales { time_unit_us: 6.0, scale_weights: 30.0 },
            window: 30.0,
            offset_us: 100.0,
            retries: 5,
            timeout: Duration::from_secs(10),
            chip_seed: 1,
            faults: ServerFaults::default(),
            calibration: None,
        }
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
    /// Host time spent building programs and cutting recordings into spike times.
    pub protocol_seconds: f64,
    /// Omnibus words written.
    pub words_written: u64,
}

/// Nominal CapMem values of every circuit from the profile's curves (a served chip: the default profile's) for
/// each mapped layer's model, and the DAC bias chosen with them.
fn nominal_circuit_values(mapping: &ChipMapping, substrate: &Substrate, scales: Scales) -> (Vec<CircuitValues>, u16) {
    let curves = match substrate {
        Substrate::Emulator { profile } => profile.curves.clone(),
        Substrate::Endpoint(_) => ChipProfile::default_chip().curves,
    };
    let params: Vec<_> = mapping.layers.iter().map(|l| l.params).collect();
    let dac = choose_dac(&curves, &params, scales);
    // Circuits outside the network (threshold off) get the first layer's values.
    let mut values = vec![nominal_values(&curves, &params[0], scales, dac); 512];
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

/// Checks that a calibration's targets are what each mapped layer's model needs.
fn check_targets(mapping: &ChipMapping, t: &Targets, scales: Scales) -> Result<(), String> {
    for layer in &mapping.layers {
        let want = super::targets::circuit_targets(&layer.params, scales);
        let names = ["tau_mem_us", "tau_syn_us", "leak_mv", "reset_mv", "threshold_mv", "gain"];
        for b in layer.first..layer.first + layer.size {
            let c = layout::circuits(b)[0];
            let got =
                [t.tau_mem_us[c], t.tau_syn_exc_us[c], t.leak_mv[c], t.reset_mv[c], t.threshold_mv[c], t.gain_exc[c]];
            for ((name, g), w) in names.iter().zip(got).zip(want) {
                if (g - w).abs() > 1e-6 * w.abs().max(1.0) {
                    return Err(format!(
                        "made for {name} = {g} but layer {} needs {w} (recalibrate with --from-config)",
                        layer.chain_index
                    ));
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

/// The first spike of every on-chip neuron of every sample, per NeuronLayer.
#[derive(Clone, Debug, PartialEq)]
pub struct ChipForward {
    /// `[batch, size]` per NeuronLayer in chain order, model units after the sample start, +inf = silent.
    pub layers: Vec<Matrix>,
}

/// A chip with a network mapped onto it.
#[derive(Debug)]
pub struct ChipBackend {
    substrate: Substrate,
    settings: ChipSettings,
    mapping: ChipMapping,
    values: Vec<CircuitValues>,
    /// Synapse DAC bias of every quadrant.
    dac: u16,
    emulator: Option<InProcessServer>,
    connection: Option<BlockingConnection>,
    /// Static configuration already on the chip.
    configured: bool,
    /// The synapse quad words last written.
    written_quads: Option<Vec<(u32, u32)>>,
    label_table: Vec<Option<u16>>,
    layer_of_neuron: Vec<Option<(usize, usize)>>,
    stats: ChipStats,
    clip_warned: bool,
}

impl ChipBackend {
    /// Maps a network onto a chip; CapMem values from the profile's nominal curves.
    pub fn new(network: &Network, substrate: Substrate, settings: ChipSettings) -> Result<ChipBackend, ChipError> {
        let mapping = ChipMapping::new(network)?;
        let (values, dac) = match &settings.calibration {
            Some((path, file)) => {
                file.check_chip(path, &substrate.identity(settings.chip_seed))
                    .map_err(|e| ChipError::Calibration(e.to_string()))?;
                check_targets(&mapping, &file.targets, settings.scales)
                    .map_err(|e| ChipError::Calibration(format!("{}: {e}", path.display())))?;
                // Calibrations are measured at the standard DAC bias.
                (file.values.clone(), SYNAPSE_DAC_BIAS)
            }
            None => nominal_circuit_values(&mapping, &substrate, settings.scales),
        };
        let emulator = match &substrate {
            Substrate::Emulator { profile } => {
                let emulator = Arc::new(Mutex::new(Emulator::new(profile.clone(), settings.chip_seed)));
                Some(InProcessServer::new(emulator, settings.faults.clone(), settings.chip_seed))
            }
            Substrate::Endpoint(_) => None,
        };
        let mut layer_of_neuron = vec![None; LOGICAL_NEURONS];
        for (l, layer) in mapping.layers.iter().enumerate() {
            for j in 0..layer.size {
                layer_of_neuron[layer.first + j] = Some((l, j));
            }
        }
        let label_table = layout::label_table(&mapping.neuron_slots);
        Ok(ChipBackend {
            substrate,
            settings,
            mapping,
            values,
            dac,
            emulator,
            connection: None,
            configured: false,
            written_quads: None,
            label_table,
            layer_of_neuron,
            stats: ChipStats::default(),
            clip_warned: false,
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

    /// Programs the embedded emulator has executed (None for an endpoint, whose count the host cannot know).
    pub fn emulator_runs(&self) -> Option<u64> {
        self.emulator.as_ref().map(|e| e.emulator().lock().unwrap_or_else(|p| p.into_inner()).runs())
    }

    /// Continues the embedded emulator's trial-to-trial noise after `runs` programs (a resumed training sees
    /// the noise an uninterrupted one would have). An endpoint's chip keeps its own noise.
    pub fn continue_after(&mut self, runs: u64) {
        match &self.emulator {
            Some(e) => e.emulator().lock().unwrap_or_else(|p| p.into_inner()).continue_after(runs),
            None => tracing::info!("a served chip's noise is its own: a resumed run does not repeat it exactly"),
        }
    }

    fn connect(&mut self) -> Result<&mut BlockingConnection, ChipError> {
        if self.connection.is_none() {
            let mut connection = match (&self.substrate, &mut self.emulator) {
                (Substrate::Emulator { .. }, Some(server)) => {
                    BlockingConnection::with_link(|| Link::new(server.connect()))
                }
                (Substrate::Endpoint(endpoint), _) => BlockingConnection::open(endpoint),
                (Substrate::Emulator { .. }, None) => unreachable!("the emulator is created with the backend"),
            }
            .map_err(|e| ChipError::Connection(super::with_causes(&e)))?;
            connection.set_timeout(self.settings.timeout);
            // A new connection may meet a chip whose state we do not know: configure everything again.
            self.configured = false;
            self.written_quads = None;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_mut().expect("just connected"))
    }

    /// Runs a batch `[batch, n_inputs]` of input times on the chip with the network's current weights.
    pub fn forward(&mut self, network: &Network, inputs: &Matrix) -> Result<ChipForward, ChipError> {
        let quads = self.synapse_quads(network);
        let mut last_error = None;
        for attempt in 0..self.settings.retries.max(1) {
            if attempt > 0 {
                self.stats.retries += 1;
            }
            let building = Instant::now();
            let program = self.program(inputs, &quads);
            let started = Instant::now();
            let outcome =
                self.connect().and_then(|c| c.run(&program).map_err(|e| ChipError::Connection(super::with_causes(&e))));
            let answered = Instant::now();
            let forward = outcome.and_then(|response| self.dissect(&response, inputs.rows));
            self.stats.chip_seconds += (answered - started).as_secs_f64();
            self.stats.protocol_seconds += (started - building + answered.elapsed()).as_secs_f64();
            match forward {
                Ok(forward) => {
                    self.configured = true;
                    self.written_quads = Some(quads);
                    self.stats.runs += 1;
                    return Ok(forward);
                }
                Err(e) => {
                    tracing::warn!("chip run {} of {} failed: {e}", attempt + 1, self.settings.retries.max(1));
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
    fn program(&mut self, inputs: &Matrix, quads: &[(u32, u32)]) -> Program {
        let mut builder = ProgramBuilder::new();
        let mut words = 0u64;
        if !self.configured {
            let writes = static_writes(&self.mapping, &self.values, self.dac);
            words += writes.len() as u64;
            builder.write_all(writes);
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
        let window_us = self.settings.window * self.settings.scales.time_unit_us;
        let events: Vec<_> = self.input_spikes(inputs).iter().map(InputSpike::event).collect();
        builder.spikes(&events);
        let end_us = self.settings.offset_us + inputs.rows as f64 * window_us;
        builder.wait_until((end_us * CYCLES_PER_US as f64).ceil() as u32);
        builder.build()
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
        let mut unknown = 0usize;
        for spike in &response.spikes {
            let Some(b) = self.label_table[usize::from(spike.label.0 & 0x7FF)] else {
                unknown += 1;
                continue;
            };
            let Some((l, j)) = self.layer_of_neuron[usize::from(b)] else {
                unknown += 1;
                continue;
            };
            // The stamp counts whole cycles: take the middle of the cycle.
            let t = ((spike.chip_time as f64 + 0.5) / CYCLES_PER_US as f64 - self.settings.offset_us) / tu;
            if t > duration + self.settings.window {
                return Err(ChipError::Stall(format!(
                    "a spike at {:.1} us lies beyond the run's {:.1} us",
                    t * tu,
                    duration * tu
                )));
            }
            if t < 0.0 {
                continue;
            }
            let sample = (t / self.settings.window).floor() as usize;
            if sample >= batch {
                continue;
            }
            let local = t - sample as f64 * self.settings.window;
            let cols = layers[l].cols;
            let cell = &mut layers[l].data[sample * cols + j];
            if local < *cell {
                *cell = local;
            }
        }
        if unknown > 0 {
            tracing::warn!("{unknown} recorded spikes came from neurons outside the network");
        }
        Ok(ChipForward { layers })
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

        let Some((layer, _)) = self.layer_of_neuron.get(neuron).copied().flatten() else {
            return Err(ChipError::Unsupported(format!(
                "neuron {neuron} is not part of the network on the chip (it uses neurons 0..{})",
                self.mapping.neurons()
            )));
        };
        let quads = self.synapse_quads(network);

        // The static configuration with the readout of the neuron's first circuit switched on.
        let mut writes = static_writes(&self.mapping, &self.values, self.dac);
        let coord = Neuron::from_index(layout::circuits(neuron)[0]).expect("circuit below 512");
        let mut words = <NeuronConfig as Container>::Words::default();
        for (word, address) in words.as_mut().iter_mut().zip(NeuronConfig::addresses(coord).as_ref()) {
            *word = writes.iter().rev().find(|w| w.0 == *address).map_or(0, |w| w.1);
        }
        let mut readout = NeuronConfig::decode(&words)
            .map_err(|e| ChipError::Unsupported(format!("the neuron configuration does not decode: {e}")))?;
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
        let response =
            self.connect().and_then(|c| c.run(&program).map_err(|e| ChipError::Connection(super::with_causes(&e))));
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
