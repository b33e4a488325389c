//! A restricted reader of Python pickles, enough to rebuild the tensors and containers of a `torch.save`d module.
//!
//! A pickle is a program for a small stack machine whose `GLOBAL` opcode imports any Python callable and whose
//! `REDUCE` calls it. This reader executes nothing: it accepts only the globals of [`ALLOWED_GLOBALS`] (refusing
//! any other by name, before anything else happens) and records every call as an inert [`Value::Call`] node, so a
//! crafted file can at worst be refused. The few calls whose meaning matters (`OrderedDict()`, tensor rebuilding)
//! are interpreted by the caller from that record. Values live in an arena and refer to each other by index,
//! because pickles share and mutate objects through the memo (a dict is memoised empty, then filled).

use std::collections::HashMap;

/// The globals a `.pt` network of the reference may name; anything else is refused.
pub const ALLOWED_GLOBALS: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("__builtin__", "set"),
    ("builtins", "set"),
    // An attribute reference (the reference's DelayLayer keeps `scaled_shift_sigmoid`); kept inert.
    ("__builtin__", "getattr"),
    ("builtins", "getattr"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch", "DoubleStorage"),
    ("torch", "FloatStorage"),
    ("torch", "LongStorage"),
    ("torch", "IntStorage"),
    ("torch", "BoolStorage"),
    ("torch", "device"),
    ("torch.nn.modules.container", "ModuleList"),
    ("networks", "Net"),
    ("networks", "NetOnHX_PYNN"),
    ("utils", "NeuronLayer"),
    ("utils", "DelayLayer"),
    ("utils", "BroadcastLayer"),
    ("utils", "MultiplexLayer"),
    // Hardware runs keep numpy arrays of the last weights written to the chip.
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
];

/// Index of a value in the arena.
pub type Id = usize;

/// A value of the pickle machine.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A bytes object.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Id>),
    /// A list.
    List(Vec<Id>),
    /// A dict, in insertion order.
    Dict(Vec<(Id, Id)>),
    /// An allowed global: `(module, name)`.
    Global(&'static str, &'static str),
    /// A call of an allowed global, never performed: `NEWOBJ`/`REDUCE` of `callable` with `args`, and the
    /// `BUILD` state set on the result.
    Call {
        /// The global called.
        callable: Id,
        /// The argument tuple.
        args: Id,
        /// The state from `BUILD`, if any.
        state: Option<Id>,
    },
    /// A persistent id (`BINPERSID`): in a `.pt` file, a reference to a storage.
    Persistent(Id),
}

/// Why a pickle was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PickleError {
    /// The file names a global outside the allowed list; nothing was executed.
    #[error("refuses the global {module}.{name} at byte {at}: only tensors and containers are read, no code")]
    Global {
        /// Its module.
        module: String,
        /// Its name.
        name: String,
        /// Offset of the opcode.
        at: usize,
    },
    /// An opcode this reader does not implement.
    #[error("unsupported pickle opcode 0x{opcode:02x} at byte {at}")]
    Opcode {
        /// The opcode byte.
        opcode: u8,
        /// Its offset.
        at: usize,
    },
    /// The data ends inside an opcode or before `STOP`.
    #[error("the pickle ends early at byte {0} (truncated file?)")]
    Truncated(usize),
    /// A malformed program (stack underflow, unknown memo key, wrong operand types).
    #[error("malformed pickle at byte {at}: {what}")]
    Malformed {
        /// Offset of the opcode.
        at: usize,
        /// What is wrong.
        what: String,
    },
}

/// A pickle read into an arena: its values and the one it returns.
#[derive(Debug)]
pub struct Pickle {
    values: Vec<Value>,
    /// The returned value.
    pub root: Id,
}

impl Pickle {
    /// The value at `id`.
    pub fn get(&self, id: Id) -> &Value {
        &self.values[id]
    }

    /// The str at `id`, if it is one.
    pub fn str(&self, id: Id) -> Option<&str> {
        match self.get(id) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer at `id`, if it is one.
    pub fn int(&self, id: Id) -> Option<i64> {
        match self.get(id) {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The items of the tuple or list at `id`.
    pub fn items(&self, id: Id) -> Option<&[Id]> {
        match self.get(id) {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// The entries of the dict at `id`, also of an `OrderedDict()` call filled by `SETITEMS`.
    pub fn dict(&self, id: Id) -> Option<&[(Id, Id)]> {
        match self.get(id) {
            Value::Dict(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value stored under the str key `key` in the dict at `id`.
    pub fn dict_get(&self, id: Id, key: &str) -> Option<Id> {
        self.dict(id)?.iter().find(|(k, _)| self.str(*k) == Some(key)).map(|(_, v)| *v)
    }

    /// `(module, name)` of the global called at `id`, its argument tuple and its state, if `id` is a call.
    pub fn call(&self, id: Id) -> Option<((&'static str, &'static str), Id, Option<Id>)> {
        match self.get(id) {
            Value::Call { callable, args, state } => match self.get(*callable) {
                Value::Global(m, n) => Some(((m, n), *args, *state)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Runs the pickle program in `data`.
    pub fn parse(data: &[u8]) -> Result<Pickle, PickleError> {
        Machine::default().run(data)
    }
}

/// A marker on the stack (`MARK`) or a value.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Mark,
    Value(Id),
}

#[derive(Default)]
struct Machine {
    values: Vec<Value>,
    stack: Vec<Slot>,
    memo: HashMap<u32, Id>,
}

/// Reads operands from the program, with the opcode's offset for errors.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or(PickleError::Truncated(self.pos))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or(PickleError::Truncated(self.data.len()))?;
        let line = std::str::from_utf8(&rest[..end])
            .map_err(|_| PickleError::Malformed { at: self.pos, what: "a GLOBAL name is not UTF-8".into() })?;
        self.pos += end + 1;
        Ok(line)
    }
}

impl Machine {
    fn push(&mut self, value: Value) {
        self.values.push(value);
        self.stack.push(Slot::Value(self.values.len() - 1));
    }

    fn pop(&mut self, at: usize) -> Result<Id, PickleError> {
        match self.stack.pop() {
            Some(Slot::Value(id)) => Ok(id),
            Some(Slot::Mark) => Err(malformed(at, "a MARK where a value was expected")),
            None => Err(malformed(at, "stack underflow")),
        }
    }

    fn top(&self, at: usize) -> Result<Id, PickleError> {
        match self.stack.last() {
            Some(Slot::Value(id)) => Ok(*id),
            _ => Err(malformed(at, "no value on the stack")),
        }
    }

    /// The values above the topmost MARK, which is removed.
    fn pop_to_mark(&mut self, at: usize) -> Result<Vec<Id>, PickleError> {
        let mark = self
            .stack
            .iter()
            .rposition(|s| matches!(s, Slot::Mark))
            .ok_or_else(|| malformed(at, "no MARK on the stack"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items
            .into_iter()
            .map(|s| if let Slot::Value(id) = s { id } else { unreachable!("above the last mark") })
            .collect())
    }

    fn pop_n(&mut self, n: usize, at: usize) -> Result<Vec<Id>, PickleError> {
        let mut items = (0..n).map(|_| self.pop(at)).collect::<Result<Vec<_>, _>>()?;
        items.reverse();
        Ok(items)
    }

    fn memo_get(&self, key: u32, at: usize) -> Result<Id, PickleError> {
        self.memo.get(&key).copied().ok_or_else(|| malformed(at, &format!("memo key {key} was never stored")))
    }

    fn set_items(&mut self, dict: Id, items: &[Id], at: usize) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(malformed(at, "SETITEMS with an odd number of values"));
        }
        let Value::Dict(entries) = &mut self.values[dict] else {
            return Err(malformed(at, "SETITEM(S) on something that is not a dict"));
        };
        for pair in items.chunks_exact(2) {
            entries.push((pair[0], pair[1]));
        }
        Ok(())
    }

    fn append(&mut self, list: Id, items: &[Id], at: usize) -> Result<(), PickleError> {
        let Value::List(values) = &mut self.values[list] else {
            return Err(malformed(at, "APPEND(S) on something that is not a list"));
        };
        values.extend_from_slice(items);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str, at: usize) -> Result<(), PickleError> {
        let Some(&(m, n)) = ALLOWED_GLOBALS.iter().find(|(m, n)| *m == module && *n == name) else {
            return Err(PickleError::Global { module: module.into(), name: name.into(), at });
        };
        self.push(Value::Global(m, n));
        Ok(())
    }

    /// `REDUCE`/`NEWOBJ`: records the call. `OrderedDict()` becomes the dict it builds, so `SETITEMS` can fill
    /// it; nothing else is interpreted here (nothing is copied either, so memory stays linear in the file).
    fn call(&mut self, callable: Id, args: Id, at: usize) -> Result<(), PickleError> {
        let Value::Global(module, name) = self.values[callable] else {
            return Err(malformed(at, "a call of something that is not a global"));
        };
        let Value::Tuple(arg_items) = &self.values[args] else {
            return Err(malformed(at, "call arguments are not a tuple"));
        };
        if (module, name) == ("collections", "OrderedDict") && arg_items.is_empty() {
            self.push(Value::Dict(Vec::new()));
        } else {
            self.push(Value::Call { callable, args, state: None });
        }
        Ok(())
    }

    fn build(&mut self, target: Id, state: Id, at: usize) -> Result<(), PickleError> {
        match &mut self.values[target] {
            Value::Call { state: slot @ None, .. } => {
                *slot = Some(state);
                Ok(())
            }
            Value::Call { .. } => Err(malformed(at, "BUILD twice on one object")),
            _ => Err(malformed(at, "BUILD on something that is not an object")),
        }
    }

    fn run(mut self, data: &[u8]) -> Result<Pickle, PickleError> {
        let mut c = Cursor { data, pos: 0 };
        loop {
            let at = c.pos;
            let op = c.u8()?;
            match op {
                0x80 => {
                    // PROTO
                    let version = c.u8()?;
                    if version > 5 {
                        return Err(malformed(at, &format!("pickle protocol {version} (at most 5 is known)")));
                    }
                }
                b'.' => {
                    // STOP
                    let root = self.pop(at)?;
                    return Ok(Pickle { values: self.values, root });
                }
                b'c' => {
                    // GLOBAL "module\nname\n"
                    let module = c.line()?;
                    let name = c.line()?;
                    self.global(module, name, at)?;
                }
                b'q' => {
                    let key = u32::from(c.u8()?);
                    let top = self.top(at)?;
                    self.memo.insert(key, top);
                }
                b'r' => {
                    let key = c.u32()?;
                    let top = self.top(at)?;
                    self.memo.insert(key, top);
                }
                b'h' => {
                    let id = self.memo_get(u32::from(c.u8()?), at)?;
                    self.stack.push(Slot::Value(id));
                }
                b'j' => {
                    let id = self.memo_get(c.u32()?, at)?;
                    self.stack.push(Slot::Value(id));
                }
                b')' => self.push(Value::Tuple(Vec::new())),
                b'}' => self.push(Value::Dict(Vec::new())),
                b']' => self.push(Value::List(Vec::new())),
                b'(' => self.stack.push(Slot::Mark),
                b't' => {
                    let items = self.pop_to_mark(at)?;
                    self.push(Value::Tuple(items));
                }
                b'l' => {
                    let items = self.pop_to_mark(at)?;
                    self.push(Value::List(items));
                }
                b'd' => {
                    let items = self.pop_to_mark(at)?;
                    self.push(Value::Dict(Vec::new()));
                    let dict = self.top(at)?;
                    self.set_items(dict, &items, at)?;
                }
                0x85..=0x87 => {
                    // TUPLE1, TUPLE2, TUPLE3
                    let items = self.pop_n(usize::from(op - 0x84), at)?;
                    self.push(Value::Tuple(items));
                }
                b'R' | 0x81 => {
                    // REDUCE, NEWOBJ
                    let args = self.pop(at)?;
                    let callable = self.pop(at)?;
                    self.call(callable, args, at)?;
                }
                b'b' => {
                    let state = self.pop(at)?;
                    let target = self.top(at)?;
                    self.build(target, state, at)?;
                }
                b's' => {
                    let items = self.pop_n(2, at)?;
                    let dict = self.top(at)?;
                    self.set_items(dict, &items, at)?;
                }
                b'u' => {
                    let items = self.pop_to_mark(at)?;
                    let dict = self.top(at)?;
                    self.set_items(dict, &items, at)?;
                }
                b'a' => {
                    let item = self.pop(at)?;
                    let list = self.top(at)?;
                    self.append(list, &[item], at)?;
                }
                b'e' => {
                    let items = self.pop_to_mark(at)?;
                    let list = self.top(at)?;
                    self.append(list, &items, at)?;
                }
                b'X' => {
                    let n = c.u32()? as usize;
                    let bytes = c.take(n)?;
                    let s = std::str::from_utf8(bytes).map_err(|_| malformed(at, "a str that is not UTF-8"))?;
                    self.push(Value::Str(s.to_owned()));
                }
                0x8c => {
                    // SHORT_BINUNICODE
                    let n = usize::from(c.u8()?);
                    let bytes = c.take(n)?;
                    let s = std::str::from_utf8(bytes).map_err(|_| malformed(at, "a str that is not UTF-8"))?;
                    self.push(Value::Str(s.to_owned()));
                }
                b'C' => {
                    let n = usize::from(c.u8()?);
                    let bytes = c.take(n)?.to_vec();
                    self.push(Value::Bytes(bytes));
                }
                b'B' => {
                    let n = c.u32()? as usize;
                    let bytes = c.take(n)?.to_vec();
                    self.push(Value::Bytes(bytes));
                }
                b'J' => {
                    let v = i32::from_le_bytes(c.take(4)?.try_into().expect("4 bytes"));
                    self.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = c.u8()?;
                    self.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = c.u16()?;
                    self.push(Value::Int(i64::from(v)));
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes
                    let n = usize::from(c.u8()?);
                    let bytes = c.take(n)?;
                    if n > 8 {
                        return Err(malformed(at, "an integer wider than 64 bits"));
                    }
                    let fill = if bytes.last().is_some_and(|&b| b & 0x80 != 0) { 0xff } else { 0 };
                    let mut wide = [fill; 8];
                    wide[..n].copy_from_slice(bytes);
                    self.push(Value::Int(i64::from_le_bytes(wide)));
                }
                b'G' => {
                    let v = f64::from_be_bytes(c.take(8)?.try_into().expect("8 bytes"));
                    self.push(Value::Float(v));
                }
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'N' => self.push(Value::None),
                b'Q' => {
                    let id = self.pop(at)?;
                    self.push(Value::Persistent(id));
                }
                b'0' => {
                    self.pop(at)?;
                }
                _ => return Err(PickleError::Opcode { opcode: op, at }),
            }
        }
    }
}

fn malformed(at: usize, what: &str) -> PickleError {
    PickleError::Malformed { at, what: what.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_filled_through_the_memo_are_shared() {
        // d = {}; d['a'] = [1, 2.5, 'x']; return (d, d): the dict is memoised empty, then filled.
        let program = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03esh\x00\x86q\x04.";
        let p = Pickle::parse(program).unwrap();
        let pair = p.items(p.root).unwrap();
        assert_eq!(pair[0], pair[1], "both elements are the one dict");
        let list = p.dict_get(pair[0], "a").unwrap();
        let items = p.items(list).unwrap();
        assert_eq!(p.get(items[0]), &Value::Int(1));
        assert_eq!(p.get(items[1]), &Value::Float(2.5));
        assert_eq!(p.str(items[2]), Some("x"));
    }

    #[test]
    fn a_foreign_global_is_refused_by_name() {
        // os.system('echo hi') as protocol 0 writes it.
        let program = b"cos\nsystem\n(S'echo hi'\ntR.";
        let e = Pickle::parse(program).unwrap_err();
        assert_eq!(e, PickleError::Global { module: "os".into(), name: "system".into(), at: 0 });
        assert!(e.to_string().contains("os.system"), "{e}");
    }

    #[test]
    fn truncated_and_malformed_programs_are_errors() {
        let whole = b"\x80\x02]q\x00(K\x01K\x02e.";
        assert!(Pickle::parse(whole).is_ok());
        for end in 0..whole.len() {
            assert!(Pickle::parse(&whole[..end]).is_err(), "prefix of {end} bytes");
        }
        for bad in [&b"\x80\x02h\x07."[..], b"\x80\x02s.", b"\x80\x02K\x01K\x02s.", b"\x80\x02\xff.", b"\x80\x09N."] {
            assert!(Pickle::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Any bytes, and any corruption of a valid program, give a value or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = Pickle::parse(&bytes);
        }

        #[test]
        fn corrupted_programs_never_panic(at in 0usize..60, byte in proptest::prelude::any::<u8>()) {
            let mut program = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03esh\x00\x86q\x04.".to_vec();
            let at = at % program.len();
            program[at] = byte;
            let _ = Pickle::parse(&program);
        }
    }
}
