//! `bss2 calibrate` end to end on the embedded emulator: the calibration file, its cache, its use by
//! `bss2 inference` and `bss2 emulator inspect`, and its refusal for another chip.

use std::process::Command;

mod common;

const BSS2: &str = env!("CARGO_BIN_EXE_bss2-e2e");

fn accuracy(stdout: &str) -> f64 {
    let at = stdout.find("accuracy ").expect("an accuracy line") + "accuracy ".len();
    stdout[at..].split('%').next().unwrap().parse().unwrap()
}

#[test]
fn calibrate_cache_apply_and_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let file = dir.path().join("chip1.json");
    let calibrate = || {
        Command::new(BSS2)
            .args(["-q", "calibrate", "--substrate", "emulator", "--chip-seed", "1", "--out"])
            .arg(&file)
            .arg("--report")
            .arg(dir.path().join("report"))
            .env("BSS2_CACHE_DIR", &cache)
            .output()
            .unwrap()
    };
    let out = calibrate();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("calibrated emulator profile=default") && stdout.contains("threshold"), "{stdout}");
    for name in ["tau_mem", "tau_syn_exc", "tau_syn_inh", "leak", "reset", "threshold", "gain_exc", "gain_inh"] {
        let png = dir.path().join("report").join(format!("{name}.png"));
        assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 10_000), "{}", png.display());
        assert!(dir.path().join("report").join(format!("{name}.csv")).is_file());
    }
    let again = calibrate();
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged request"), "the cached calibration is reused");

    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    common::convert(&common::fixture()["yin_yang_chipready_W"], &run);
    let inference = |extra: &[&str]| {
        Command::new(BSS2)
            .args(["-q", "inference"])
            .arg(&run)
            .args(["--substrate", "emulator"])
            .args(extra)
            .output()
            .unwrap()
    };
    let nominal = inference(&[]);
    let calibrated = inference(&["--calibration", file.to_str().unwrap()]);
    assert!(calibrated.status.success(), "{}", String::from_utf8_lossy(&calibrated.stderr));
    let (before, after) =
        (accuracy(&String::from_utf8_lossy(&nominal.stdout)), accuracy(&String::from_utf8_lossy(&calibrated.stdout)));
    eprintln!("chip-ready on the default chip (seed 1): {before} % nominal, {after} % calibrated");
    assert!(after > before + 20.0, "calibration recovers accuracy: {before} -> {after}");

    let other = inference(&["--chip-seed", "2", "--calibration", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1));
    assert!(stderr.contains("was made for") && stderr.contains("chip_seed=1"), "{stderr}");

    let inspect = Command::new(BSS2)
        .args(["emulator", "inspect", "--chip-seed", "1", "--calibration", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    let taus: Vec<f64> = String::from_utf8_lossy(&inspect.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let mean = taus.iter().sum::<f64>() / taus.len() as f64;
    let std = (taus.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (taus.len() - 1) as f64).sqrt();
    assert!((mean - 6.0).abs() < 0.05 && std / mean < 0.02, "tau_mem by ground truth: {mean} +- {std}");
}

/// `bss2 calibrate --delays`: the file's delay section, the failed pairs in the output, the cache, its use by
/// `bss2 emulator inspect --delays` (ground truth with the calibrated pair values) and its refusal for another chip.
#[test]
fn delay_calibration_is_saved_cached_checked_by_ground_truth_and_refused_for_another_chip() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chip1.json");
    let calibrate = || {
        Command::new(BSS2)
            .args(["-q", "calibrate", "--delays", "--chip-seed", "1", "--out"])
            .arg(&file)
            .env("BSS2_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap()
    };
    let out = calibrate();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let saved = bss2_calibration::file::CalibrationFile::load(&file).unwrap();
    let delays = saved.delays.as_ref().expect("a delay section");
    let failed: Vec<usize> = delays.failed().map(|(p, _)| p.index()).collect();
    assert!(stdout.contains(&format!("{} of 128 delay pairs usable; {} failed", 128 - failed.len(), failed.len())));
    for (p, reason) in delays.failed() {
        assert!(stdout.contains(&format!("  pair {}: {reason}", p.index())), "{stdout}");
    }
    // The default chip's weak pairs (a rebound a fifth of the others') are among the failed.
    assert!(failed.len() >= 3 && failed.len() <= 12, "{failed:?}");
    assert!(String::from_utf8_lossy(&calibrate().stdout).contains("unchanged request"));

    let inspect = |seed: &str| {
        Command::new(BSS2)
            .args(["emulator", "inspect", "--delays", "--counts", "50,250", "--chip-seed", seed, "--calibration"])
            .arg(&file)
            .output()
            .unwrap()
    };
    let truth = inspect("1");
    assert!(truth.status.success(), "{}", String::from_utf8_lossy(&truth.stderr));
    let mut checked = 0;
    for line in String::from_utf8_lossy(&truth.stdout).lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (pair, counts): (usize, u8) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
        let Some(map) = delays.pairs[pair].map else { continue };
        let t: f64 = fields[2].parse().expect("a used pair fires");
        assert!((t - map.delay_us(counts)).abs() < 0.1, "pair {pair} at {counts}: truth {t}, map {map:?}");
        checked += 1;
    }
    assert_eq!(checked, 2 * (128 - failed.len()));
    let other = inspect("2");
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1));
    assert!(stderr.contains("was made for") && stderr.contains("chip_seed=1"), "{stderr}");
}
