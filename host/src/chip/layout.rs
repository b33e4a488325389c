//! Where things sit on the chip: logical neurons on pairs of joined circuits, source slots on synapse drivers,
//! and the spike labels that connect them (spec: hardware-reference §1.2-§1.4, bss2-platform §1.3-§1.4).
//!
//! * Logical neuron `b` (0..256) is the circuit pair in hemisphere `b / 128`, columns `2 (b % 128)` (compartment
//!   0: threshold, spike output, the synapses of source slots 0..128) and `2 (b % 128) + 1` (compartment 1:
//!   no capacitance and no leak of its own, the synapses of slots 128..256).
//! * A source slot `k` (0..256) of a kind (on-chip neuron or external input) owns synapse driver `k % 128` in both
//!   hemispheres: PADI bus `k % 4`, index on the bus `i = (k % 128) / 4`; its top row is excitatory, its bottom row
//!   inhibitory, so a signed weight is two 6-bit magnitudes. Drivers compare only the low two row-select bits
//!   (mask 0b00011), so an event reaches the eight drivers of its bus with the same `i % 4`; the 6-bit synapse
//!   label `half << 5 | (i / 4) << 1 | external` picks the one it is meant for, the column half and the kind.
//! * Delays (DelGrad): delay pair `p` (`bss2_protocol::delay_pair`, the bottom row's circuits `2p`, `2p + 1`) sits
//!   on logical position `128 + p`, so a network with delays keeps its neurons on positions 0..128 (the top row,
//!   as the reference puts network neurons on one half and its 128 pairs on the other). A pair's input (an
//!   external slot or a network neuron, both below slot 128) reaches its delay compartment through one synapse in
//!   the even column; its trigger fires with the address of position `128 + p`'s slot, a source like any neuron.
//! * An on-chip neuron's bus is fixed by its column (event output `column / 32`, bus `event output % 4`), so
//!   neuron slots are assigned per bus. External inputs enter from the FPGA on link 0 with their bus in label
//!   bits 12:11, which the crossbar nodes of that link match.

/// Logical neurons on the chip.
pub const LOGICAL_NEURONS: usize = 256;

/// Source slots per kind.
pub const SLOTS: usize = 256;

/// The logical position of a delay pair: the bottom row's circuits `2p`, `2p + 1` are logical neuron `128 + p`'s
/// (its even circuit is the delay compartment, its odd one the trigger, which fires with that position's slot).
pub fn pair_position(p: bss2_protocol::delay_pair::DelayPair) -> usize {
    LOGICAL_NEURONS / 2 + p.index()
}

/// The two circuits (`row * 256 + column`) of logical neuron `b`.
pub fn circuits(b: usize) -> [usize; 2] {
    let first = (b / 128) * 256 + 2 * (b % 128);
    [first, first + 1]
}

/// The hemisphere (synram) of logical neuron `b`.
pub fn hemisphere(b: usize) -> usize {
    b / 128
}

/// The PADI bus logical neuron `b` fires on.
pub fn neuron_bus(b: usize) -> usize {
    (2 * (b % 128) / 32) % 4
}

/// Slot of every logical neuron: neurons of bus `β` take slots `β, β + 4, β + 8, ...` in index order.
pub fn neuron_slots() -> [usize; LOGICAL_NEURONS] {
    let mut next = [0usize; 4];
    let mut slots = [0; LOGICAL_NEURONS];
    for (b, slot) in slots.iter_mut().enumerate() {
        let bus = neuron_bus(b);
        *slot = 4 * next[bus] + bus;
        next[bus] += 1;
    }
    slots
}

/// The 6-bit synapse label of slot `k` of a kind.
pub fn synapse_label(k: usize, external: bool) -> u8 {
    let (half, i) = (k / 128, (k % 128) / 4);
    ((half << 5) | ((i / 4) << 1) | usize::from(external)) as u8
}

/// The 5-bit row-select value of slot `k` (only its low two bits are compared).
pub fn row_select(k: usize) -> u16 {
    (((k % 128) / 4) % 4) as u16
}

/// The 8-bit `address_out` of the neuron in slot `k`: label bits 7:6 are the low row-select bits, 5:0 the synapse
/// label (bits 10:8 come from the neuron's column).
pub fn neuron_address(k: usize) -> u8 {
    ((row_select(k) << 6) as u8) | synapse_label(k, false)
}

/// The 16-bit label that injects external slot `k` over FPGA link 0.
pub fn external_label(k: usize) -> u16 {
    let bus = (k % 4) as u16;
    bus << 11 | row_select(k) << 6 | u16::from(synapse_label(k, true))
}

/// The synapse driver of slot `k` (in each hemisphere).
pub fn driver(k: usize) -> usize {
    k % 128
}

/// The column that holds the synapse from slot `k` onto logical neuron `b`.
pub fn synapse_column(k: usize, b: usize) -> usize {
    2 * (b % 128) + k / 128
}

/// The synapse rows (excitatory, inhibitory) of slot `k`: the driver's top row `2d + 1` and bottom row `2d`.
pub fn synapse_rows(k: usize) -> (usize, usize) {
    let d = driver(k);
    (2 * d + 1, 2 * d)
}

/// The logical neuron that sends a recorded 14-bit label, if any.
pub fn neuron_of_label(label: u16, slots: &[usize; LOGICAL_NEURONS]) -> Option<usize> {
    let event_output = usize::from(label >> 8 & 0x7);
    let address = (label & 0xFF) as u8;
    (0..LOGICAL_NEURONS).find(|&b| 2 * (b % 128) / 32 == event_output && neuron_address(slots[b]) == address)
}

/// A table from (event output, address) to logical neuron for fast dissection.
pub fn label_table(slots: &[usize; LOGICAL_NEURONS]) -> Vec<Option<u16>> {
    let mut table = vec![None; 8 * 256];
    for (b, &slot) in slots.iter().enumerate() {
        let event_output = 2 * (b % 128) / 32;
        let index = event_output * 256 + usize::from(neuron_address(slot));
        // Both hemispheres share event outputs; their slots differ, hence their addresses.
        debug_assert!(table[index].is_none());
        table[index] = Some(b as u16);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neuron_slots_are_a_bijection_onto_slots_of_their_bus() {
        let slots = neuron_slots();
        let mut seen = [false; SLOTS];
        for (b, &k) in slots.iter().enumerate() {
            assert_eq!(k % 4, neuron_bus(b), "neuron {b}");
            assert!(!seen[k]);
            seen[k] = true;
        }
        let table = label_table(&slots);
        for b in 0..LOGICAL_NEURONS {
            let label = u16::from(neuron_address(slots[b])) | ((2 * (b % 128) / 32) as u16) << 8;
            assert_eq!(neuron_of_label(label, &slots), Some(b));
            assert_eq!(table[usize::from(label & 0x7FF)], Some(b as u16));
        }
    }

    #[test]
    fn an_event_triggers_only_the_synapses_of_its_own_slot() {
        // An event of slot k reaches every driver d of bus k % 4 whose row-select low bits equal its own; a
        // synapse there fires if its label equals the event's. The synapses of slot k2 carry k2's label on
        // driver(k2)'s rows; they must never fire for another slot's event.
        for external in [false, true] {
            for k in 0..SLOTS {
                for k2 in 0..SLOTS {
                    let reaches = k2 % 4 == k % 4 && row_select(k2) == row_select(k);
                    let fires = reaches && synapse_label(k2, external) == synapse_label(k, external);
                    // Same driver and same label means the same slot (the column half is in the label).
                    assert_eq!(fires, k2 == k, "slot {k} triggers slot {k2}'s synapses");
                }
            }
        }
        // Bits: half, 0, i / 4 (three bits), external.
        assert_eq!(synapse_label(127, false), 0b001110);
        assert_eq!(synapse_label(128 + 5, true), 0b100001);
        assert_eq!(external_label(7) >> 11, 3);
    }
}
