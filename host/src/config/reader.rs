//! A path-tracking reader over a parsed YAML document: every error names the key it is about, and every key a
//! section does not know is reported instead of silently ignored.

use crate::text::Excerpt;
use bss2_protocol::error::EXCERPT_CHARS;
use std::cell::RefCell;
use std::collections::BTreeSet;

use yaml_serde::{Mapping, Value};

use super::ConfigError;

/// A YAML mapping at a known path (e.g. `network_layout.layers[1]`), remembering which keys were read.
#[derive(Debug)]
pub struct Section<'a> {
    path: String,
    map: &'a Mapping,
    read: RefCell<BTreeSet<String>>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

impl<'a> Section<'a> {
    /// The top-level mapping of a document.
    pub fn root(value: &'a Value) -> Result<Self, ConfigError> {
        match value {
            Value::Mapping(map) => Ok(Section { path: String::new(), map, read: RefCell::default() }),
            other => Err(ConfigError::at("", format!("the config must be a mapping, found {}", type_name(other)))),
        }
    }

    /// The path of a key in this section.
    pub fn key_path(&self, key: &str) -> String {
        // A key is user input too: a huge one is cut.
        let key =
            if key.chars().nth(EXCERPT_CHARS).is_some() { Excerpt::new(key).to_string() } else { key.to_string() };
        if self.path.is_empty() { key } else { format!("{}.{key}", self.path) }
    }

    /// The path of this section.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// An error about `key` in this section.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.key_path(key), message)
    }

    /// The raw value of `key`, marking it as read; None if absent.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        let v = self.map.get(key)?;
        self.read.borrow_mut().insert(key.to_string());
        Some(v)
    }

    /// Whether `key` is present (without marking it read).
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The value of a required key.
    fn required(&self, key: &str) -> Result<&'a Value, ConfigError> {
        self.raw(key).ok_or_else(|| self.error(key, "missing required key"))
    }

    fn expected(&self, key: &str, what: &str, found: &Value) -> ConfigError {
        self.error(key, format!("expected {what}, found {}", describe(found)))
    }

    fn as_f64(&self, key: &str, v: &Value) -> Result<f64, ConfigError> {
        match v {
            Value::Number(n) => {
                n.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.expected(key, "a finite number", v))
            }
            // PyYAML writes some floats in forms YAML 1.2 reads as strings (e.g. `1e-3`); accept those.
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| self.expected(key, "a finite number", v)),
            _ => Err(self.expected(key, "a finite number", v)),
        }
    }

    /// A required number.
    pub fn f64(&self, key: &str) -> Result<f64, ConfigError> {
        let v = self.required(key)?;
        self.as_f64(key, v)
    }

    /// An optional number; absent or null gives None.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.as_f64(key, v).map(Some),
        }
    }

    /// An optional number, or `false`/null meaning "off".
    pub fn number_or_false(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
            Some(v @ Value::Bool(true)) => Err(self.expected(key, "a number or false", v)),
            Some(v) => self.as_f64(key, v).map(Some),
        }
    }

    /// A number that must be positive and finite.
    pub fn positive_f64(&self, key: &str) -> Result<f64, ConfigError> {
        let x = self.f64(key)?;
        if !(x > 0.0 && x.is_finite()) {
            return Err(self.error(key, format!("must be a positive number, found {x}")));
        }
        Ok(x)
    }

    /// A required number that must be at least zero and finite.
    pub fn nonnegative_f64(&self, key: &str) -> Result<f64, ConfigError> {
        let x = self.f64(key)?;
        if !(x >= 0.0 && x.is_finite()) {
            return Err(self.error(key, format!("must be zero or positive, found {x}")));
        }
        Ok(x)
    }

    /// An optional number that must be at least zero and finite.
    pub fn opt_nonnegative_f64(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        let x = self.opt_f64(key)?;
        if let Some(x) = x
            && !(x >= 0.0 && x.is_finite())
        {
            return Err(self.error(key, format!("must be zero or positive, found {x}")));
        }
        Ok(x)
    }

    fn as_u64(&self, key: &str, v: &Value) -> Result<u64, ConfigError> {
        integer(v).ok_or_else(|| self.expected(key, "a non-negative integer", v))
    }

    /// A required non-negative integer.
    pub fn u64(&self, key: &str) -> Result<u64, ConfigError> {
        let v = self.required(key)?;
        self.as_u64(key, v)
    }

    /// An optional non-negative integer; absent or null gives None.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.as_u64(key, v).map(Some),
        }
    }

    /// A required positive count.
    pub fn count(&self, key: &str) -> Result<usize, ConfigError> {
        let n = self.u64(key)?;
        if n == 0 {
            return Err(self.error(key, "must be at least 1"));
        }
        usize::try_from(n).map_err(|_| self.error(key, "is too large"))
    }

    /// An optional positive count.
    pub fn opt_count(&self, key: &str) -> Result<Option<usize>, ConfigError> {
        match self.opt_u64(key)? {
            None => Ok(None),
            Some(0) => Err(self.error(key, "must be at least 1")),
            Some(n) => usize::try_from(n).map(Some).map_err(|_| self.error(key, "is too large")),
        }
    }

    /// A required boolean.
    pub fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.required(key)? {
            Value::Bool(b) => Ok(*b),
            v => Err(self.expected(key, "true or false", v)),
        }
    }

    /// An optional boolean with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.expected(key, "true or false", v)),
        }
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<&'a str, ConfigError> {
        match self.required(key)? {
            Value::String(s) => Ok(s),
            v => Err(self.expected(key, "a string", v)),
        }
    }

    /// An optional string; absent or null gives None.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.expected(key, "a string", v)),
        }
    }

    /// A required nested mapping.
    pub fn section(&self, key: &str) -> Result<Section<'a>, ConfigError> {
        let v = self.required(key)?;
        self.section_of(key, v)
    }

    /// An optional nested mapping; absent, null or `false` gives None.
    pub fn opt_section(&self, key: &str) -> Result<Option<Section<'a>>, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
            Some(v) => self.section_of(key, v).map(Some),
        }
    }

    fn section_of(&self, key: &str, v: &'a Value) -> Result<Section<'a>, ConfigError> {
        match v {
            Value::Mapping(map) => Ok(Section { path: self.key_path(key), map, read: RefCell::default() }),
            _ => Err(self.expected(key, "a mapping", v)),
        }
    }

    /// The items of a required list.
    pub fn list(&self, key: &str) -> Result<Vec<(String, &'a Value)>, ConfigError> {
        let v = self.required(key)?;
        self.items(key, v)
    }

    /// The items of an optional list (absent or null gives an empty list).
    pub fn opt_list(&self, key: &str) -> Result<Vec<(String, &'a Value)>, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => self.items(key, v),
        }
    }

    fn items(&self, key: &str, v: &'a Value) -> Result<Vec<(String, &'a Value)>, ConfigError> {
        match v {
            Value::Sequence(items) => {
                Ok(items.iter().enumerate().map(|(i, item)| (format!("{}[{i}]", self.key_path(key)), item)).collect())
            }
            _ => Err(self.expected(key, "a list", v)),
        }
    }

    /// A list of finite numbers.
    pub fn f64_list(&self, key: &str) -> Result<Vec<f64>, ConfigError> {
        self.list(key)?
            .into_iter()
            .map(|(path, v)| match v {
                Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(n.as_f64().unwrap_or_default()),
                other => Err(ConfigError::at(&path, format!("expected a finite number, found {}", describe(other)))),
            })
            .collect()
    }

    /// A list of non-negative integers (absent or null gives an empty list).
    pub fn opt_u64_list(&self, key: &str) -> Result<Vec<u64>, ConfigError> {
        self.opt_list(key)?
            .into_iter()
            .map(|(path, v)| {
                integer(v).ok_or_else(|| {
                    ConfigError::at(&path, format!("expected a non-negative integer, found {}", describe(v)))
                })
            })
            .collect()
    }

    /// A mapping item of a list, as a section.
    pub fn item_section(path: String, v: &'a Value) -> Result<Section<'a>, ConfigError> {
        match v {
            Value::Mapping(map) => Ok(Section { path, map, read: RefCell::default() }),
            other => Err(ConfigError::at(&path, format!("expected a mapping, found {}", describe(other)))),
        }
    }

    /// Fails on the first key that is neither in `known` (every key this section accepts) nor was read.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), ConfigError> {
        let read = self.read.borrow();
        for key in self.map.keys() {
            let name = match key {
                Value::String(s) => s.clone(),
                other => {
                    return Err(ConfigError::at(
                        &self.path,
                        format!("keys must be strings, found {}", describe(other)),
                    ));
                }
            };
            if !read.contains(&name) && !known.contains(&name.as_str()) {
                let mut expected = known.to_vec();
                expected.sort_unstable();
                return Err(self.error(&name, format!("unknown key (known here: {})", expected.join(", "))));
            }
        }
        Ok(())
    }
}

/// A non-negative integer, also written as an integral float (PyYAML may write 5.0 for an int that went
/// through a float).
fn integer(v: &Value) -> Option<u64> {
    let Value::Number(n) = v else { return None };
    n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15).map(|f| f as u64))
}

/// A short description of a YAML value for error messages.
pub fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {}", Excerpt::new(s)),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{} {n}", type_name(v)),
        other => type_name(other).to_string(),
    }
}
