//! Per-neuron analog configuration switches (haldls v3 `NeuronConfig`, spec §1.9).

use super::{Container, ContainerError, UInt, WritableContainer, bit, check_reserved, field, put};
use crate::coords::Neuron;

/// Omnibus base of the NeuronConfig block of each quadrant (NW, NE, SW, SE).
pub const NEURON_CONFIG_BASE: [u32; 4] = [0x16_0000, 0x16_8000, 0x17_0000, 0x17_8000];

/// What the neuron's readout multiplexer shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReadoutSource {
    /// The membrane potential (0).
    #[default]
    Membrane = 0,
    /// The excitatory synaptic input (1).
    ExcitatorySynapticInput = 1,
    /// The inhibitory synaptic input (2).
    InhibitorySynapticInput = 2,
    /// The adaptation state (3).
    Adaptation = 3,
}

impl ReadoutSource {
    /// The source with a 2-bit code.
    const fn from_bits(bits: u32) -> ReadoutSource {
        match bits & 3 {
            0 => ReadoutSource::Membrane,
            1 => ReadoutSource::ExcitatorySynapticInput,
            2 => ReadoutSource::InhibitorySynapticInput,
            _ => ReadoutSource::Adaptation,
        }
    }
}

/// The analog switches of one neuron circuit: 6 words at `base(quadrant) + 8 * (column % 128) + 2 + k`
/// (slot words 0 and 1 unused).
///
/// Word layout (spec §1.9), each word using bits `[7:0]` only:
///
/// | k | bits |
/// |---|---|
/// | 0 | `[0]` reset degeneration, `[1]` reset division, `[2]` reset multiplication, `[3]` leak degeneration, `[4]` leak division, `[5]` leak multiplication, `[6]` strong fire |
/// | 1 | `[1]` inh. COBA, `[2]` exc. COBA, `[3]` unbuffered access, `[4]` readout amplifier, `[6:5]` readout source, `[7]` readout |
/// | 2 | `[0]` invert adaptation b, `[1]` invert adaptation a, `[2]` adaptation, `[3]` exponential, `[4]` inh. small cap, `[5]` exc. small cap, `[6]` inh. high resistance, `[7]` exc. high resistance |
/// | 3 | `[0]` membrane offset current, `[7:2]` membrane capacitor size |
/// | 4 | `[0]` invert membrane offset, `[2]` fire, `[3]` threshold comparator, `[4]` inh. synaptic input, `[5]` exc. synaptic input, `[6]` inh. bypass, `[7]` exc. bypass |
/// | 5 | `[0]` connect soma right, `[1]` connect bottom, `[2]` multicompartment conductance, `[3]` connect membrane right, `[4]` connect soma, `[5]` multicomp. conductance x4, `[6]` multicomp. conductance /4, `[7]` pause |
///
/// Reserved (written 0, rejected by the decoder): word 0 bit 7, word 1 bit 0, word 3 bit 1, word 4 bit 1,
/// and bits `[31:8]` of every word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NeuronConfig {
    /// Word 0 bit 0: reset OTA degeneration.
    pub enable_reset_degeneration: bool,
    /// Word 0 bit 1: reset conductance /8.
    pub enable_reset_division: bool,
    /// Word 0 bit 2: reset conductance x8.
    pub enable_reset_multiplication: bool,
    /// Word 0 bit 3: leak OTA degeneration.
    pub enable_leak_degeneration: bool,
    /// Word 0 bit 4: leak conductance /8.
    pub enable_leak_division: bool,
    /// Word 0 bit 5: leak conductance x8.
    pub enable_leak_multiplication: bool,
    /// Word 0 bit 6: strong fire.
    pub enable_strong_fire: bool,
    /// Word 1 bit 1: inhibitory synaptic input in COBA mode.
    pub enable_synaptic_input_inhibitory_coba_mode: bool,
    /// Word 1 bit 2: excitatory synaptic input in COBA mode.
    pub enable_synaptic_input_excitatory_coba_mode: bool,
    /// Word 1 bit 3: unbuffered membrane access.
    pub enable_unbuffered_access: bool,
    /// Word 1 bit 4: readout amplifier.
    pub enable_readout_amplifier: bool,
    /// Word 1 bits `[6:5]`: readout source.
    pub readout_source: ReadoutSource,
    /// Word 1 bit 7: readout.
    pub enable_readout: bool,
    /// Word 2 bit 0: invert adaptation b.
    pub invert_adaptation_b: bool,
    /// Word 2 bit 1: invert adaptation a.
    pub invert_adaptation_a: bool,
    /// Word 2 bit 2: adaptation.
    pub enable_adaptation: bool,
    /// Word 2 bit 3: exponential term.
    pub enable_exponential: bool,
    /// Word 2 bit 4: inhibitory synaptic input small capacitance.
    pub enable_synaptic_input_inhibitory_small_capacitance: bool,
    /// Word 2 bit 5: excitatory synaptic input small capacitance.
    pub enable_synaptic_input_excitatory_small_capacitance: bool,
    /// Word 2 bit 6: inhibitory synaptic input high resistance (longer tau_syn).
    pub enable_synaptic_input_inhibitory_high_resistance: bool,
    /// Word 2 bit 7: excitatory synaptic input high resistance (longer tau_syn).
    pub enable_synaptic_input_excitatory_high_resistance: bool,
    /// Word 3 bit 0: membrane offset current.
    pub enable_membrane_offset: bool,
    /// Word 3 bits `[7:2]`: membrane capacitor size (0..64).
    pub membrane_capacitor_size: UInt<6>,
    /// Word 4 bit 0: invert the membrane offset current.
    pub invert_membrane_offset: bool,
    /// Word 4 bit 2: fire.
    pub enable_fire: bool,
    /// Word 4 bit 3: threshold comparator.
    pub enable_threshold_comparator: bool,
    /// Word 4 bit 4: inhibitory synaptic input.
    pub enable_synaptic_input_inhibitory: bool,
    /// Word 4 bit 5: excitatory synaptic input.
    pub enable_synaptic_input_excitatory: bool,
    /// Word 4 bit 6: inhibitory bypass.
    pub enable_bypass_inhibitory: bool,
    /// Word 4 bit 7: excitatory bypass.
    pub enable_bypass_excitatory: bool,
    /// Word 5 bit 0: connect soma to the right soma.
    pub connect_soma_right: bool,
    /// Word 5 bit 1: connect to the bottom membrane.
    pub connect_bottom: bool,
    /// Word 5 bit 2: multicompartment conductance.
    pub enable_multicomp_conductance: bool,
    /// Word 5 bit 3: connect membrane to the right membrane.
    pub connect_membrane_right: bool,
    /// Word 5 bit 4: connect membrane to soma.
    pub connect_soma: bool,
    /// Word 5 bit 5: multicompartment conductance x4.
    pub enable_multicomp_conductance_multiplication: bool,
    /// Word 5 bit 6: multicompartment conductance /4.
    pub enable_multicomp_conductance_division: bool,
    /// Word 5 bit 7: pause (gate synaptic inputs and exponential term during reset).
    pub enable_pause: bool,
}

impl Container for NeuronConfig {
    const NAME: &'static str = "NeuronConfig";
    type Coord = Neuron;
    type Words = [u32; 6];
    const DEFINED_BITS: [u32; 6] = [0x7F, 0xFE, 0xFF, 0xFD, 0xFD, 0xFF];

    fn addresses(neuron: Neuron) -> [u32; 6] {
        let slot = NEURON_CONFIG_BASE[neuron.quadrant().index()] + 8 * neuron.index_in_quadrant() as u32;
        std::array::from_fn(|k| slot + 2 + k as u32)
    }

    fn encode(&self) -> [u32; 6] {
        [
            put(self.enable_reset_degeneration, 0)
                | put(self.enable_reset_division, 1)
                | put(self.enable_reset_multiplication, 2)
                | put(self.enable_leak_degeneration, 3)
                | put(self.enable_leak_division, 4)
                | put(self.enable_leak_multiplication, 5)
                | put(self.enable_strong_fire, 6),
            put(self.enable_synaptic_input_inhibitory_coba_mode, 1)
                | put(self.enable_synaptic_input_excitatory_coba_mode, 2)
                | put(self.enable_unbuffered_access, 3)
                | put(self.enable_readout_amplifier, 4)
                | (self.readout_source as u32) << 5
                | put(self.enable_readout, 7),
            put(self.invert_adaptation_b, 0)
                | put(self.invert_adaptation_a, 1)
                | put(self.enable_adaptation, 2)
                | put(self.enable_exponential, 3)
                | put(self.enable_synaptic_input_inhibitory_small_capacitance, 4)
                | put(self.enable_synaptic_input_excitatory_small_capacitance, 5)
                | put(self.enable_synaptic_input_inhibitory_high_resistance, 6)
                | put(self.enable_synaptic_input_excitatory_high_resistance, 7),
            put(self.enable_membrane_offset, 0) | self.membrane_capacitor_size.get() << 2,
            put(self.invert_membrane_offset, 0)
                | put(self.enable_fire, 2)
                | put(self.enable_threshold_comparator, 3)
                | put(self.enable_synaptic_input_inhibitory, 4)
                | put(self.enable_synaptic_input_excitatory, 5)
                | put(self.enable_bypass_inhibitory, 6)
                | put(self.enable_bypass_excitatory, 7),
            put(self.connect_soma_right, 0)
                | put(self.connect_bottom, 1)
                | put(self.enable_multicomp_conductance, 2)
                | put(self.connect_membrane_right, 3)
                | put(self.connect_soma, 4)
                | put(self.enable_multicomp_conductance_multiplication, 5)
                | put(self.enable_multicomp_conductance_division, 6)
                | put(self.enable_pause, 7),
        ]
    }

    fn decode(w: &[u32; 6]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(NeuronConfig {
            enable_reset_degeneration: bit(w[0], 0),
            enable_reset_division: bit(w[0], 1),
            enable_reset_multiplication: bit(w[0], 2),
            enable_leak_degeneration: bit(w[0], 3),
            enable_leak_division: bit(w[0], 4),
            enable_leak_multiplication: bit(w[0], 5),
            enable_strong_fire: bit(w[0], 6),
            enable_synaptic_input_inhibitory_coba_mode: bit(w[1], 1),
            enable_synaptic_input_excitatory_coba_mode: bit(w[1], 2),
            enable_unbuffered_access: bit(w[1], 3),
            enable_readout_amplifier: bit(w[1], 4),
            readout_source: ReadoutSource::from_bits(field(w[1], 5, 2)),
            enable_readout: bit(w[1], 7),
            invert_adaptation_b: bit(w[2], 0),
            invert_adaptation_a: bit(w[2], 1),
            enable_adaptation: bit(w[2], 2),
            enable_exponential: bit(w[2], 3),
            enable_synaptic_input_inhibitory_small_capacitance: bit(w[2], 4),
            enable_synaptic_input_excitatory_small_capacitance: bit(w[2], 5),
            enable_synaptic_input_inhibitory_high_resistance: bit(w[2], 6),
            enable_synaptic_input_excitatory_high_resistance: bit(w[2], 7),
            enable_membrane_offset: bit(w[3], 0),
            membrane_capacitor_size: UInt::masked(field(w[3], 2, 6)),
            invert_membrane_offset: bit(w[4], 0),
            enable_fire: bit(w[4], 2),
            enable_threshold_comparator: bit(w[4], 3),
            enable_synaptic_input_inhibitory: bit(w[4], 4),
            enable_synaptic_input_excitatory: bit(w[4], 5),
            enable_bypass_inhibitory: bit(w[4], 6),
            enable_bypass_excitatory: bit(w[4], 7),
            connect_soma_right: bit(w[5], 0),
            connect_bottom: bit(w[5], 1),
            enable_multicomp_conductance: bit(w[5], 2),
            connect_membrane_right: bit(w[5], 3),
            connect_soma: bit(w[5], 4),
            enable_multicomp_conductance_multiplication: bit(w[5], 5),
            enable_multicomp_conductance_division: bit(w[5], 6),
            enable_pause: bit(w[5], 7),
        })
    }
}

impl WritableContainer for NeuronConfig {}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Bits, pairs, value_round_trip, words_round_trip};
    use super::*;
    use crate::coords::{Hemisphere, NeuronColumn, Quadrant};
    use proptest::prelude::*;

    #[test]
    fn golden_addresses() {
        // Spec §1.8: block 1, neuron 23 -> 0x168000 + 23 * 8 + 2 ..= + 7.
        let n = Neuron::new(NeuronColumn::new(128 + 23).unwrap(), Hemisphere::Top);
        assert_eq!(n.quadrant(), Quadrant::NE);
        let base = 0x16_8000 + 23 * 8;
        assert_eq!(NeuronConfig::addresses(n), [base + 2, base + 3, base + 4, base + 5, base + 6, base + 7]);
        let n = Neuron::new(NeuronColumn::new(127).unwrap(), Hemisphere::Bottom);
        assert_eq!(NeuronConfig::addresses(n)[5], 0x17_0000 + 127 * 8 + 7);
        let n = Neuron::new(NeuronColumn::new(0).unwrap(), Hemisphere::Bottom);
        assert_eq!(NeuronConfig::addresses(n)[0], 0x17_0002);
        let n = Neuron::new(NeuronColumn::new(255).unwrap(), Hemisphere::Bottom);
        assert_eq!(NeuronConfig::addresses(n)[0], 0x17_8000 + 127 * 8 + 2);
    }

    #[test]
    fn golden_words() {
        // A typical LIF neuron: leak and reset division off, synaptic inputs on, threshold + fire on,
        // capacitor 63, membrane readout enabled.
        let c = NeuronConfig {
            enable_leak_division: true,
            enable_strong_fire: true,
            readout_source: ReadoutSource::InhibitorySynapticInput,
            enable_readout: true,
            enable_synaptic_input_excitatory_high_resistance: true,
            enable_membrane_offset: true,
            membrane_capacitor_size: UInt::new(63).unwrap(),
            enable_fire: true,
            enable_threshold_comparator: true,
            enable_synaptic_input_inhibitory: true,
            enable_synaptic_input_excitatory: true,
            enable_pause: true,
            ..NeuronConfig::default()
        };
        assert_eq!(c.encode(), [0x50, 0xC0, 0x80, 0xFD, 0x3C, 0x80]);
        assert_eq!(NeuronConfig::decode(&c.encode()), Ok(c));
        let n = Neuron::new(NeuronColumn::new(1).unwrap(), Hemisphere::Top);
        assert_eq!(pairs(&c, n)[3], (0x16_000D, 0xFD));
        // Each single bit of each word maps to exactly one field.
        for k in 0..6 {
            for b in 0..8 {
                let mut w = [0; 6];
                w[k] = 1 << b;
                let defined = NeuronConfig::DEFINED_BITS[k] & 1 << b != 0;
                assert_eq!(NeuronConfig::decode(&w).is_ok(), defined, "word {k} bit {b}");
                if defined {
                    assert_ne!(NeuronConfig::decode(&w).unwrap(), NeuronConfig::default());
                }
            }
        }
        assert!(NeuronConfig::decode(&[0x80, 0, 0, 0, 0, 0]).is_err());
        assert!(NeuronConfig::decode(&[0, 0, 0, 0, 0, 0x100]).is_err());
    }

    fn random(b: &mut Bits) -> NeuronConfig {
        NeuronConfig {
            enable_reset_degeneration: b.bool(),
            enable_reset_division: b.bool(),
            enable_reset_multiplication: b.bool(),
            enable_leak_degeneration: b.bool(),
            enable_leak_division: b.bool(),
            enable_leak_multiplication: b.bool(),
            enable_strong_fire: b.bool(),
            enable_synaptic_input_inhibitory_coba_mode: b.bool(),
            enable_synaptic_input_excitatory_coba_mode: b.bool(),
            enable_unbuffered_access: b.bool(),
            enable_readout_amplifier: b.bool(),
            readout_source: ReadoutSource::from_bits(b.take(2)),
            enable_readout: b.bool(),
            invert_adaptation_b: b.bool(),
            invert_adaptation_a: b.bool(),
            enable_adaptation: b.bool(),
            enable_exponential: b.bool(),
            enable_synaptic_input_inhibitory_small_capacitance: b.bool(),
            enable_synaptic_input_excitatory_small_capacitance: b.bool(),
            enable_synaptic_input_inhibitory_high_resistance: b.bool(),
            enable_synaptic_input_excitatory_high_resistance: b.bool(),
            enable_membrane_offset: b.bool(),
            membrane_capacitor_size: b.uint(),
            invert_membrane_offset: b.bool(),
            enable_fire: b.bool(),
            enable_threshold_comparator: b.bool(),
            enable_synaptic_input_inhibitory: b.bool(),
            enable_synaptic_input_excitatory: b.bool(),
            enable_bypass_inhibitory: b.bool(),
            enable_bypass_excitatory: b.bool(),
            connect_soma_right: b.bool(),
            connect_bottom: b.bool(),
            enable_multicomp_conductance: b.bool(),
            connect_membrane_right: b.bool(),
            connect_soma: b.bool(),
            enable_multicomp_conductance_multiplication: b.bool(),
            enable_multicomp_conductance_division: b.bool(),
            enable_pause: b.bool(),
        }
    }

    proptest! {
        #[test]
        fn round_trips(raw in any::<[u32; 8]>()) {
            value_round_trip(&random(&mut Bits::new(raw)));
            words_round_trip::<NeuronConfig>(raw);
        }
    }
}
