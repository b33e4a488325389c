//! CapMem cell values (spec §1.5).

use super::{Container, ContainerError, WritableContainer, check_reserved};
use crate::coords::CapMemCell;

/// A 10-bit CapMem cell value: 0..=1022 is an analog level, 1023 disables the cell's refresh.
///
/// One word per cell at [`CapMemCell::address`], the value in bits `[9:0]` (plain binary); bits `[31:10]` are
/// reserved (written 0, rejected by the decoder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapMemValue(u16);

impl CapMemValue {
    /// The largest analog level.
    pub const MAX_LEVEL: u16 = 1022;

    /// The value that disables refresh of the cell.
    pub const DISABLE_REFRESH: CapMemValue = CapMemValue(1023);

    /// A value 0..=1023 (1023 = disable refresh); `None` above.
    pub const fn new(value: u16) -> Option<CapMemValue> {
        if value <= 1023 { Some(CapMemValue(value)) } else { None }
    }

    /// An analog level 0..=1022; `None` otherwise (use [`CapMemValue::DISABLE_REFRESH`] for 1023).
    pub const fn level(value: u16) -> Option<CapMemValue> {
        if value <= Self::MAX_LEVEL { Some(CapMemValue(value)) } else { None }
    }

    /// The raw 10-bit value.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether this is [`CapMemValue::DISABLE_REFRESH`].
    pub const fn is_refresh_disabled(self) -> bool {
        self.0 == 1023
    }
}

impl Container for CapMemValue {
    const NAME: &'static str = "CapMemValue";
    type Coord = CapMemCell;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0x3FF];

    fn addresses(cell: CapMemCell) -> [u32; 1] {
        [cell.address()]
    }

    fn encode(&self) -> [u32; 1] {
        [u32::from(self.0)]
    }

    fn decode(words: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, words, &Self::DEFINED_BITS)?;
        Ok(CapMemValue((words[0] & 0x3FF) as u16))
    }
}

impl WritableContainer for CapMemValue {}

#[cfg(test)]
mod tests {
    use super::super::testutil::{pairs, value_round_trip, words_round_trip};
    use super::*;
    use crate::coords::{Hemisphere, Neuron, NeuronColumn, NeuronParameter};
    use proptest::prelude::*;

    #[test]
    fn golden() {
        let n = Neuron::new(NeuronColumn::new(200).unwrap(), Hemisphere::Bottom);
        let cell = n.capmem_cell(NeuronParameter::VThreshold);
        let v = CapMemValue::level(400).unwrap();
        assert_eq!(pairs(&v, cell), vec![(0x15_8902, 400)]);
        assert_eq!(CapMemValue::DISABLE_REFRESH.encode(), [1023]);
        assert!(CapMemValue::decode(&[1023]).unwrap().is_refresh_disabled());
        assert!(CapMemValue::level(1023).is_none());
        assert!(CapMemValue::new(1024).is_none());
        assert_eq!(CapMemValue::new(1023), Some(CapMemValue::DISABLE_REFRESH));
        assert!(CapMemValue::decode(&[0x400]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(v in 0u16..1024, raw in any::<[u32; 8]>()) {
            value_round_trip(&CapMemValue::new(v).unwrap());
            words_round_trip::<CapMemValue>(raw);
        }
    }
}
