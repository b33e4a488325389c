//! The calibrated parameters of a neuron circuit, listed once: each one's name (command line, failures, reports),
//! its key in calibration files, its unit and how a value is judged against its target; and [`PerParameter`],
//! one value per parameter, indexed by [`Parameter`] and saved as a JSON object with the keys in list order.

use std::fmt;
use std::ops::{Index, IndexMut};

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calibrated parameter of a neuron circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameter {
    /// Membrane time constant (us).
    TauMem,
    /// Excitatory synaptic time constant (us).
    TauSynExc,
    /// Inhibitory synaptic time constant (us).
    TauSynInh,
    /// Leak potential (mV).
    Leak,
    /// Reset potential (mV).
    Reset,
    /// Threshold potential (mV).
    Threshold,
    /// Excitatory gain: the jump of the membrane slope per weight LSB (mV/us).
    GainExc,
    /// Inhibitory gain (mV/us per LSB).
    GainInh,
}

/// How close a value must come to its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// `|achieved / target - 1|` at most this.
    Relative(f64),
    /// `|achieved - target|` at most this, in the parameter's unit.
    Absolute(f64),
}

impl Tolerance {
    /// How far a value lies from its target, in the tolerance's terms (relative or absolute); NaN if unmeasured.
    pub fn deviation(self, achieved: f64, target: f64) -> f64 {
        match self {
            Tolerance::Relative(_) => (achieved / target - 1.0).abs(),
            Tolerance::Absolute(_) => (achieved - target).abs(),
        }
    }

    /// The largest accepted deviation.
    pub fn bound(self) -> f64 {
        match self {
            Tolerance::Relative(b) | Tolerance::Absolute(b) => b,
        }
    }

    /// Whether a value meets its target (never for NaN).
    pub fn meets(self, achieved: f64, target: f64) -> bool {
        self.deviation(achieved, target) <= self.bound()
    }
}

impl Parameter {
    /// Number of parameters.
    pub const COUNT: usize = 8;

    /// Every parameter, in the order of calibration files and of the calibration's report.
    pub const ALL: [Parameter; Parameter::COUNT] = [
        Parameter::TauMem,
        Parameter::TauSynExc,
        Parameter::TauSynInh,
        Parameter::Leak,
        Parameter::Reset,
        Parameter::Threshold,
        Parameter::GainExc,
        Parameter::GainInh,
    ];

    /// Its position in [`Parameter::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Its name on the command line, in failures and reports: `tau_mem`, `leak`, `gain_exc`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Parameter::TauMem => "tau_mem",
            Parameter::TauSynExc => "tau_syn_exc",
            Parameter::TauSynInh => "tau_syn_inh",
            Parameter::Leak => "leak",
            Parameter::Reset => "reset",
            Parameter::Threshold => "threshold",
            Parameter::GainExc => "gain_exc",
            Parameter::GainInh => "gain_inh",
        }
    }

    /// Its key in calibration files and CSV headers, with the unit where it has a short one: `tau_mem_us`,
    /// `leak_mv`, `gain_exc`, ...
    pub const fn key(self) -> &'static str {
        match self {
            Parameter::TauMem => "tau_mem_us",
            Parameter::TauSynExc => "tau_syn_exc_us",
            Parameter::TauSynInh => "tau_syn_inh_us",
            Parameter::Leak => "leak_mv",
            Parameter::Reset => "reset_mv",
            Parameter::Threshold => "threshold_mv",
            Parameter::GainExc => "gain_exc",
            Parameter::GainInh => "gain_inh",
        }
    }

    /// Its unit.
    pub const fn unit(self) -> &'static str {
        match self {
            Parameter::TauMem | Parameter::TauSynExc | Parameter::TauSynInh => "us",
            Parameter::Leak | Parameter::Reset | Parameter::Threshold => "mV",
            Parameter::GainExc | Parameter::GainInh => "mV/us per LSB",
        }
    }

    /// How a calibrated value is accepted: time constants and gains within 2 % of their target, potentials
    /// within 2 mV.
    pub const fn tolerance(self) -> Tolerance {
        match self {
            Parameter::Leak | Parameter::Reset | Parameter::Threshold => Tolerance::Absolute(2.0),
            _ => Tolerance::Relative(0.02),
        }
    }

    /// The parameter with this [`name`](Parameter::name).
    pub fn from_name(name: &str) -> Option<Parameter> {
        Parameter::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The parameter with this [`key`](Parameter::key).
    pub fn from_key(key: &str) -> Option<Parameter> {
        Parameter::ALL.into_iter().find(|p| p.key() == key)
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every parameter's key, in [`Parameter::ALL`]'s order.
const KEYS: [&str; Parameter::COUNT] = {
    let mut keys = [""; Parameter::COUNT];
    let mut i = 0;
    while i < Parameter::COUNT {
        keys[i] = Parameter::ALL[i].key();
        i += 1;
    }
    keys
};

/// One value per parameter. Saved as an object whose fields are the parameters' keys in [`Parameter::ALL`]'s
/// order (as a struct with those fields would be).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PerParameter<T>(pub [T; Parameter::COUNT]);

impl<T> PerParameter<T> {
    /// The values `f(parameter)` of every parameter.
    pub fn from_fn(mut f: impl FnMut(Parameter) -> T) -> PerParameter<T> {
        PerParameter(std::array::from_fn(|i| f(Parameter::ALL[i])))
    }

    /// Every parameter with its value, in [`Parameter::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Parameter, &T)> {
        Parameter::ALL.into_iter().zip(&self.0)
    }

    /// The same with mutable values.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Parameter, &mut T)> {
        Parameter::ALL.into_iter().zip(&mut self.0)
    }

    /// Another value for every parameter, made from its value here.
    pub fn map<U>(&self, mut f: impl FnMut(Parameter, &T) -> U) -> PerParameter<U> {
        PerParameter::from_fn(|p| f(p, &self[p]))
    }
}

impl<T> Index<Parameter> for PerParameter<T> {
    type Output = T;

    fn index(&self, p: Parameter) -> &T {
        &self.0[p.index()]
    }
}

impl<T> IndexMut<Parameter> for PerParameter<T> {
    fn index_mut(&mut self, p: Parameter) -> &mut T {
        &mut self.0[p.index()]
    }
}

impl<T: Serialize> Serialize for PerParameter<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("PerParameter", Parameter::COUNT)?;
        for (p, value) in self.iter() {
            s.serialize_field(p.key(), value)?;
        }
        s.end()
    }
}

/// A field name while reading: a parameter's key, or something else (skipped, as for a derived struct).
struct Key(Option<Parameter>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a parameter key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(Key(Parameter::from_key(key)))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerParameter<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PerParameter<T>, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = PerParameter<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an object with the fields {}", KEYS.join(", "))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PerParameter<T>, A::Error> {
                let mut values: [Option<T>; Parameter::COUNT] = Default::default();
                while let Some(Key(key)) = map.next_key()? {
                    match key {
                        Some(p) if values[p.index()].is_some() => return Err(de::Error::duplicate_field(p.key())),
                        Some(p) => values[p.index()] = Some(map.next_value()?),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if let Some(p) = Parameter::ALL.into_iter().find(|p| values[p.index()].is_none()) {
                    return Err(de::Error::missing_field(p.key()));
                }
                Ok(PerParameter(values.map(|v| v.expect("every field checked above"))))
            }
        }
        deserializer.deserialize_struct("PerParameter", &KEYS, ObjectVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_indices_are_one_list() {
        for (i, p) in Parameter::ALL.into_iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Parameter::from_name(p.name()), Some(p));
            assert_eq!(Parameter::from_key(p.key()), Some(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.name()));
            assert!(p.key().starts_with(p.name()));
        }
        assert_eq!(Parameter::from_name("tau_mem_us"), None);
        assert_eq!(Parameter::from_key("tau_mem"), None);
    }

    #[test]
    fn tolerances_are_relative_for_time_constants_and_gains_and_absolute_for_potentials() {
        let tau = Parameter::TauMem.tolerance();
        assert!(tau.meets(6.1, 6.0) && !tau.meets(6.2, 6.0) && !tau.meets(f64::NAN, 6.0));
        let leak = Parameter::Leak.tolerance();
        assert!(leak.meets(361.9, 360.0) && !leak.meets(362.1, 360.0));
        assert_eq!(Parameter::GainInh.tolerance(), Tolerance::Relative(0.02));
        assert_eq!(leak.deviation(357.0, 360.0), 3.0);
    }

    #[test]
    fn per_parameter_values_are_saved_as_an_object_with_the_keys_in_order() {
        let values = PerParameter::from_fn(|p| p.index() as f64);
        let text = serde_json::to_string(&values).unwrap();
        assert_eq!(
            text,
            r#"{"tau_mem_us":0.0,"tau_syn_exc_us":1.0,"tau_syn_inh_us":2.0,"leak_mv":3.0,"reset_mv":4.0,"threshold_mv":5.0,"gain_exc":6.0,"gain_inh":7.0}"#
        );
        assert_eq!(serde_json::from_str::<PerParameter<f64>>(&text).unwrap(), values);
        // Another order and unknown fields are read as a derived struct would read them.
        let shuffled = r#"{"gain_inh":7,"extra":[1],"tau_mem_us":0,"tau_syn_exc_us":1,"tau_syn_inh_us":2,
            "leak_mv":3,"reset_mv":4,"threshold_mv":5,"gain_exc":6}"#;
        assert_eq!(serde_json::from_str::<PerParameter<f64>>(shuffled).unwrap(), values);
        let missing = text.replace(r#","gain_exc":6.0"#, "");
        let e = serde_json::from_str::<PerParameter<f64>>(&missing).unwrap_err().to_string();
        assert!(e.contains("missing field `gain_exc`"), "{e}");
        let twice = text.replace(r#""gain_exc":6.0"#, r#""leak_mv":6.0"#);
        let e = serde_json::from_str::<PerParameter<f64>>(&twice).unwrap_err().to_string();
        assert!(e.contains("duplicate field `leak_mv`"), "{e}");
        assert!(serde_json::from_str::<PerParameter<f64>>("[1, 2]").is_err());
    }
}
