//! Helpers shared by integration tests: the reference's pretrained networks as run folders, and emulators
//! served by `bss2 emulator serve` in a child process.
#![allow(dead_code)]

use std::path::Path;

use bss2_host::chip::ChipSettings;
use bss2_host::config::Config;
use bss2_host::model::Matrix;
use bss2_host::network::{Layer, Network};
use bss2_host::train::run_dir::RunDir;
use serde_json::Value;

/// A float64 .npy file the tool wrote: its shape and its values in C order.
pub fn read_npy_f64(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(bytes.as_slice()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shape = npy.shape().iter().map(|&d| usize::try_from(d).unwrap()).collect();
    (shape, npy.into_vec().unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The reference's pretrained networks with their test outputs.
pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../host/tests/data/reference/pretrained-networks.json");

/// The fixture, parsed.
pub fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

pub fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::INFINITY)).collect())
        .collect()
}

pub fn flat(v: &Value) -> (Vec<usize>, Vec<f64>) {
    let r = rows(v);
    (vec![r.len(), r[0].len()], r.concat())
}

/// Writes `config.yaml` and `epoch_<N>/network.safetensors` of a pretrained network into `dir`.
pub fn convert(entry: &Value, dir: &Path) -> (Config, usize) {
    let text = entry["config_yaml"].as_str().unwrap();
    std::fs::write(dir.join("config.yaml"), text).unwrap();
    let config = Config::parse_str(text).unwrap();
    let mut network = Network::new(&config.layout, 0);
    let mut tensors = network.to_tensors();
    for (i, layer) in entry["layers"].as_array().unwrap().iter().enumerate() {
        assert_eq!(layer["name"].as_str().unwrap(), network.layers[i].name(), "layer {i}");
        if let Some(w) = layer.get("weights") {
            let (shape, data) = flat(w);
            tensors.insert(format!("layers.{i}.weights"), shape, data);
        }
        if let Some(d) = layer.get("raw_delays") {
            let (shape, data) = flat(d);
            tensors.insert(format!("layers.{i}.delays"), shape, data);
        }
    }
    network.load_tensors(&tensors).unwrap();
    // Our positivity function and sharing give the reference's effective delays.
    for (i, layer) in entry["layers"].as_array().unwrap().iter().enumerate() {
        if let (Some(eff), Layer::Delay(d)) = (layer.get("effective_delays"), &network.layers[i]) {
            let (shape, want) = flat(eff);
            let got = d.effective();
            assert_eq!(vec![got.rows, got.cols], shape);
            for (g, w) in got.data.iter().zip(&want) {
                assert!((g - w).abs() < 1e-14, "layer {i} effective delay {g} vs {w}");
            }
        }
    }
    let epoch = entry.get("epoch").and_then(Value::as_u64).unwrap_or(300) as usize;
    let bytes = network.to_tensors().to_bytes().unwrap();
    let run = RunDir::new(dir);
    run.write(&run.network(epoch), &bytes).unwrap();
    (config, epoch)
}

/// The input times the chip really receives: rounded to whole FPGA cycles, as the backend sends them.
pub fn on_cycle_grid(inputs: &Matrix, settings: &ChipSettings) -> Matrix {
    let tu = settings.scales.time_unit_us;
    let mut out = inputs.clone();
    for b in 0..inputs.rows {
        for i in 0..inputs.cols {
            let t = &mut out.data[b * inputs.cols + i];
            if t.is_finite() {
                let us = settings.offset_us + (b as f64 * settings.window + *t) * tu;
                let cycles = (us * 125.0).round();
                *t = (cycles / 125.0 - settings.offset_us) / tu - b as f64 * settings.window;
            }
        }
    }
    out
}

/// One 8 ns tick in model units at 6 us per unit.
pub const TICK: f64 = 1.0 / (125.0 * 6.0);

/// `PROPTEST_CASES` if set, else `default`.
pub fn cases_from_environment(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Chip times against the model's within one tick, where the model is well conditioned: `low` and `high` are the
/// model with the threshold 2e-4 lower and higher (a crossing that barely grazes the threshold moves by many
/// ticks when the chip's CapMem integers shift the threshold-to-gain ratio by ~1e-5: such outputs are skipped).
/// Outputs the model puts in the window's last unit (or never) must be late or missing on the chip too.
pub fn within_a_tick(
    chip: &Matrix,
    model: &Matrix,
    (low, high): (&Matrix, &Matrix),
    window: f64,
) -> Result<(), proptest::test_runner::TestCaseError> {
    for (i, (&chip_t, &model_t)) in chip.data.iter().zip(&model.data).enumerate() {
        let both_silent = low.data[i].is_infinite() && high.data[i].is_infinite();
        let well_conditioned = (high.data[i] - low.data[i]).abs() <= TICK;
        if !(well_conditioned || both_silent) {
            continue;
        }
        if model_t < window - 1.0 {
            proptest::prop_assert!((chip_t - model_t).abs() <= TICK, "output {i}: chip {chip_t} model {model_t}");
        } else {
            proptest::prop_assert!(
                chip_t.is_infinite() || chip_t > window - 1.0 - TICK,
                "output {i}: chip {chip_t}, model silent ({model_t})"
            );
        }
    }
    Ok(())
}

/// A `bss2 emulator serve` child process, killed when dropped.
pub struct Server {
    /// The process.
    pub child: std::process::Child,
    /// The endpoint it printed.
    pub endpoint: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves an emulated chip with this seed on `listen` with link faults `faults`; waits until it listens.
pub fn serve(listen: &str, faults: &str, chip_seed: u64) -> Server {
    use std::io::BufRead;
    let seed = chip_seed.to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bss2-e2e"))
        .args(["-q", "emulator", "serve", "--listen", listen, "--chip-seed", &seed, "--faults", faults])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let endpoint = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_string();
    Server { child, endpoint }
}

/// Waits for `child` to end and returns its output; fails the test if it is still running after `limit` (a
/// generous bound derived from the configured timeouts and retries: it catches a hang without timing the run).
pub fn wait_within(child: std::process::Child, limit: std::time::Duration) -> std::process::Output {
    let pid = child.id();
    let (done, waiting) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match waiting.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the process did not end within {limit:?}: it hangs instead of giving up");
        }
    }
}

/// Runs `command` to its end like [`wait_within`], with its output captured.
pub fn output_within(command: &mut std::process::Command, limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_within(child, limit)
}

/// The chip runs a command's log reports as failed (`chip run K of N failed: ...`), as (K, N) in order.
pub fn failed_runs(stderr: &str) -> Vec<(usize, usize)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("chip run ")? + "chip run ".len()..];
            let (k, rest) = rest.split_once(" of ")?;
            let (n, _) = rest.split_once(" failed")?;
            Some((k.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}
