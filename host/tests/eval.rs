//! `bss2 eval`: every plot of a tiny sim run, of the same on the emulated chip, and of a data set without an
//! input plane; clear errors for bad input.

use std::path::Path;

use bss2_firmware_sim::ChipProfile;
use bss2_firmware_sim::serve::ServerFaults;
use bss2_host::chip::{Chip, ChipSettings};
use bss2_host::config::{Config, Overrides};
use bss2_host::eval::{self, EvalError};
use bss2_host::forward::Placement;
use bss2_host::text::chain;
use bss2_host::train::run_dir::RunDir;
use bss2_host::train::runner::train;

fn config_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(name)
}

/// Trains `config` for `epochs` into `dir/run`.
fn tiny_run(dir: &Path, config: Config, epochs: usize) -> RunDir {
    let config = config.with_overrides(Overrides { epochs: Some(epochs), ..Overrides::default() }).unwrap();
    let run = RunDir::new(dir.join("run"));
    train(config, &run, &Default::default()).unwrap();
    run
}

/// Checks that `png` decodes, has a sensible size and is not blank.
fn check_png(png: &Path) {
    let file = std::fs::File::open(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    assert!((400..=4000).contains(&info.width) && (300..=4000).contains(&info.height), "{}: size", png.display());
    let mean = buf.iter().map(|&v| f64::from(v)).sum::<f64>() / buf.len() as f64;
    let variance = buf.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / buf.len() as f64;
    assert!(variance > 100.0, "{}: blank (variance {variance})", png.display());
}

/// Checks that every expected plot exists with its numbers beside it, and that eval listed exactly those.
fn check_plots(report: &eval::EvalReport, expected: &[&str]) {
    for stem in expected {
        let png = report.folder.join(format!("{stem}.png"));
        check_png(&png);
        let numbers = ["csv", "npy"].iter().any(|ext| png.with_extension(ext).is_file());
        assert!(numbers, "{stem}: no .csv or .npy beside the plot");
    }
    let mut listed: Vec<String> =
        report.plots.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    listed.sort();
    let mut want: Vec<String> = expected.iter().map(|s| (*s).to_string()).collect();
    want.sort();
    assert_eq!(listed, want);
}

const COMMON: [&str; 10] = [
    "curves",
    "confusion_train",
    "confusion_test",
    "output_histograms",
    "output_sorted",
    "output_differences",
    "summary",
    "plane_train",
    "plane_test",
    "weights_histogram_layer_3",
];

#[test]
fn eval_of_a_sim_run_writes_every_plot() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), Config::load(&config_file("yin_yang.yaml")).unwrap(), 2);
    let report = eval::run(&run, None, Placement::Simulation, None).unwrap();
    assert_eq!(report.epoch, 2);
    assert_eq!(report.folder, run.epoch(2).join("plots"));
    let mut expected = COMMON.to_vec();
    expected.extend([
        "hidden_raster_layer_1",
        "hidden_histogram_layer_1",
        "weights_histogram_layer_1",
        "weights_matrix_layer_1",
        "weights_matrix_layer_3",
        "delays_layer_0",
        "delays_layer_2",
    ]);
    check_plots(&report, &expected);
    let curves = std::fs::read_to_string(report.folder.join("curves.csv")).unwrap();
    assert_eq!(curves.lines().count(), 1 + 3, "a header and epochs 0..=2");
}

/// The embedded emulator with the ideal profile, chip seed 1.
fn ideal_chip() -> Placement {
    let chip = Chip::embedded(ChipProfile::ideal(), 1, &ServerFaults::default());
    Placement::chip(chip, ChipSettings::default())
}

#[test]
fn eval_on_the_emulated_chip_adds_measured_vs_ideal_and_a_membrane_trace() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), Config::load(&config_file("yin_yang_chipready_W.yaml")).unwrap(), 2);
    let report = eval::run(&run, None, ideal_chip(), Some(31)).unwrap();
    let mut expected = COMMON.to_vec();
    expected.extend([
        "hidden_raster_layer_2",
        "hidden_histogram_layer_2",
        "weights_histogram_layer_2",
        "weights_matrix_layer_2",
        "weights_matrix_layer_4",
        "weights_histogram_layer_4",
        "measured_vs_ideal",
        "membrane_neuron_31",
    ]);
    expected.retain(|s| *s != "weights_histogram_layer_3");
    check_plots(&report, &expected);
    let stats = report.chip.unwrap();
    assert!(stats.runs > 0);
    // The trace has membrane samples in mV and the neuron's input spikes for each of the samples.
    let trace = std::fs::read_to_string(report.folder.join("membrane_neuron_31.csv")).unwrap();
    let rows: Vec<Vec<f64>> =
        trace.lines().skip(1).map(|l| l.split(',').map(|c| c.parse().unwrap()).collect()).collect();
    for sample in 0..eval::TRACE_SAMPLES {
        let of = |kind: f64| rows.iter().filter(|r| r[0] == sample as f64 && r[1] == kind).count();
        assert!(of(0.0) > 100, "sample {sample}: membrane samples");
        assert!(of(1.0) > 0, "sample {sample}: input spikes");
    }
    // A neuron outside the network is refused with a clear error.
    let message = chain(&eval::run(&run, None, ideal_chip(), Some(200)).unwrap_err());
    assert!(message.contains("neuron 200"), "{message}");
}

#[test]
fn eval_of_a_data_set_without_a_plane_skips_the_plane() {
    // The XOR data set has 4 inputs, no 2-D plane.
    let config = Config::parse_str(include_str!("data/xor_10_hidden.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), config, 3);
    let report = eval::run(&run, None, Placement::Simulation, None).unwrap();
    assert!(!report.folder.join("plane_test.png").exists());
    let mut expected: Vec<&str> = COMMON.iter().copied().filter(|p| !p.starts_with("plane_")).collect();
    expected.extend([
        "hidden_raster_layer_1",
        "hidden_histogram_layer_1",
        "weights_histogram_layer_1",
        "weights_matrix_layer_1",
        "weights_matrix_layer_3",
    ]);
    check_plots(&report, &expected);
}

#[test]
fn bad_input_gives_errors_that_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = RunDir::new(dir.path().join("nothing"));
    let e = eval::run(&missing, None, Placement::Simulation, None).unwrap_err();
    assert!(matches!(e, EvalError::NoFolder(_)) && e.to_string().contains("nothing"), "{e}");

    let run = tiny_run(dir.path(), Config::load(&config_file("yin_yang.yaml")).unwrap(), 1);
    let e = eval::run(&run, Some(7), Placement::Simulation, None).unwrap_err().to_string();
    assert!(e.contains("epoch_7/network.safetensors") && e.contains("saved epochs 1"), "{e}");

    std::fs::write(run.metrics(), "epoch,train_loss\n0,nan\n").unwrap();
    let e = eval::run(&run, None, Placement::Simulation, None).unwrap_err().to_string();
    assert!(e.contains("metrics.csv") && e.contains("train_accuracy"), "{e}");
    std::fs::remove_file(run.metrics()).unwrap();
    let e = eval::run(&run, None, Placement::Simulation, None).unwrap_err().to_string();
    assert!(e.contains("metrics.csv"), "{e}");

    std::fs::remove_file(run.config()).unwrap();
    let e = eval::run(&run, None, Placement::Simulation, None).unwrap_err().to_string();
    assert!(e.contains("config.yaml"), "{e}");

    std::fs::write(run.network(1), b"not a network").unwrap();
    let e = eval::run(&run, Some(1), Placement::Simulation, None);
    assert!(e.is_err());
}
