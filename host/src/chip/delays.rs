//! The network's delays on the chip's delay pairs: which pairs work, their CapMem values, the map from a delay to
//! refractory counts, and the counts the network's current delays need (spec hardware-reference §4.1).

use bss2_calibration::delays::{DelayCalibration, DelayMap};
use bss2_protocol::delay_pair::{DelayPair, PAIRS, PairCapMem};

use super::mapping::ChipMapping;
use crate::network::{Layer, Network};

/// The reference's uncalibrated map, `delay_us = counts / 8 + 2` (spec hardware-reference §4.1).
pub const REFERENCE_MAP: DelayMap = DelayMap { offset_us: 2.0, slope_us: 0.125 };

/// What one pair needs to be used: its CapMem values and its map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairSetting {
    /// CapMem values.
    pub capmem: PairCapMem,
    /// Its delay map.
    pub map: DelayMap,
}

/// Every pair's setting; None for a pair that must not be used (it failed its calibration).
#[derive(Clone, Debug, PartialEq)]
pub struct PairSettings {
    settings: Vec<Option<PairSetting>>,
}

impl PairSettings {
    /// Every pair at the nominal values with the reference's map (an uncalibrated chip).
    pub fn nominal() -> PairSettings {
        PairSettings { settings: vec![Some(PairSetting { capmem: PairCapMem::NOMINAL, map: REFERENCE_MAP }); PAIRS] }
    }

    /// The pairs of a delay calibration: those with a map, at their calibrated values.
    pub fn calibrated(calibration: &DelayCalibration) -> PairSettings {
        let settings = (0..PAIRS)
            .map(|p| {
                let r = calibration.pairs.get(p)?;
                Some(PairSetting { capmem: r.capmem, map: r.map? })
            })
            .collect();
        PairSettings { settings }
    }

    /// The pairs that may be used, in index order.
    pub fn usable(&self) -> Vec<DelayPair> {
        DelayPair::all().filter(|p| self.get(*p).is_some()).collect()
    }

    /// The setting of `pair`.
    pub fn get(&self, pair: DelayPair) -> Option<&PairSetting> {
        self.settings.get(pair.index()).and_then(Option::as_ref)
    }
}

/// The refractory counts of every mapped pair for the network's current delays (model units times
/// `time_unit_us`), and how many were clipped to the pairs' range.
pub fn pair_counts(
    mapping: &ChipMapping,
    network: &Network,
    pairs: &PairSettings,
    time_unit_us: f64,
) -> (Vec<u8>, usize) {
    let effective: Vec<_> = mapping
        .delays
        .iter()
        .map(|d| match &network.layers[d.chain_index] {
            Layer::Delay(layer) => layer.effective(),
            _ => unreachable!("mapped delays are delay layers"),
        })
        .collect();
    let mut clipped = 0;
    let counts = mapping
        .pairs
        .iter()
        .map(|p| {
            let delay = effective[p.delay].data[p.entry] * time_unit_us;
            let map = pairs.get(p.pair).map_or(REFERENCE_MAP, |s| s.map);
            let counts = map.counts(delay);
            clipped += usize::from(counts.clipped);
            counts.counts
        })
        .collect();
    (counts, clipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_map_is_counts_over_8_plus_2_clipped_to_50_250() {
        let m = REFERENCE_MAP;
        assert_eq!((m.counts(14.0).counts, m.counts(14.06).counts, m.counts(14.07).counts), (96, 96, 97));
        assert!(!m.counts(14.0).clipped);
        assert!(m.counts(5.0).clipped && m.counts(5.0).counts == 50);
        assert!(m.counts(40.0).clipped && m.counts(40.0).counts == 250);
        assert_eq!(m.delay_us(96), 14.0);
    }
}
