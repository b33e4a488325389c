//! The delay calibration on emulated chips, checked against the emulator's ground truth
//! (`bss2_firmware_sim::delays`: every pair's noise-free delay with the calibrated CapMem values), not against
//! the calibration's own sweep.

use bss2_calibration::delays::{DelayCalibration, DelaySettings, calibrate};
use bss2_firmware_sim::delays::ChipDelays;
use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::delay_pair::{DelayPair, MAX_COUNTS, MIN_COUNTS};

mod common;
use common::Direct;

fn calibrated(profile: &ChipProfile, seed: u64) -> DelayCalibration {
    let mut chip = Direct(Emulator::new(profile.clone(), seed));
    calibrate(&mut chip, &DelaySettings::default(), &mut |_, _, _| {}).expect("the emulator answers")
}

#[test]
fn on_the_ideal_chip_every_pair_is_used_and_its_map_is_the_truth_within_one_tick() {
    let profile = ChipProfile::ideal();
    let delays = calibrated(&profile, 1);
    let truth = ChipDelays::new(&profile, 1);
    assert_eq!(delays.failed().collect::<Vec<_>>(), vec![], "no pair fails on the ideal chip");
    let mut worst = 0.0f64;
    for (pair, map) in delays.used() {
        let values = delays.pairs[pair.index()].capmem;
        for counts in MIN_COUNTS..=MAX_COUNTS {
            let t = truth.delay_us(pair, &values, counts).expect("a calibrated pair fires");
            worst = worst.max((map.delay_us(counts) - t).abs());
        }
    }
    eprintln!("ideal chip: worst |map - truth| over pairs and counts {:.4} us", worst);
    assert!(worst <= 0.008, "{worst}");
}

/// Over requests 8.5..33 us (step 0.05 us): the worst |realised - requested| of every used pair, where realised
/// is the true delay at the counts its map picks, and (mean, std) over pairs of realised minus requested.
fn realised_errors(profile: &ChipProfile, seed: u64, delays: &DelayCalibration) -> (Vec<(DelayPair, f64)>, (f64, f64)) {
    let truth = ChipDelays::new(profile, seed);
    let mut worst = Vec::new();
    let mut all = Vec::new();
    for (pair, map) in delays.used() {
        let values = delays.pairs[pair.index()].capmem;
        let table: Vec<Option<f64>> = (0..=MAX_COUNTS).map(|c| truth.delay_us(pair, &values, c)).collect();
        let mut w = 0.0f64;
        for k in 0..=490 {
            let request = 8.5 + 0.05 * f64::from(k);
            let counts = map.counts(request);
            let realised = table[usize::from(counts.counts)].unwrap_or(f64::INFINITY);
            w = w.max((realised - request).abs());
            all.push(realised - request);
        }
        worst.push((pair, w));
    }
    let n = all.len() as f64;
    let mean = all.iter().sum::<f64>() / n;
    let std = (all.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    (worst, (mean, std))
}

#[test]
fn on_default_chips_every_used_pair_realises_requests_within_one_count_by_ground_truth() {
    let profile = ChipProfile::default_chip();
    for seed in [1, 2, 3] {
        let delays = calibrated(&profile, seed);
        let failed: Vec<_> = delays.failed().map(|(p, r)| format!("{}: {r}", p.index())).collect();
        let (worst, (mean, std)) = realised_errors(&profile, seed, &delays);
        let max = worst.iter().map(|w| w.1).fold(0.0, f64::max);
        eprintln!(
            "default chip seed {seed}: {} pairs used, {} failed; realised - requested over 8.5..33 us: mean {mean:.4} \
             std {std:.4} us, worst pair {max:.4} us\n  failed: {failed:?}",
            worst.len(),
            failed.len()
        );
        let bad: Vec<_> = worst.iter().filter(|w| w.1 > 0.125).collect();
        assert!(bad.is_empty(), "seed {seed}: pairs beyond 0.125 us: {bad:?}");
    }
}
