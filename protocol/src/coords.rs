//! Typed chip coordinates (spec §1.1-§1.5, §1.8).
//!
//! Every index type checks its range in its constructor (`new` returns `None`, `TryFrom<usize>` a
//! [`CoordError`]); once built, a coordinate is valid and every conversion from it is total. Nothing here
//! panics.
//!
//! Conventions: the neuron row and the synapse array ("synram") of a hemisphere share the type
//! [`Hemisphere`] (top = row 0, bottom = row 1); a synapse column is a neuron column ([`SynapseColumn`]); west
//! and east halves of the chip are [`BackendBlock`]s.

use std::fmt;

/// A coordinate that is out of range or does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    /// An index outside `0..size`.
    #[error("{coordinate} {index} out of range 0..{size}")]
    OutOfRange {
        /// The coordinate type.
        coordinate: &'static str,
        /// The rejected index.
        index: usize,
        /// The number of valid indices.
        size: usize,
    },
    /// A crossbar (input, output) pair without a node (spec §1.4: the node set is sparse).
    #[error("no crossbar node connects input {input} to output {output}")]
    NoCrossbarNode {
        /// The crossbar input.
        input: CrossbarInput,
        /// The crossbar output.
        output: CrossbarOutput,
    },
}

/// Defines a range-checked index newtype `0..SIZE`.
macro_rules! index_type {
    ($(#[$meta:meta])* $name:ident, $repr:ty, $size:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($repr);

        impl $name {
            /// Number of valid indices (the valid range is `0..SIZE`).
            pub const SIZE: usize = $size;

            /// The coordinate with this index; `None` if `index >= SIZE`.
            pub const fn new(index: usize) -> Option<Self> {
                if index < Self::SIZE { Some(Self(index as $repr)) } else { None }
            }

            /// The index (`0..SIZE`).
            pub const fn index(self) -> usize {
                self.0 as usize
            }

            /// All coordinates in increasing index order.
            pub fn all() -> impl DoubleEndedIterator<Item = Self> + ExactSizeIterator + Clone {
                (0..Self::SIZE).map(|i| Self(i as $repr))
            }
        }

        impl TryFrom<usize> for $name {
            type Error = CoordError;

            fn try_from(index: usize) -> Result<Self, CoordError> {
                Self::new(index).ok_or(CoordError::OutOfRange { coordinate: stringify!($name), index, size: Self::SIZE })
            }
        }

        impl From<$name> for usize {
            fn from(value: $name) -> usize {
                value.index()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

/// Defines `index`, `from_index`, `ALL`, `TryFrom<usize>` and `Display` for a fieldless enum.
macro_rules! enum_index {
    ($name:ident, [$($variant:ident),+ $(,)?]) => {
        impl $name {
            /// All values in index order.
            pub const ALL: [$name; [$($name::$variant),+].len()] = [$($name::$variant),+];

            /// Number of values.
            pub const SIZE: usize = Self::ALL.len();

            /// The index (position in [`Self::ALL`]).
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The value with this index; `None` if out of range.
            pub const fn from_index(index: usize) -> Option<Self> {
                if index < Self::SIZE { Some(Self::ALL[index]) } else { None }
            }
        }

        impl TryFrom<usize> for $name {
            type Error = CoordError;

            fn try_from(index: usize) -> Result<Self, CoordError> {
                Self::from_index(index).ok_or(CoordError::OutOfRange {
                    coordinate: stringify!($name),
                    index,
                    size: Self::SIZE,
                })
            }
        }

        impl From<$name> for usize {
            fn from(value: $name) -> usize {
                value.index()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------------------------
// Hemispheres, quadrants, backend blocks

/// A hemisphere: the neuron row and the synapse array (synram), PADI buses and synapse drivers above
/// (top) or below (bottom) it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hemisphere {
    /// Top hemisphere, neuron row 0.
    #[default]
    Top = 0,
    /// Bottom hemisphere, neuron row 1.
    Bottom = 1,
}
enum_index!(Hemisphere, [Top, Bottom]);

/// The neuron row (0 = top, 1 = bottom): the same as the [`Hemisphere`].
pub type NeuronRow = Hemisphere;

/// The west (columns 0..128) or east (columns 128..256) half of the chip; also the neuron backend block
/// (two per chip, 256 neurons each: both neuron rows of its half).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendBlock {
    /// Columns 0..128.
    #[default]
    West = 0,
    /// Columns 128..256.
    East = 1,
}
enum_index!(BackendBlock, [West, East]);

/// A quadrant (index `2 * row + (column >= 128)`): one NeuronConfig block and one CapMem block of 128 neurons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quadrant {
    /// Top west (index 0).
    #[default]
    NW = 0,
    /// Top east (index 1).
    NE = 1,
    /// Bottom west (index 2).
    SW = 2,
    /// Bottom east (index 3).
    SE = 3,
}
enum_index!(Quadrant, [NW, NE, SW, SE]);

/// A CapMem block: one per [`Quadrant`], same index.
pub type CapMemBlock = Quadrant;

impl Quadrant {
    /// The quadrant of a hemisphere and a half.
    pub const fn new(hemisphere: Hemisphere, side: BackendBlock) -> Quadrant {
        Self::ALL[2 * hemisphere.index() + side.index()]
    }

    /// The hemisphere (top for NW and NE).
    pub const fn hemisphere(self) -> Hemisphere {
        Hemisphere::ALL[self.index() / 2]
    }

    /// The west or east half (west for NW and SW).
    pub const fn side(self) -> BackendBlock {
        BackendBlock::ALL[self.index() % 2]
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Neurons

index_type!(
    /// A neuron column (0..256), also the synapse column above or below it.
    NeuronColumn,
    u16,
    256
);

/// A synapse column: the same as the neuron column it feeds (spec §1.3).
pub type SynapseColumn = NeuronColumn;

index_type!(
    /// A neuron event output (0..8, one per 32 neuron columns, shared by both rows); crossbar input i.
    NeuronEventOutput,
    u8,
    8
);

index_type!(
    /// The column of a synapse quad in the synapse memory (0..64): quads 0..32 hold even columns, 32..64 odd.
    SynapseQuadColumn,
    u8,
    64
);

index_type!(
    /// The entry of a synapse inside its quad (0..4); entry e sits in byte `3 - e` of the quad's word.
    EntryOnQuad,
    u8,
    4
);

impl NeuronColumn {
    /// The west or east half.
    pub const fn side(self) -> BackendBlock {
        if self.0 >= 128 { BackendBlock::East } else { BackendBlock::West }
    }

    /// The neuron event output (`column / 32`).
    pub const fn event_output(self) -> NeuronEventOutput {
        NeuronEventOutput((self.0 / 32) as u8)
    }

    /// The synapse quad column of this (synapse) column: `(c % 2) * 32 + c / 8`.
    pub const fn quad_column(self) -> SynapseQuadColumn {
        SynapseQuadColumn(((self.0 % 2) * 32 + self.0 / 8) as u8)
    }

    /// The entry of this (synapse) column in its quad: `(c / 2) % 4`.
    pub const fn entry_on_quad(self) -> EntryOnQuad {
        EntryOnQuad(((self.0 / 2) % 4) as u8)
    }
}

impl SynapseQuadColumn {
    /// The synapse column of an entry: `((q % 32) * 4 + e) * 2 + q / 32`.
    pub const fn column(self, entry: EntryOnQuad) -> SynapseColumn {
        let q = self.0 as u16;
        NeuronColumn(((q % 32) * 4 + entry.0 as u16) * 2 + q / 32)
    }

    /// The synapse columns of entries 0..4.
    pub const fn columns(self) -> [SynapseColumn; 4] {
        [
            self.column(EntryOnQuad(0)),
            self.column(EntryOnQuad(1)),
            self.column(EntryOnQuad(2)),
            self.column(EntryOnQuad(3)),
        ]
    }
}

impl NeuronEventOutput {
    /// The crossbar input this output feeds (input i).
    pub const fn crossbar_input(self) -> CrossbarInput {
        CrossbarInput(self.0)
    }
}

/// One of the 512 neuron circuits ("AtomicNeuron"): column 0..256, row top/bottom.
///
/// Its enum index is `row * 256 + column` (0..512).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Neuron {
    /// The row (hemisphere). First field so that the derived order equals the index order.
    pub row: NeuronRow,
    /// The column.
    pub column: NeuronColumn,
}

impl Neuron {
    /// Number of neurons.
    pub const SIZE: usize = 512;

    /// The neuron at a column and row.
    pub const fn new(column: NeuronColumn, row: NeuronRow) -> Neuron {
        Neuron { row, column }
    }

    /// The neuron with enum index `row * 256 + column`; `None` if `index >= 512`.
    pub const fn from_index(index: usize) -> Option<Neuron> {
        if index < Self::SIZE {
            Some(Neuron { row: Hemisphere::ALL[index / 256], column: NeuronColumn((index % 256) as u16) })
        } else {
            None
        }
    }

    /// The enum index `row * 256 + column` (0..512).
    pub const fn index(self) -> usize {
        self.row.index() * 256 + self.column.index()
    }

    /// All 512 neurons in index order.
    pub fn all() -> impl DoubleEndedIterator<Item = Neuron> + ExactSizeIterator + Clone {
        (0..Self::SIZE).map(|i| Neuron { row: Hemisphere::ALL[i / 256], column: NeuronColumn((i % 256) as u16) })
    }

    /// The quadrant (`2 * row + (column >= 128)`): NeuronConfig block and CapMem block.
    pub const fn quadrant(self) -> Quadrant {
        Quadrant::new(self.row, self.column.side())
    }

    /// The index inside the quadrant and the CapMem column (`column % 128`, 0..128).
    pub const fn index_in_quadrant(self) -> usize {
        self.column.index() % 128
    }

    /// The neuron backend block (west for columns 0..128).
    pub const fn backend_block(self) -> BackendBlock {
        self.column.side()
    }

    /// The index inside the backend block (`column % 128 + 128 * row`, 0..256).
    pub const fn index_in_backend_block(self) -> usize {
        self.column.index() % 128 + 128 * self.row.index()
    }

    /// The neuron event output (`column / 32`), shared with the neuron of the other row.
    pub const fn event_output(self) -> NeuronEventOutput {
        self.column.event_output()
    }

    /// The CapMem cell holding one of this neuron's parameters.
    pub const fn capmem_cell(self, parameter: NeuronParameter) -> CapMemCell {
        CapMemCell {
            block: self.quadrant(),
            column: CapMemColumn(self.index_in_quadrant() as u8),
            row: CapMemRow(parameter as u8),
        }
    }
}

impl TryFrom<usize> for Neuron {
    type Error = CoordError;

    fn try_from(index: usize) -> Result<Self, CoordError> {
        Neuron::from_index(index).ok_or(CoordError::OutOfRange { coordinate: "Neuron", index, size: Neuron::SIZE })
    }
}

impl From<Neuron> for usize {
    fn from(value: Neuron) -> usize {
        value.index()
    }
}

impl fmt::Display for Neuron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Neuron(c={}, r={})", self.column.0, self.row.index())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Synapse rows, drivers, PADI buses

index_type!(
    /// A synapse row inside one synapse array (0..256).
    SynapseRow,
    u16,
    256
);

index_type!(
    /// A synapse driver inside one hemisphere (0..128); driver d sits on PADI bus `d % 4` with index `d / 4`
    /// and drives synapse rows `2d + 1` (top) and `2d` (bottom).
    SynapseDriver,
    u8,
    128
);

index_type!(
    /// A PADI bus inside one hemisphere (0..4).
    PadiBus,
    u8,
    4
);

index_type!(
    /// A synapse driver's index on its PADI bus (0..32): the row-select address (label bits `[10:6]`) it matches.
    SynapseDriverOnPadiBus,
    u8,
    32
);

/// One of the two synapse rows a driver drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowOnSynapseDriver {
    /// Row-on-driver 0: synapse row `2d + 1`.
    #[default]
    Top = 0,
    /// Row-on-driver 1: synapse row `2d`.
    Bottom = 1,
}
enum_index!(RowOnSynapseDriver, [Top, Bottom]);

impl SynapseRow {
    /// The synapse driver driving this row (`row / 2`).
    pub const fn driver(self) -> SynapseDriver {
        SynapseDriver((self.0 / 2) as u8)
    }

    /// Which of its driver's rows this is (odd rows are the top rows).
    pub const fn row_on_driver(self) -> RowOnSynapseDriver {
        if self.0 % 2 == 1 { RowOnSynapseDriver::Top } else { RowOnSynapseDriver::Bottom }
    }
}

impl SynapseDriver {
    /// The driver at an index on a PADI bus (`d = 4 * index + bus`).
    pub const fn from_padi_bus(bus: PadiBus, index_on_bus: SynapseDriverOnPadiBus) -> SynapseDriver {
        SynapseDriver(4 * index_on_bus.0 + bus.0)
    }

    /// The PADI bus (`d % 4`).
    pub const fn padi_bus(self) -> PadiBus {
        PadiBus(self.0 % 4)
    }

    /// The index on the PADI bus (`d / 4`).
    pub const fn index_on_bus(self) -> SynapseDriverOnPadiBus {
        SynapseDriverOnPadiBus(self.0 / 4)
    }

    /// One of the two synapse rows: top `2d + 1`, bottom `2d`.
    pub const fn row(self, row: RowOnSynapseDriver) -> SynapseRow {
        match row {
            RowOnSynapseDriver::Top => SynapseRow(2 * self.0 as u16 + 1),
            RowOnSynapseDriver::Bottom => SynapseRow(2 * self.0 as u16),
        }
    }

    /// Both synapse rows, `[top (2d + 1), bottom (2d)]` (indexed by [`RowOnSynapseDriver::index`]).
    pub const fn rows(self) -> [SynapseRow; 2] {
        [self.row(RowOnSynapseDriver::Top), self.row(RowOnSynapseDriver::Bottom)]
    }
}

/// A synapse quad on the chip: hemisphere (synapse array), row and quad column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SynapseQuadOnChip {
    /// The synapse array.
    pub hemisphere: Hemisphere,
    /// The synapse row.
    pub row: SynapseRow,
    /// The quad column.
    pub column: SynapseQuadColumn,
}

impl SynapseQuadOnChip {
    /// The quad holding the synapse at a synapse column, and the synapse's entry in it.
    pub const fn of_synapse(
        hemisphere: Hemisphere,
        row: SynapseRow,
        column: SynapseColumn,
    ) -> (SynapseQuadOnChip, EntryOnQuad) {
        (SynapseQuadOnChip { hemisphere, row, column: column.quad_column() }, column.entry_on_quad())
    }
}

/// A synapse driver on the chip: hemisphere and driver index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SynapseDriverOnChip {
    /// The hemisphere.
    pub hemisphere: Hemisphere,
    /// The driver in that hemisphere.
    pub driver: SynapseDriver,
}

/// A PADI bus on the chip: hemisphere and bus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PadiBusOnChip {
    /// The hemisphere.
    pub hemisphere: Hemisphere,
    /// The bus in that hemisphere.
    pub bus: PadiBus,
}

impl PadiBusOnChip {
    /// The crossbar output feeding this bus (`4 * hemisphere + bus`).
    pub const fn crossbar_output(self) -> CrossbarOutput {
        CrossbarOutput(4 * self.hemisphere.index() as u8 + self.bus.0)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Event routing

index_type!(
    /// An SPL1 address / FPGA<->chip event link (0..4): label bits `[15:14]`.
    Spl1Address,
    u8,
    4
);

index_type!(
    /// A background spike source (0..8); crossbar input `12 + j`.
    BackgroundSource,
    u8,
    8
);

index_type!(
    /// A crossbar input (0..20): 0..8 neuron event outputs, 8..12 SPL1 links from the FPGA, 12..20 background
    /// sources.
    CrossbarInput,
    u8,
    20
);

index_type!(
    /// A crossbar output (0..12): 0..4 top PADI buses, 4..8 bottom PADI buses, 8..12 SPL1 links to the FPGA.
    CrossbarOutput,
    u8,
    12
);

index_type!(
    /// A crossbar node (0..76), numbered input by input and by increasing output within an input (spec §1.4).
    CrossbarNode,
    u8,
    76
);

impl BackgroundSource {
    /// The crossbar input this source feeds (`12 + j`).
    pub const fn crossbar_input(self) -> CrossbarInput {
        CrossbarInput(12 + self.0)
    }
}

/// What feeds a crossbar input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrossbarInputSource {
    /// A neuron event output (inputs 0..8).
    NeuronEventOutput(NeuronEventOutput),
    /// Events from the FPGA on an SPL1 link (inputs 8..12).
    Spl1(Spl1Address),
    /// A background spike source (inputs 12..20).
    Background(BackgroundSource),
}

/// Where a crossbar output leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrossbarOutputTarget {
    /// A PADI bus (outputs 0..8).
    PadiBus(PadiBusOnChip),
    /// The FPGA via an SPL1 link (outputs 8..12).
    Spl1(Spl1Address),
}

impl CrossbarInput {
    /// The input fed by events from the FPGA on an SPL1 link (`8 + k`).
    pub const fn from_spl1(link: Spl1Address) -> CrossbarInput {
        CrossbarInput(8 + link.0)
    }

    /// What feeds this input.
    pub const fn source(self) -> CrossbarInputSource {
        match self.0 {
            0..8 => CrossbarInputSource::NeuronEventOutput(NeuronEventOutput(self.0)),
            8..12 => CrossbarInputSource::Spl1(Spl1Address(self.0 - 8)),
            _ => CrossbarInputSource::Background(BackgroundSource(self.0 - 12)),
        }
    }
}

impl CrossbarOutput {
    /// The output leading to the FPGA on an SPL1 link (`8 + k`).
    pub const fn from_spl1(link: Spl1Address) -> CrossbarOutput {
        CrossbarOutput(8 + link.0)
    }

    /// Where this output leads.
    pub const fn target(self) -> CrossbarOutputTarget {
        match self.0 {
            0..8 => CrossbarOutputTarget::PadiBus(PadiBusOnChip {
                hemisphere: Hemisphere::ALL[(self.0 / 4) as usize],
                bus: PadiBus(self.0 % 4),
            }),
            _ => CrossbarOutputTarget::Spl1(Spl1Address(self.0 - 8)),
        }
    }
}

impl CrossbarNode {
    /// The node connecting `input` to `output`; `None` if the pair has no node.
    ///
    /// Node set and numbering (spec §1.4): input i < 8 -> nodes 3i, 3i+1, 3i+2 (outputs i%4, 4+i%4, 8+i%4);
    /// SPL1 input 8+k -> nodes 24+9k+m (m = 0..8 for PADI outputs 0..8, m = 8 for output 8+k); background
    /// input 12+j -> nodes 60+2j (output j) and 61+2j (output 8+j%4).
    pub const fn from_pair(input: CrossbarInput, output: CrossbarOutput) -> Option<CrossbarNode> {
        let (i, o) = (input.0, output.0);
        let node = match i {
            0..8 => {
                if o == i % 4 {
                    3 * i
                } else if o == 4 + i % 4 {
                    3 * i + 1
                } else if o == 8 + i % 4 {
                    3 * i + 2
                } else {
                    return None;
                }
            }
            8..12 => {
                let k = i - 8;
                if o < 8 {
                    24 + 9 * k + o
                } else if o == 8 + k {
                    24 + 9 * k + 8
                } else {
                    return None;
                }
            }
            _ => {
                let j = i - 12;
                if o == j {
                    60 + 2 * j
                } else if o == 8 + j % 4 {
                    61 + 2 * j
                } else {
                    return None;
                }
            }
        };
        Some(CrossbarNode(node))
    }

    /// Like [`CrossbarNode::from_pair`], with a typed error.
    pub fn try_from_pair(input: CrossbarInput, output: CrossbarOutput) -> Result<CrossbarNode, CoordError> {
        Self::from_pair(input, output).ok_or(CoordError::NoCrossbarNode { input, output })
    }

    /// The node's (input, output) pair.
    pub const fn pair(self) -> (CrossbarInput, CrossbarOutput) {
        let n = self.0;
        let (i, o) = match n {
            0..24 => {
                let i = n / 3;
                (i, 4 * (n % 3) + i % 4)
            }
            24..60 => {
                let (k, m) = ((n - 24) / 9, (n - 24) % 9);
                (8 + k, if m < 8 { m } else { 8 + k })
            }
            _ => {
                let j = (n - 60) / 2;
                (12 + j, if n.is_multiple_of(2) { j } else { 8 + j % 4 })
            }
        };
        (CrossbarInput(i), CrossbarOutput(o))
    }

    /// The node's input.
    pub const fn input(self) -> CrossbarInput {
        self.pair().0
    }

    /// The node's output.
    pub const fn output(self) -> CrossbarOutput {
        self.pair().1
    }
}

// ---------------------------------------------------------------------------------------------------------------
// CapMem

index_type!(
    /// A CapMem column inside a block (0..130): 0..128 per-neuron cells, 128 and 129 shared cells.
    CapMemColumn,
    u8,
    130
);

index_type!(
    /// A CapMem row inside a block (0..24): for neuron columns the parameter ([`NeuronParameter`]).
    CapMemRow,
    u8,
    24
);

/// A CapMem cell: block (quadrant), column 0..130, row 0..24.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapMemCell {
    /// The block.
    pub block: CapMemBlock,
    /// The column.
    pub column: CapMemColumn,
    /// The row.
    pub row: CapMemRow,
}

/// Omnibus base address of the CapMem SRAM of each block (NW, NE, SW, SE).
pub const CAPMEM_BASE: [u32; 4] = [0x14_0000, 0x14_8000, 0x15_0000, 0x15_8000];

impl CapMemCell {
    /// The cell at (block, column, row); `None` if column >= 130 or row >= 24.
    pub const fn new(block: CapMemBlock, column: usize, row: usize) -> Option<CapMemCell> {
        match (CapMemColumn::new(column), CapMemRow::new(row)) {
            (Some(column), Some(row)) => Some(CapMemCell { block, column, row }),
            _ => None,
        }
    }

    /// A shared cell of a block.
    pub const fn shared(block: CapMemBlock, cell: SharedCapMemCell) -> CapMemCell {
        let (column, row) = cell.column_row();
        CapMemCell { block, column: CapMemColumn(column), row: CapMemRow(row) }
    }

    /// The omnibus word address: `block_base + column * 32 + row`.
    pub const fn address(self) -> u32 {
        CAPMEM_BASE[self.block.index()] + self.column.0 as u32 * 32 + self.row.0 as u32
    }

    /// The neuron parameter this cell holds, if it is a per-neuron cell (column < 128).
    pub const fn neuron_parameter(self) -> Option<(Neuron, NeuronParameter)> {
        if self.column.0 >= 128 {
            return None;
        }
        let side = self.block.side().index() as u16;
        let neuron = Neuron { row: self.block.hemisphere(), column: NeuronColumn(side * 128 + self.column.0 as u16) };
        Some((neuron, NeuronParameter::ALL[self.row.0 as usize]))
    }
}

/// The 24 per-neuron CapMem parameters (the CapMem row in a neuron's column), halco v3 names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NeuronParameter {
    /// Row 0: leak (resting) potential.
    VLeak = 0,
    /// Row 1: reset potential.
    VReset = 1,
    /// Row 2: spike threshold.
    VThreshold = 2,
    /// Row 3: excitatory synaptic input reversal potential (COBA).
    ESyninExcRev = 3,
    /// Row 4: inhibitory synaptic input reversal potential (COBA).
    ESyninInhRev = 4,
    /// Row 5: adaptation leak potential.
    VAdaptLeak = 5,
    /// Row 6: exponential term threshold potential.
    VExp = 6,
    /// Row 7: adaptation reference potential.
    VAdaptRef = 7,
    /// Row 8: leak OTA bias (larger = shorter tau_mem).
    IBiasLeak = 8,
    /// Row 9: reset OTA bias.
    IBiasReset = 9,
    /// Row 10: excitatory synaptic input time constant bias (larger = shorter tau_syn).
    IBiasSyninExcTau = 10,
    /// Row 11: excitatory synaptic input COBA bias.
    IBiasSyninExcCoba = 11,
    /// Row 12: excitatory synaptic input reference shift.
    IBiasSyninExcShift = 12,
    /// Row 13: excitatory synaptic input OTA bias (strength).
    IBiasSyninExcGm = 13,
    /// Row 14: inhibitory synaptic input time constant bias (larger = shorter tau_syn).
    IBiasSyninInhTau = 14,
    /// Row 15: inhibitory synaptic input COBA bias.
    IBiasSyninInhCoba = 15,
    /// Row 16: inhibitory synaptic input reference shift.
    IBiasSyninInhShift = 16,
    /// Row 17: inhibitory synaptic input OTA bias (strength).
    IBiasSyninInhGm = 17,
    /// Row 18: adaptation time constant bias.
    IBiasAdaptTau = 18,
    /// Row 19: adaptation strength a.
    IBiasAdaptA = 19,
    /// Row 20: adaptation strength b.
    IBiasAdaptB = 20,
    /// Row 21: exponential term strength.
    IBiasExp = 21,
    /// Row 22: constant membrane offset current.
    IMemOffset = 22,
    /// Row 23: nMDA (multicompartment) bias.
    IBiasNmda = 23,
}
enum_index!(
    NeuronParameter,
    [
        VLeak,
        VReset,
        VThreshold,
        ESyninExcRev,
        ESyninInhRev,
        VAdaptLeak,
        VExp,
        VAdaptRef,
        IBiasLeak,
        IBiasReset,
        IBiasSyninExcTau,
        IBiasSyninExcCoba,
        IBiasSyninExcShift,
        IBiasSyninExcGm,
        IBiasSyninInhTau,
        IBiasSyninInhCoba,
        IBiasSyninInhShift,
        IBiasSyninInhGm,
        IBiasAdaptTau,
        IBiasAdaptA,
        IBiasAdaptB,
        IBiasExp,
        IMemOffset,
        IBiasNmda,
    ]
);

impl NeuronParameter {
    /// The CapMem row.
    pub const fn row(self) -> CapMemRow {
        CapMemRow(self as u8)
    }
}

/// The shared CapMem cells that exist in all four blocks (spec §1.5), as (column, row).
///
/// Block-specific cells ((128, 6), (128, 21..24), column 129 rows 8..15 of block 0) are reachable through
/// [`CapMemCell::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SharedCapMemCell {
    /// (128, 0) STP charge voltage 0.
    StpVCharge0,
    /// (128, 1) STP charge voltage 1.
    StpVCharge1,
    /// (128, 2) STP recovery voltage 0.
    StpVRecover0,
    /// (128, 3) STP recovery voltage 1.
    StpVRecover1,
    /// (128, 4) CADC ramp offset.
    CadcVRampOffset,
    /// (128, 5) CADC ramp buffer bias.
    CadcIBiasRampBuffer,
    /// (128, 7) neuron cascode bias.
    NeuronIBiasCascode,
    /// (128, 8) synapse DAC bias: the global synaptic amplitude of the quadrant.
    SynIBiasDac,
    /// (128, 9) synapse ramp bias.
    SynIBiasRamp,
    /// (128, 10) synapse store bias.
    SynIBiasStore,
    /// (128, 11) correlation readout bias.
    SynIBiasCorout,
    /// (128, 12) STP comparator bias.
    StpIBiasComparator,
    /// (128, 13) STP ramp bias.
    StpIRamp,
    /// (128, 14) STP calibration bias.
    StpIBiasCalib,
    /// (128, 15) CADC ramp slope.
    CadcIRampSlope,
    /// (128, 16) CADC comparator bias.
    CadcIBiasComparator,
    /// (128, 17) CADC reset buffer bias.
    CadcIBiasResetBuffer,
    /// (128, 18) readout amplifier bias.
    ReadoutIBiasAmp,
    /// (128, 19) leak source follower bias.
    NeuronIBiasLeakSourceFollower,
    /// (128, 20) spike comparator bias.
    NeuronIBiasSpikeComparator,
    /// (129, 23) synaptic input drop bias.
    NeuronIBiasSyninDrop,
}
enum_index!(
    SharedCapMemCell,
    [
        StpVCharge0,
        StpVCharge1,
        StpVRecover0,
        StpVRecover1,
        CadcVRampOffset,
        CadcIBiasRampBuffer,
        NeuronIBiasCascode,
        SynIBiasDac,
        SynIBiasRamp,
        SynIBiasStore,
        SynIBiasCorout,
        StpIBiasComparator,
        StpIRamp,
        StpIBiasCalib,
        CadcIRampSlope,
        CadcIBiasComparator,
        CadcIBiasResetBuffer,
        ReadoutIBiasAmp,
        NeuronIBiasLeakSourceFollower,
        NeuronIBiasSpikeComparator,
        NeuronIBiasSyninDrop,
    ]
);

impl SharedCapMemCell {
    /// The (column, row) of the cell in every block.
    pub const fn column_row(self) -> (u8, u8) {
        match self {
            SharedCapMemCell::StpVCharge0 => (128, 0),
            SharedCapMemCell::StpVCharge1 => (128, 1),
            SharedCapMemCell::StpVRecover0 => (128, 2),
            SharedCapMemCell::StpVRecover1 => (128, 3),
            SharedCapMemCell::CadcVRampOffset => (128, 4),
            SharedCapMemCell::CadcIBiasRampBuffer => (128, 5),
            SharedCapMemCell::NeuronIBiasCascode => (128, 7),
            SharedCapMemCell::SynIBiasDac => (128, 8),
            SharedCapMemCell::SynIBiasRamp => (128, 9),
            SharedCapMemCell::SynIBiasStore => (128, 10),
            SharedCapMemCell::SynIBiasCorout => (128, 11),
            SharedCapMemCell::StpIBiasComparator => (128, 12),
            SharedCapMemCell::StpIRamp => (128, 13),
            SharedCapMemCell::StpIBiasCalib => (128, 14),
            SharedCapMemCell::CadcIRampSlope => (128, 15),
            SharedCapMemCell::CadcIBiasComparator => (128, 16),
            SharedCapMemCell::CadcIBiasResetBuffer => (128, 17),
            SharedCapMemCell::ReadoutIBiasAmp => (128, 18),
            SharedCapMemCell::NeuronIBiasLeakSourceFollower => (128, 19),
            SharedCapMemCell::NeuronIBiasSpikeComparator => (128, 20),
            SharedCapMemCell::NeuronIBiasSyninDrop => (129, 23),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn index_types_round_trip_and_reject() {
        fn check<T: Copy + Eq + std::fmt::Debug + TryFrom<usize, Error = CoordError> + Into<usize>>(size: usize) {
            for i in 0..size {
                let c = T::try_from(i).unwrap();
                assert_eq!(c.into(), i);
            }
            for bad in [size, size + 1, usize::MAX] {
                assert!(
                    matches!(T::try_from(bad), Err(CoordError::OutOfRange { index, size: s, .. }) if index == bad && s == size)
                );
            }
        }
        check::<NeuronColumn>(256);
        check::<NeuronEventOutput>(8);
        check::<SynapseQuadColumn>(64);
        check::<EntryOnQuad>(4);
        check::<SynapseRow>(256);
        check::<SynapseDriver>(128);
        check::<PadiBus>(4);
        check::<SynapseDriverOnPadiBus>(32);
        check::<Spl1Address>(4);
        check::<BackgroundSource>(8);
        check::<CrossbarInput>(20);
        check::<CrossbarOutput>(12);
        check::<CrossbarNode>(76);
        check::<CapMemColumn>(130);
        check::<CapMemRow>(24);
        check::<Hemisphere>(2);
        check::<BackendBlock>(2);
        check::<Quadrant>(4);
        check::<RowOnSynapseDriver>(2);
        check::<NeuronParameter>(24);
        check::<SharedCapMemCell>(21);
        check::<Neuron>(512);
        assert_eq!(NeuronColumn::all().len(), 256);
        assert_eq!(NeuronColumn::all().last(), NeuronColumn::new(255));
        assert_eq!(NeuronColumn::new(3).unwrap().to_string(), "NeuronColumn(3)");
        assert_eq!(CrossbarNode::try_from(76).unwrap_err().to_string(), "CrossbarNode 76 out of range 0..76");
    }

    #[test]
    fn neuron_index_both_ways() {
        let all: Vec<Neuron> = Neuron::all().collect();
        assert_eq!(all.len(), 512);
        for (i, n) in all.iter().enumerate() {
            assert_eq!(n.index(), i);
            assert_eq!(Neuron::from_index(i), Some(*n));
            assert_eq!(n.column.index(), i % 256);
            assert_eq!(n.row.index(), i / 256);
            assert_eq!(Neuron::new(n.column, n.row), *n);
        }
        assert!(Neuron::from_index(512).is_none());
        // Derived order equals the index order.
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn neuron_blocks() {
        for n in Neuron::all() {
            let (c, r) = (n.column.index(), n.row.index());
            assert_eq!(n.quadrant().index(), 2 * r + usize::from(c >= 128));
            assert_eq!(n.quadrant().hemisphere(), n.row);
            assert_eq!(n.quadrant().side(), n.backend_block());
            assert_eq!(n.backend_block().index(), usize::from(c >= 128));
            assert_eq!(n.index_in_quadrant(), c % 128);
            assert_eq!(n.index_in_backend_block(), c % 128 + 128 * r);
            assert_eq!(n.event_output().index(), c / 32);
            assert_eq!(n.event_output().crossbar_input().index(), c / 32);
        }
        // (block, index in block) is a bijection for both block kinds.
        let q: HashSet<_> = Neuron::all().map(|n| (n.quadrant(), n.index_in_quadrant())).collect();
        let b: HashSet<_> = Neuron::all().map(|n| (n.backend_block(), n.index_in_backend_block())).collect();
        assert_eq!((q.len(), b.len()), (512, 512));
        for q in Quadrant::ALL {
            assert_eq!(Quadrant::new(q.hemisphere(), q.side()), q);
        }
        assert_eq!(Quadrant::new(Hemisphere::Bottom, BackendBlock::West), Quadrant::SW);
        assert_eq!(Quadrant::NE.index(), 1);
    }

    #[test]
    fn synapse_quad_mapping_both_ways() {
        let mut seen = [false; 256];
        for q in SynapseQuadColumn::all() {
            for e in EntryOnQuad::all() {
                let c = q.column(e);
                let (qi, ei) = (q.index(), e.index());
                assert_eq!(c.index(), ((qi % 32) * 4 + ei) * 2 + qi / 32, "spec formula");
                assert_eq!(c.quad_column(), q);
                assert_eq!(c.entry_on_quad(), e);
                assert!(!seen[c.index()]);
                seen[c.index()] = true;
            }
            assert_eq!(q.columns(), [0, 1, 2, 3].map(|e| q.column(EntryOnQuad::new(e).unwrap())));
        }
        assert!(seen.iter().all(|&s| s));
        for c in NeuronColumn::all() {
            let ci = c.index();
            assert_eq!(c.quad_column().index(), (ci % 2) * 32 + ci / 8, "spec inverse");
            assert_eq!(c.entry_on_quad().index(), (ci / 2) % 4, "spec inverse");
            assert_eq!(c.quad_column().column(c.entry_on_quad()), c);
        }
        // Even columns in quads 0..32, odd in 32..64.
        assert_eq!(SynapseQuadColumn::new(0).unwrap().columns().map(|c| c.index()), [0, 2, 4, 6]);
        assert_eq!(SynapseQuadColumn::new(32).unwrap().columns().map(|c| c.index()), [1, 3, 5, 7]);
        assert_eq!(SynapseQuadColumn::new(63).unwrap().columns().map(|c| c.index()), [249, 251, 253, 255]);
        let (quad, entry) = SynapseQuadOnChip::of_synapse(
            Hemisphere::Bottom,
            SynapseRow::new(5).unwrap(),
            NeuronColumn::new(13).unwrap(),
        );
        assert_eq!((quad.column.index(), entry.index(), quad.row.index()), (33, 2, 5));
    }

    #[test]
    fn synapse_drivers_and_rows_both_ways() {
        for d in SynapseDriver::all() {
            let di = d.index();
            assert_eq!(d.padi_bus().index(), di % 4);
            assert_eq!(d.index_on_bus().index(), di / 4);
            assert_eq!(SynapseDriver::from_padi_bus(d.padi_bus(), d.index_on_bus()), d);
            assert_eq!(d.rows().map(|r| r.index()), [2 * di + 1, 2 * di]);
            for rod in RowOnSynapseDriver::ALL {
                let row = d.row(rod);
                assert_eq!(row.driver(), d);
                assert_eq!(row.row_on_driver(), rod);
                assert_eq!(d.rows()[rod.index()], row);
            }
        }
        for r in SynapseRow::all() {
            assert_eq!(r.driver().row(r.row_on_driver()), r);
        }
        for bus in PadiBus::all() {
            for i in SynapseDriverOnPadiBus::all() {
                let d = SynapseDriver::from_padi_bus(bus, i);
                assert_eq!((d.padi_bus(), d.index_on_bus()), (bus, i));
            }
        }
    }

    /// The node set as stated in prose in spec §1.4, independent of the numbering code.
    fn is_node(i: usize, o: usize) -> bool {
        match i {
            0..8 => o == i % 4 || o == 4 + i % 4 || o == 8 + i % 4,
            8..12 => o < 8 || o == 8 + (i - 8),
            _ => o == i - 12 || o == 8 + (i - 12) % 4,
        }
    }

    #[test]
    fn crossbar_nodes_both_ways() {
        let mut nodes = Vec::new();
        for input in CrossbarInput::all() {
            for output in CrossbarOutput::all() {
                let node = CrossbarNode::from_pair(input, output);
                assert_eq!(node.is_some(), is_node(input.index(), output.index()), "{input} {output}");
                match node {
                    Some(n) => {
                        assert_eq!(n.pair(), (input, output));
                        assert_eq!((n.input(), n.output()), (input, output));
                        assert_eq!(CrossbarNode::try_from_pair(input, output), Ok(n));
                        nodes.push(n.index());
                    }
                    None => assert_eq!(
                        CrossbarNode::try_from_pair(input, output),
                        Err(CoordError::NoCrossbarNode { input, output })
                    ),
                }
            }
        }
        // Numbered input by input, by increasing output: iteration order gives 0, 1, ..., 75.
        assert_eq!(nodes, (0..76).collect::<Vec<_>>());
        for n in CrossbarNode::all() {
            let (i, o) = n.pair();
            assert_eq!(CrossbarNode::from_pair(i, o), Some(n));
        }
        let node = |i, o| CrossbarNode::from_pair(CrossbarInput::new(i).unwrap(), CrossbarOutput::new(o).unwrap());
        // Spec examples: input i < 8 -> 3i..3i+2, L2 k -> 24 + 9k + m, background j -> 60 + 2j, 61 + 2j.
        assert_eq!(node(5, 1).map(|n| n.index()), Some(15));
        assert_eq!(node(5, 5).map(|n| n.index()), Some(16));
        assert_eq!(node(5, 9).map(|n| n.index()), Some(17));
        assert_eq!(node(10, 7).map(|n| n.index()), Some(24 + 18 + 7));
        assert_eq!(node(10, 10).map(|n| n.index()), Some(24 + 18 + 8));
        assert_eq!(node(10, 9), None);
        assert_eq!(node(19, 7).map(|n| n.index()), Some(74));
        assert_eq!(node(19, 11).map(|n| n.index()), Some(75));
        assert_eq!(node(19, 3), None);
    }

    #[test]
    fn crossbar_sources_and_targets() {
        for i in CrossbarInput::all() {
            let back = match i.source() {
                CrossbarInputSource::NeuronEventOutput(e) => e.crossbar_input(),
                CrossbarInputSource::Spl1(k) => CrossbarInput::from_spl1(k),
                CrossbarInputSource::Background(j) => j.crossbar_input(),
            };
            assert_eq!(back, i);
        }
        for o in CrossbarOutput::all() {
            let back = match o.target() {
                CrossbarOutputTarget::PadiBus(bus) => bus.crossbar_output(),
                CrossbarOutputTarget::Spl1(k) => CrossbarOutput::from_spl1(k),
            };
            assert_eq!(back, o);
        }
        assert_eq!(BackgroundSource::new(3).unwrap().crossbar_input().index(), 15);
        let bottom2 = PadiBusOnChip { hemisphere: Hemisphere::Bottom, bus: PadiBus::new(2).unwrap() };
        assert_eq!(bottom2.crossbar_output().index(), 6);
    }

    #[test]
    fn capmem_addresses() {
        let n = Neuron::new(NeuronColumn::new(200).unwrap(), Hemisphere::Bottom);
        let cell = n.capmem_cell(NeuronParameter::VThreshold);
        assert_eq!(cell.block, Quadrant::SE);
        assert_eq!(cell.column.index(), 72);
        assert_eq!(cell.row.index(), 2);
        assert_eq!(cell.address(), 0x158902);
        assert_eq!(cell.neuron_parameter(), Some((n, NeuronParameter::VThreshold)));

        let mut addresses = HashSet::new();
        for n in Neuron::all() {
            for p in NeuronParameter::ALL {
                let cell = n.capmem_cell(p);
                assert_eq!(cell.row, p.row());
                assert_eq!(p.row().index(), p.index());
                assert_eq!(cell.neuron_parameter(), Some((n, p)));
                let expected = CAPMEM_BASE[n.quadrant().index()] + n.index_in_quadrant() as u32 * 32 + p as u32;
                assert_eq!(cell.address(), expected);
                assert!(addresses.insert(cell.address()));
            }
        }
        assert_eq!(addresses.len(), 512 * 24);
        for block in Quadrant::ALL {
            for c in SharedCapMemCell::ALL {
                let cell = CapMemCell::shared(block, c);
                let (col, row) = c.column_row();
                assert_eq!(CapMemCell::new(block, col.into(), row.into()), Some(cell));
                assert!(cell.neuron_parameter().is_none());
                assert!(addresses.insert(cell.address()));
            }
        }
        assert_eq!(CapMemCell::shared(Quadrant::NW, SharedCapMemCell::SynIBiasDac).address(), 0x140000 + 128 * 32 + 8);
        assert_eq!(
            CapMemCell::shared(Quadrant::SE, SharedCapMemCell::NeuronIBiasSyninDrop).address(),
            0x158000 + 129 * 32 + 23
        );
        assert_eq!(NeuronParameter::IBiasLeak.row().index(), 8);
        assert_eq!(NeuronParameter::IBiasNmda.row().index(), 23);
        assert!(CapMemCell::new(Quadrant::NW, 130, 0).is_none());
        assert!(CapMemCell::new(Quadrant::NW, 0, 24).is_none());
        let last = CapMemCell::new(Quadrant::SE, 129, 23).unwrap();
        assert_eq!(last.address(), 0x158000 + 129 * 32 + 23);
    }
}
