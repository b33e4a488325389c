//! The network's delays on the chip's delay pairs: which pairs work, their CapMem values, the map from a delay to
//! refractory counts, and the counts the network's current delays need (spec hardware-reference §4.1).

use bss2_protocol::delay_pair::{DelayPair, MAX_COUNTS, MIN_COUNTS, PAIRS, PairCapMem};

use super::mapping::ChipMapping;
use crate::network::{Layer, Network};

/// A pair's delay as a function of its refractory counts: `delay_us = offset_us + slope_us * counts`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearMap {
    /// Delay at zero counts (us): the pair's intrinsic latency.
    pub offset_us: f64,
    /// Delay per count (us).
    pub slope_us: f64,
}

impl LinearMap {
    /// The reference's uncalibrated map, `delay_us = counts / 8 + 2` (spec hardware-reference §4.1).
    pub const REFERENCE: LinearMap = LinearMap { offset_us: 2.0, slope_us: 0.125 };

    /// The whole counts that come closest to `delay_us`, clipped to the pairs' range; true if clipped.
    pub fn counts(&self, delay_us: f64) -> (u8, bool) {
        let exact = (delay_us - self.offset_us) / self.slope_us;
        let rounded = exact.round();
        if !(rounded >= f64::from(MIN_COUNTS)) {
            (MIN_COUNTS, true)
        } else if rounded > f64::from(MAX_COUNTS) {
            (MAX_COUNTS, true)
        } else {
            (rounded as u8, false)
        }
    }

    /// The delay (us) `counts` give.
    pub fn delay_us(&self, counts: u8) -> f64 {
        self.offset_us + self.slope_us * f64::from(counts)
    }
}

/// What one pair needs to be used: its CapMem values and its map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairSetting {
    /// CapMem values.
    pub capmem: PairCapMem,
    /// Its delay map.
    pub map: LinearMap,
}

/// Every pair's setting; None for a pair that must not be used (it failed its calibration).
#[derive(Clone, Debug, PartialEq)]
pub struct PairSettings {
    settings: Vec<Option<PairSetting>>,
}

impl PairSettings {
    /// Every pair at the nominal values with the reference's map (an uncalibrated chip).
    pub fn nominal() -> PairSettings {
        PairSettings {
            settings: vec![Some(PairSetting { capmem: PairCapMem::NOMINAL, map: LinearMap::REFERENCE }); PAIRS],
        }
    }

    /// From per-pair settings in pair order (`PAIRS` of them).
    pub fn from_pairs(settings: Vec<Option<PairSetting>>) -> PairSettings {
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
            let map = pairs.get(p.pair).map_or(LinearMap::REFERENCE, |s| s.map);
            let (counts, clip) = map.counts(delay);
            clipped += usize::from(clip);
            counts
        })
        .collect();
    (counts, clipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_map_is_counts_over_8_plus_2_clipped_to_50_250() {
        let m = LinearMap::REFERENCE;
        assert_eq!(m.counts(14.0), (96, false));
        assert_eq!(m.counts(14.06), (96, false));
        assert_eq!(m.counts(14.07), (97, false));
        assert_eq!(m.counts(5.0), (50, true));
        assert_eq!(m.counts(40.0), (250, true));
        assert_eq!(m.counts(f64::NAN), (50, true));
        assert_eq!(m.delay_us(96), 14.0);
    }
}
