//! `bss2 emulator inspect --delays`: the true delay of every delay pair of an emulated chip for given counts, as
//! CSV (`pair,counts,delay_us`, `none` for a pair that never fires), to check a delay calibration against
//! ground truth.

use std::fmt::Write;

use bss2_calibration::file::CalibrationFile;
use bss2_firmware_sim::ChipProfile;
use bss2_firmware_sim::delays::ChipDelays;
use bss2_protocol::delay_pair::{DelayPair, MIN_COUNTS, PairCapMem};

/// The CSV header.
pub const HEADER: &str = "pair,counts,delay_us";

/// The CapMem values of every pair: a calibration's, if it has them, else [`nominal_pair_values`].
pub fn pair_values(chip: &ChipDelays, calibration: Option<&CalibrationFile>) -> Vec<PairCapMem> {
    calibration.and_then(calibrated_pair_values).unwrap_or_else(|| nominal_pair_values(chip))
}

/// The pairs' CapMem values stored in a calibration file's delay section, if it has one.
pub fn calibrated_pair_values(file: &CalibrationFile) -> Option<Vec<PairCapMem>> {
    file.delays.as_ref().map(|d| d.capmem())
}

/// [`PairCapMem::NOMINAL`] with each pair's threshold at the midpoint of its true rest and rebound peak.
pub fn nominal_pair_values(chip: &ChipDelays) -> Vec<PairCapMem> {
    DelayPair::all().map(|pair| chip.with_midpoint_threshold(pair, &PairCapMem::NOMINAL, MIN_COUNTS)).collect()
}

/// One row per pair and counts value: the pair's noise-free delay (us) with `values[pair]`.
pub fn delays_csv(chip: &ChipDelays, values: &[PairCapMem], counts: &[u8]) -> String {
    let mut out = format!("{HEADER}\n");
    for (pair, v) in DelayPair::all().zip(values) {
        for &c in counts {
            match chip.delay_us(pair, v, c) {
                Some(d) => writeln!(out, "{},{c},{d}", pair.index()),
                None => writeln!(out, "{},{c},none", pair.index()),
            }
            .expect("writing to a String");
        }
    }
    out
}

/// The CSV for the chip of this profile and seed.
pub fn inspect_delays_csv(
    profile: &ChipProfile,
    chip_seed: u64,
    calibration: Option<&CalibrationFile>,
    counts: &[u8],
) -> String {
    let chip = ChipDelays::new(profile, chip_seed);
    delays_csv(&chip, &pair_values(&chip, calibration), counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_gets_a_row_per_counts_and_ideal_pairs_delay_counts_over_8_plus_2() {
        let csv = inspect_delays_csv(&ChipProfile::ideal(), 1, None, &[50, 250]);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!((rows[0], rows.len()), (HEADER, 1 + 2 * 128));
        for (k, row) in rows[1..].iter().enumerate() {
            let fields: Vec<&str> = row.split(',').collect();
            let (pair, counts, delay) = (fields[0], fields[1], fields[2].parse::<f64>().unwrap());
            assert_eq!(pair, (k / 2).to_string());
            let expected = if k % 2 == 0 { ("50", 8.3) } else { ("250", 33.9) };
            assert!(counts == expected.0 && (delay - expected.1).abs() < 0.05, "{row}");
        }
        // A threshold above every rebound peak: nobody fires.
        let chip = ChipDelays::new(&ChipProfile::default_chip(), 1);
        let high = PairCapMem { v_threshold: 700, ..PairCapMem::NOMINAL };
        let none = delays_csv(&chip, &[high; 3], &[100]);
        assert_eq!(none, format!("{HEADER}\n0,100,none\n1,100,none\n2,100,none\n"));
    }
}
