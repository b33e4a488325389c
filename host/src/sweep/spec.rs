//! The reference's sweep config (`parameters:` of `{path, value}`) and its expansion into runs: the Cartesian
//! product of the entries' values (the last entry varying fastest, as `itertools.product`), each applied to the
//! base config's YAML tree. Every path is checked against the base config before any folder is made.

use yaml_serde::{Mapping, Value};

use super::SweepError;

/// One `parameters` entry: the key paths set together, and the values they take in turn.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Key paths, each split at `/` (`network_layout/layers/1/size` -> 4 parts).
    pub paths: Vec<Vec<String>>,
    /// The values, in order.
    pub values: Vec<Value>,
}

/// Slurm settings a sweep config may carry in a `slurm:` section (our addition; the reference reads only
/// `parameters`). Command-line options take precedence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlurmSection {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<usize>,
    /// `--mem`.
    pub mem: Option<String>,
    /// The chip resource request of chip runs, as an sbatch option line (e.g. `--gres=bss2:1` or the site's
    /// own, `--wafer=62 --fpga=3` at the BrainScaleS-2 centre).
    pub chip: Option<String>,
    /// Further `#SBATCH` lines, verbatim.
    pub extra: Vec<String>,
}

/// A parsed sweep config.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// The entries with at least one value (empty ones are skipped with a warning, as the reference does).
    pub entries: Vec<Entry>,
    /// The optional `slurm:` section.
    pub slurm: SlurmSection,
}

/// One applied setting of a run: a key path and its value (as `sweep_updates.yaml` lists them).
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    /// The key path's parts.
    pub path: Vec<String>,
    /// The value set.
    pub value: Value,
}

/// One run of the sweep: its updates (every path of every entry, in order) and its config.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// The folder name, `run_0=<v>_1=<v>...` as the reference makes it.
    pub name: String,
    /// The updates applied.
    pub updates: Vec<Update>,
    /// The base config with the updates applied.
    pub config: Value,
}

impl SweepSpec {
    /// Parses a sweep config's text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<SweepSpec, SweepError> {
        let bad = |message: String| SweepError::SweepConfig { origin: origin.to_string(), message };
        let root: Value = yaml_serde::from_str(text).map_err(|e| bad(e.to_string()))?;
        let Value::Mapping(root) = root else {
            return Err(bad("expected a mapping with the key `parameters`".into()));
        };
        for key in root.keys() {
            match key.as_str() {
                Some("parameters" | "slurm") => {}
                _ => return Err(bad(format!("unknown key {}; expected `parameters` (and `slurm`)", scalar_text(key)))),
            }
        }
        let Some(Value::Sequence(items)) = root.get("parameters") else {
            return Err(bad("`parameters` must be a list of {path, value} entries".into()));
        };
        let mut entries = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = |message: &str| bad(format!("parameters[{i}]: {message}"));
            let Value::Mapping(item) = item else { return Err(at("expected a mapping with `path` and `value`")) };
            for key in item.keys() {
                if !matches!(key.as_str(), Some("path" | "value")) {
                    return Err(at(&format!("unknown key {}; expected `path` and `value`", scalar_text(key))));
                }
            }
            let paths = match item.get("path") {
                Some(Value::String(p)) => vec![p.clone()],
                Some(Value::Sequence(ps)) if !ps.is_empty() => ps
                    .iter()
                    .map(|p| p.as_str().map(str::to_string).ok_or_else(|| at("every path must be a string")))
                    .collect::<Result<_, _>>()?,
                _ => return Err(at("`path` must be a key path like a/b/0/c, or a list of them")),
            };
            let paths: Vec<Vec<String>> = paths.iter().map(|p| p.split('/').map(str::to_string).collect()).collect();
            if let Some(p) = paths.iter().find(|p| p.iter().any(String::is_empty)) {
                return Err(at(&format!("path {} has an empty part", p.join("/"))));
            }
            let values = match item.get("value") {
                Some(Value::Sequence(vs)) => vs.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(v) => vec![v.clone()],
            };
            if values.is_empty() {
                tracing::warn!("{origin}: parameters[{i}] has no values; it is left out, as the reference does");
                continue;
            }
            entries.push(Entry { paths, values });
        }
        if entries.is_empty() {
            return Err(bad("`parameters` has no entry with values: nothing to sweep".into()));
        }
        let slurm = match root.get("slurm") {
            None | Some(Value::Null) => SlurmSection::default(),
            Some(v) => parse_slurm(v).map_err(|m| bad(format!("slurm: {m}")))?,
        };
        Ok(SweepSpec { entries, slurm })
    }

    /// The runs over `base` (the base config's YAML tree), in the reference's order. A path missing from the base
    /// config is an error naming it; so are two runs whose folder names collide.
    pub fn plan(&self, base: &Value) -> Result<Vec<PlannedRun>, SweepError> {
        for (i, entry) in self.entries.iter().enumerate() {
            for path in &entry.paths {
                let mut probe = base.clone();
                set_path(&mut probe, path, Value::Null).map_err(|reason| SweepError::UnknownPath {
                    entry: i,
                    path: path.join("/"),
                    reason,
                })?;
            }
        }
        let mut runs = Vec::new();
        let mut choice = vec![0usize; self.entries.len()];
        loop {
            let updates: Vec<Update> = self
                .entries
                .iter()
                .zip(&choice)
                .flat_map(|(entry, &c)| {
                    entry.paths.iter().map(move |path| Update { path: path.clone(), value: entry.values[c].clone() })
                })
                .collect();
            let mut config = base.clone();
            for u in &updates {
                // Checked above for every path, so this cannot fail.
                set_path(&mut config, &u.path, u.value.clone()).map_err(|reason| SweepError::UnknownPath {
                    entry: 0,
                    path: u.path.join("/"),
                    reason,
                })?;
            }
            runs.push(PlannedRun { name: run_name(&updates), updates, config });
            // Odometer over the entries, last one fastest.
            let mut k = self.entries.len();
            loop {
                if k == 0 {
                    return check_unique(runs);
                }
                k -= 1;
                choice[k] += 1;
                if choice[k] < self.entries[k].values.len() {
                    break;
                }
                choice[k] = 0;
            }
        }
    }
}

fn check_unique(runs: Vec<PlannedRun>) -> Result<Vec<PlannedRun>, SweepError> {
    let mut seen = std::collections::HashMap::new();
    for (i, run) in runs.iter().enumerate() {
        if let Some(j) = seen.insert(run.name.as_str(), i) {
            return Err(SweepError::NameClash { name: run.name.clone(), first: j, second: i });
        }
    }
    Ok(runs)
}

fn parse_slurm(v: &Value) -> Result<SlurmSection, String> {
    let Value::Mapping(m) = v else { return Err("expected a mapping".into()) };
    let mut s = SlurmSection::default();
    for (key, value) in m {
        let key = key.as_str().ok_or_else(|| format!("key {} is not a name", scalar_text(key)))?;
        let text = || -> Result<String, String> {
            match value {
                Value::String(t) => Ok(t.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(format!("{key}: expected text")),
            }
        };
        match key {
            "partition" => s.partition = Some(text()?),
            "time" => s.time = Some(text()?),
            "mem" => s.mem = Some(text()?),
            "chip" => s.chip = Some(text()?),
            "cpus_per_task" => {
                s.cpus_per_task =
                    Some(value.as_u64().filter(|&n| n > 0).ok_or("cpus_per_task: expected a positive whole number")?
                        as usize)
            }
            "extra" => {
                let Value::Sequence(lines) = value else { return Err("extra: expected a list of lines".into()) };
                s.extra = lines
                    .iter()
                    .map(|l| l.as_str().map(str::to_string).ok_or("extra: every line must be text".to_string()))
                    .collect::<Result<_, _>>()?;
            }
            other => {
                return Err(format!("unknown key {other}; expected partition, time, cpus_per_task, mem, chip, extra"));
            }
        }
    }
    Ok(s)
}

/// Sets the value at `path` (which must exist: mapping keys by name, list items by index).
fn set_path(root: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let mut node = root;
    for (depth, part) in path.iter().enumerate() {
        let here = if depth == 0 { "the config".to_string() } else { path[..depth].join("/") };
        node = match node {
            Value::Mapping(m) => lookup(m, part).ok_or_else(|| format!("{here} has no key {part}"))?,
            Value::Sequence(items) => {
                let len = items.len();
                let index: usize = part.parse().map_err(|_| format!("{here} is a list: {part} is not an index"))?;
                items.get_mut(index).ok_or_else(|| format!("{here} has {len} entries, no index {index}"))?
            }
            _ => return Err(format!("{here} is a single value, it has no {part}")),
        };
    }
    *node = value;
    Ok(())
}

fn lookup<'a>(m: &'a mut Mapping, part: &str) -> Option<&'a mut Value> {
    if m.contains_key(part) {
        return m.get_mut(part);
    }
    // A digit part is an integer key in the reference (`int(key) if key.isdigit()`).
    let n: u64 = part.parse().ok()?;
    m.get_mut(Value::Number(n.into()))
}

/// `run_0=<v>_1=<v>...`: the index of each update and Python's `str` of its value, with spaces, braces, colons,
/// quotes, brackets and commas taken out (the reference's short names, safe for any file system).
pub fn run_name(updates: &[Update]) -> String {
    let parts: Vec<String> = updates.iter().enumerate().map(|(i, u)| format!("{i}={}", python_str(&u.value))).collect();
    let name = format!("run_{}", parts.join("_"));
    name.chars().filter(|c| !matches!(c, ' ' | '{' | '}' | ':' | '\'' | ']' | '[' | ',')).collect()
}

/// Python's `str()` of a YAML value as `yaml.safe_load` gives it.
pub fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => python_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => format!("'{s}'"),
        Value::Sequence(items) => format!("[{}]", items.iter().map(python_repr).collect::<Vec<_>>().join(", ")),
        Value::Mapping(m) => {
            let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{}: {}", python_repr(k), python_repr(v))).collect();
            format!("{{{}}}", pairs.join(", "))
        }
        Value::Tagged(t) => python_repr(&t.value),
    }
}

/// Python's `repr` of a float: the shortest digits that round-trip, in positional notation for decimal
/// exponents -4..16 (always with a fractional part) and as `1.5e-05` otherwise.
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{x:e}"); // shortest round-trip digits, e.g. "-1.5e-5"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if (point as usize) >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{text}")
    } else {
        let rest = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{rest}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE_SWEEP: &str = "parameters:
  - path: [training_params/torch_seed, training_params/numpy_seed]
    value: [1000, 1001]
  - path: [network_layout/layers/0/name, network_layout/layers/2/name]
    value: [\"DelayAxonal\", \"BroadcastLayer\"]
  - path: network_layout/layers/1/size
    value: [30, 25, 20, 15, 10, 5]
";

    fn base() -> Value {
        yaml_serde::from_str(
            "network_layout:\n  layers:\n  - name: BroadcastLayer\n  - name: NeuronLayer\n    size: 30\n  \
             - name: BroadcastLayer\ntraining_params:\n  torch_seed: 1\n  numpy_seed: 2\n  learning_rate: 0.005\n",
        )
        .unwrap()
    }

    #[test]
    fn the_reference_sweep_gives_24_runs_in_product_order_with_its_names() {
        let spec = SweepSpec::parse(REFERENCE_SWEEP, "sweep.yaml").unwrap();
        let runs = spec.plan(&base()).unwrap();
        assert_eq!(runs.len(), 24);
        assert_eq!(runs[0].name, "run_0=1000_1=1000_2=DelayAxonal_3=DelayAxonal_4=30");
        assert_eq!(runs[1].name, "run_0=1000_1=1000_2=DelayAxonal_3=DelayAxonal_4=25");
        assert_eq!(runs[23].name, "run_0=1001_1=1001_2=BroadcastLayer_3=BroadcastLayer_4=5");
        let c = &runs[1].config;
        assert_eq!(c["network_layout"]["layers"][1]["size"], Value::from(25));
        assert_eq!(c["network_layout"]["layers"][2]["name"], Value::from("DelayAxonal"));
        assert_eq!(c["training_params"]["numpy_seed"], Value::from(1000));
        assert_eq!(c["training_params"]["learning_rate"], Value::from(0.005));
        assert_eq!(runs[1].updates.len(), 5);
        assert_eq!(runs[1].updates[4].path, ["network_layout", "layers", "1", "size"]);
    }

    #[test]
    fn a_path_missing_from_the_base_config_is_named() {
        for (path, reason) in [
            ("network_layout/layers/7/size", "network_layout/layers has 3 entries, no index 7"),
            ("training_params/lr", "training_params has no key lr"),
            ("network_layout/layers/x", "network_layout/layers is a list: x is not an index"),
            ("training_params/torch_seed/a", "training_params/torch_seed is a single value, it has no a"),
        ] {
            let text = format!("parameters:\n  - path: [training_params/torch_seed, {path}]\n    value: [1]\n");
            let err = SweepSpec::parse(&text, "s.yaml").unwrap().plan(&base()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("sweep config: parameters[0]: the base config has no {path}: {reason}")
            );
        }
    }

    #[test]
    fn malformed_sweep_configs_are_refused_with_the_place() {
        for (text, message) in [
            ("- 1", "expected a mapping with the key `parameters`"),
            ("parameters: 3", "`parameters` must be a list"),
            ("parameters:\n  - value: [1]", "parameters[0]: `path` must be a key path"),
            ("parameters:\n  - path: a\n    values: [1]", "parameters[0]: unknown key values"),
            ("parameters:\n  - path: a//b\n    value: [1]", "parameters[0]: path a//b has an empty part"),
            ("parameters:\n  - path: a\n    value: []", "nothing to sweep"),
            ("parameters:\n  - path: a\n    value: 1\nslurm:\n  cpus_per_task: 0", "slurm: cpus_per_task"),
            ("parameters: [\n", "s.yaml"),
        ] {
            let err = SweepSpec::parse(text, "s.yaml").unwrap_err().to_string();
            assert!(err.contains(message) && err.starts_with("s.yaml"), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_scalar_value_is_one_value_and_the_slurm_section_is_read() {
        let text = "parameters:\n  - path: training_params/learning_rate\n    value: 0.01\nslurm:\n  partition: \
                    batch\n  cpus_per_task: 2\n  time: '1:00:00'\n  extra: ['--qos=short']\n";
        let spec = SweepSpec::parse(text, "s.yaml").unwrap();
        assert_eq!(spec.entries[0].values, vec![Value::from(0.01)]);
        assert_eq!(spec.slurm.partition.as_deref(), Some("batch"));
        assert_eq!(spec.slurm.cpus_per_task, Some(2));
        assert_eq!(spec.slurm.time.as_deref(), Some("1:00:00"));
        assert_eq!(spec.slurm.extra, ["--qos=short"]);
        let runs = spec.plan(&base()).unwrap();
        assert_eq!(runs[0].name, "run_0=0.01");
    }

    #[test]
    fn names_clashing_after_stripping_are_refused() {
        let text = "parameters:\n  - path: training_params/learning_rate\n    value: ['a b', 'ab']\n";
        let err = SweepSpec::parse(text, "s.yaml").unwrap().plan(&base()).unwrap_err();
        assert!(err.to_string().contains("run_0=ab"), "{err}");
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        for (x, text) in [
            (0.0025, "0.0025"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (-0.5, "-0.5"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(python_float(x), text, "{x}");
        }
        let list: Value = yaml_serde::from_str("[1, 'a', {k: 2.0}, null, true]").unwrap();
        assert_eq!(python_str(&list), "[1, 'a', {'k': 2.0}, None, True]");
    }
}
