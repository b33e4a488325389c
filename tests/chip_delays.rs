//! Axonal delays on the chip's delay pairs against the host's exact model: on the `ideal` chip a random layer
//! behind a delay layer gives the model's spike times (with the delays the pairs realise at the counts the map
//! picks) within one 8 ns tick, and the pairs' delayed spikes are the delayed inputs within a tick; the reference's
//! hardware-aware delay network keeps its accuracy on a calibrated default chip.

use bss2_calibration::delays::{DelayCalibration, DelayMap, DelaySettings, PairResult};
use bss2_firmware_sim::ChipProfile;
use bss2_firmware_sim::delays::ChipDelays;
use bss2_firmware_sim::serve::ServerFaults;
use bss2_host::chip::{Chip, ChipBackend, ChipSettings};
use bss2_host::config::Config;
use bss2_host::model::Matrix;
use bss2_host::network::{ForwardOptions, Layer, Network};
use bss2_protocol::delay_pair::{DelayPair, PairCapMem};
use proptest::prelude::*;

mod common;

use common::TICK;

/// The ideal chip's pairs at their nominal values with the threshold at the rebound's midpoint, and each pair's
/// map through its true delays at 50 and 250 counts (what a delay calibration finds on this chip).
fn ideal_delays() -> (ChipDelays, DelayCalibration) {
    let chip = ChipDelays::new(&ChipProfile::ideal(), 1);
    let pairs = DelayPair::all()
        .map(|p| {
            let capmem = chip.with_midpoint_threshold(p, &PairCapMem::NOMINAL, 150);
            let (d50, d250) = (chip.delay_us(p, &capmem, 50).unwrap(), chip.delay_us(p, &capmem, 250).unwrap());
            let slope_us = (d250 - d50) / 200.0;
            let map = DelayMap { offset_us: d50 - 50.0 * slope_us, slope_us };
            PairResult { capmem, map: Some(map), failure: None }
        })
        .collect();
    (chip, DelayCalibration { settings: DelaySettings::default(), pairs })
}

/// The chip-ready config (4 inputs) with an axonal delay layer (raw delays used as they are), a NeuronLayer of
/// `size` (the layer under test) and the 3 outputs the data set needs; `with_delays: false` leaves the delay
/// layer out.
fn config(size: usize, threshold: f64, with_delays: bool) -> Config {
    let mut doc: yaml_serde::Value =
        yaml_serde::from_str(include_str!("../configs/yin_yang_chipready_W.yaml")).unwrap();
    let params =
        format!("{{tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: {threshold}, max_dw_norm: null}}");
    doc["default_neuron_params"] = yaml_serde::from_str(&params).unwrap();
    let delay = if with_delays {
        "{name: DelayAxonal, delay_mean: 3.0, delay_std: 0.5, positivity: {name: clip}, trainable: true}"
    } else {
        "{name: BroadcastLayer}"
    };
    let layout = format!(
        "{{n_inputs: 4, layers: [{delay}, {{name: NeuronLayer, size: {size}, weights_mean: 0.0, weights_std: 1.0, \
         max_num_missing_spikes: 0.5, trainable: true}}, {{name: BroadcastLayer}}, {{name: NeuronLayer, size: 3, \
         weights_mean: 0.5, weights_std: 0.5, max_num_missing_spikes: 0.5, trainable: true}}]}}"
    );
    doc["network_layout"] = yaml_serde::from_str(&layout).unwrap();
    Config::parse_str(&yaml_serde::to_string(&doc).unwrap()).unwrap()
}

#[derive(Debug, Clone)]
struct Case {
    size: usize,
    batch: usize,
    threshold: f64,
    delays: Vec<f64>,
    weights: Vec<i32>,
    times: Vec<Option<f64>>,
}

fn cases() -> impl Strategy<Value = Case> {
    (1usize..6, 1usize..4, 0.6f64..2.8).prop_flat_map(|(m, b, threshold)| {
        (
            // 9..33 us, the pairs' range.
            proptest::collection::vec(1.5f64..5.5, 4),
            proptest::collection::vec(-20i32..=63, 4 * m),
            proptest::collection::vec(proptest::option::weighted(0.8, 0.0f64..4.0), b * 4),
        )
            .prop_map(move |(delays, weights, times)| Case {
                size: m,
                batch: b,
                threshold,
                delays,
                weights,
                times,
            })
    })
}

proptest! {
    // 24 cases by default (each runs the emulator); PROPTEST_CASES=N runs N.
    #![proptest_config(ProptestConfig { cases: common::cases_from_environment(24), ..ProptestConfig::default() })]

    #[test]
    fn an_ideal_chip_reproduces_a_layer_behind_axonal_delays_within_one_tick(case in cases()) {
        let (truth, calibration) = ideal_delays();
        let mut network = Network::new(&config(case.size, case.threshold, true).layout, 1);
        let Layer::Delay(d) = &mut network.layers[0] else { unreachable!("the delay layer") };
        d.raw.data.clone_from(&case.delays);
        let Layer::Neuron(layer) = &mut network.layers[1] else { unreachable!("the tested layer") };
        layer.weights.data = case.weights.iter().map(|&w| f64::from(w) / 30.0).collect();
        let inputs = Matrix {
            rows: case.batch,
            cols: 4,
            data: case.times.iter().map(|t| t.unwrap_or(f64::INFINITY)).collect(),
        };
        let settings = ChipSettings { delays: Some(calibration.clone()), ..ChipSettings::default() };
        let chip = Chip::embedded(ChipProfile::ideal(), 1, &ServerFaults::default());
        let mut backend = ChipBackend::new(&network, chip, settings.clone()).unwrap();
        let measured = backend.forward(&network, &inputs).unwrap();

        // The delays the pairs realise: the counts the map picks, through the pairs' true delays.
        let tu = settings.scales.time_unit_us;
        let realised: Vec<f64> = (0..4)
            .map(|i| {
                let pair = DelayPair::new(i).unwrap();
                let result = &calibration.pairs[i];
                let counts = result.map.unwrap().counts(case.delays[i] * tu).counts;
                truth.delay_us(pair, &result.capmem, counts).unwrap() / tu
            })
            .collect();
        let grid = common::on_cycle_grid(&inputs, &settings);
        let delayed = Matrix {
            rows: grid.rows,
            cols: 4,
            data: grid.data.iter().enumerate().map(|(k, t)| t + realised[k % 4]).collect(),
        };
        let chip_delayed = measured.delays[0].as_ref().unwrap();
        for (k, (&chip_t, &want)) in chip_delayed.data.iter().zip(&delayed.data).enumerate() {
            if want < settings.window - 1.0 {
                prop_assert!((chip_t - want).abs() <= TICK, "delayed input {k}: chip {chip_t} model {want}");
            } else {
                prop_assert!(!want.is_finite() || chip_t > settings.window - 1.0 - TICK, "input {k}: chip {chip_t}");
            }
        }

        // The tested layer from the delayed inputs, in a network without the delay layer.
        let mut undelayed = Network::new(&config(case.size, case.threshold, false).layout, 1);
        let Layer::Neuron(l) = &mut undelayed.layers[1] else { unreachable!() };
        l.weights.data = case.weights.iter().map(|&w| f64::from(w) / 30.0).collect();
        let mut noise = bss2_host::rng::stream(0, bss2_host::rng::Purpose::Inference, 0);
        let mut model = |factor: f64| {
            let mut n = undelayed.clone();
            let Layer::Neuron(l) = &mut n.layers[1] else { unreachable!() };
            l.config.neuron.params.threshold *= factor;
            let mut opts = ForwardOptions { rounding: None, integrator: None, noise: &mut noise };
            n.forward(&delayed, &mut opts).neuron_outputs[1].clone().unwrap()
        };
        let (exact, low, high) = (model(1.0), model(1.0 - 2e-4), model(1.0 + 2e-4));
        common::within_a_tick(&measured.layers[0], &exact, (&low, &high), settings.window)?;
    }
}

/// The reference's hardware-aware network with axonal delays (`yin_yang_hwAware_WA`: 92.8 % in the reference's
/// noisy evaluation, 90.2 % when re-run there, 89.6 % in our exact simulation), run on the default emulated chip
/// after `bss2 calibrate --delays` for its model: its delays go through the calibrated pairs, and it keeps its
/// simulated accuracy within 3 points (measured on chip seed 1: 89.7 %).
#[test]
fn the_hardware_aware_delay_network_keeps_its_accuracy_on_a_calibrated_default_chip() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    // The reference tiled its presynaptic sharing (quirk 14: copy p of the 20 input copies used raw delay p mod 4);
    // our sharing groups consecutive copies, so the network is loaded with one raw delay per copy, as it was.
    let mut entry = common::fixture()["yin_yang_hwAware_WA"].clone();
    let config = entry["config_yaml"].as_str().unwrap().replace("presyn_sharing_factor: 5", "presyn_sharing_factor: 1");
    entry["config_yaml"] = config.into();
    let raw = entry["layers"][1]["raw_delays"].as_array().unwrap().clone();
    entry["layers"][1]["raw_delays"] = (0..20).map(|p| raw[p % 4].clone()).collect::<Vec<_>>().into();
    common::convert(&entry, &run);
    let bss2 = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bss2-e2e"));
        cmd.arg("-q").env("BSS2_CACHE_DIR", tmp.path().join("cache"));
        cmd
    };
    let calibration = tmp.path().join("calibration.json");
    let out = bss2()
        .args(["calibrate", "--substrate", "emulator", "--delays", "--from-config"])
        .arg(run.join("config.yaml"))
        .arg("--out")
        .arg(&calibration)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let accuracy = |substrate: &[&str]| {
        let out = bss2().arg("inference").arg(&run).args(substrate).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let at = stdout.find("test accuracy ").unwrap() + "test accuracy ".len();
        stdout[at..].split('%').next().unwrap().parse::<f64>().unwrap()
    };
    let chip = accuracy(&["--substrate", "emulator", "--calibration", calibration.to_str().unwrap()]);
    let sim = accuracy(&["--substrate", "sim"]);
    eprintln!("yin_yang_hwAware_WA: {chip} % on the calibrated default chip, {sim} % in simulation");
    assert!(sim > 85.0 && chip >= sim - 3.0, "chip {chip} %, simulation {sim} %");
}

/// A dendritic delay before the output layer is a delay of each output neuron's spike: on the ideal chip the
/// outputs are the model's (inputs of neuron j delayed by the delay its pair realises) within two ticks (one for
/// the hidden spikes the outputs see, one for the recording).
#[test]
fn an_ideal_chip_realises_dendritic_delays_as_delayed_outputs() {
    let (truth, calibration) = ideal_delays();
    let mut doc: yaml_serde::Value =
        yaml_serde::from_str(include_str!("../configs/yin_yang_chipready_W.yaml")).unwrap();
    doc["default_neuron_params"] =
        yaml_serde::from_str("{tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.2, max_dw_norm: null}")
            .unwrap();
    let layers = |delay: &str| {
        format!(
            "{{n_inputs: 4, layers: [{{name: BroadcastLayer}}, {{name: NeuronLayer, size: 6, weights_mean: 1.0, \
             weights_std: 0.3, max_num_missing_spikes: 0.5, trainable: true}}, {delay}, {{name: NeuronLayer, size: 3, \
             weights_mean: 0.8, weights_std: 0.3, max_num_missing_spikes: 0.5, trainable: true}}]}}"
        )
    };
    doc["network_layout"] = yaml_serde::from_str(&layers(
        "{name: DelayDendritic, delay_mean: 3.0, delay_std: 0.6, positivity: {name: clip}, trainable: true}",
    ))
    .unwrap();
    let config = Config::parse_str(&yaml_serde::to_string(&doc).unwrap()).unwrap();
    let network = Network::new(&config.layout, 5);
    let settings = ChipSettings { delays: Some(calibration.clone()), ..ChipSettings::default() };
    let mut backend =
        ChipBackend::new(&network, Chip::embedded(ChipProfile::ideal(), 1, &ServerFaults::default()), settings.clone())
            .unwrap();
    let inputs = Matrix { rows: 4, cols: 4, data: (0..16).map(|k| 0.25 * f64::from(k % 7) + 0.1).collect() };
    let measured = backend.forward(&network, &inputs).unwrap();

    // The model with the chip's weights (on its 1/30 grid) and the delays the three pairs realise.
    let Layer::Delay(d) = &network.layers[2] else { unreachable!("the dendritic delay") };
    let tu = settings.scales.time_unit_us;
    let mut realised = bss2_host::forward::as_held(&network, settings.scales.scale_weights);
    let Layer::Delay(r) = &mut realised.layers[2] else { unreachable!() };
    for (j, raw) in r.raw.data.iter_mut().enumerate() {
        let (pair, result) = (DelayPair::new(j).unwrap(), &calibration.pairs[j]);
        let counts = result.map.unwrap().counts(d.raw.data[j] * tu).counts;
        *raw = truth.delay_us(pair, &result.capmem, counts).unwrap() / tu;
    }
    let mut noise = bss2_host::rng::stream(0, bss2_host::rng::Purpose::Inference, 0);
    let grid = common::on_cycle_grid(&inputs, &settings);
    let model = realised.forward(&grid, &mut ForwardOptions { rounding: None, integrator: None, noise: &mut noise });
    let want = model.neuron_outputs[3].as_ref().unwrap();
    let got = &measured.layers[1];
    let finite = want.data.iter().filter(|t| t.is_finite()).count();
    assert!(finite >= 6, "the outputs fire: {want:?}");
    for (k, (&g, &w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!(
            if w.is_finite() { (g - w).abs() <= 2.0 * TICK } else { g.is_infinite() },
            "output {k}: chip {g}, model {w}"
        );
    }
}
