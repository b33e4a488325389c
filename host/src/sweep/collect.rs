//! `sweep_results_df.csv` as the reference's `sweep_evaluation.py` writes it: one row per group of finished runs
//! with the same swept parameters (over their seeds), with the columns
//!
//! - `params/<path parts joined by _>` for every swept key that does not end in `seed` (the group's key);
//! - `metrics/number_of_parameters`, `metrics/final_val_err`, `metrics/final_train_err`, `metrics/final_test_err`
//!   (1 - accuracy after the last epoch; parameters: the weights and effective delays of the monitored layers,
//!   as the reference counts them), each with the suffixes `_mean _std _median _0 _25 _75 _100` (numpy's
//!   population std and linear quantiles);
//! - optionally `metrics_epoch/val_err`, `metrics_epoch/train_err` (per epoch, aggregated element-wise) and
//!   `metadata/path` (the run folders);
//! - `metrics/frequency`, the runs in the group.
//!
//! Differences from the reference, on purpose: values keep full float64 precision (the reference rounds them to
//! float16) and groups are ordered with numbers by value (the reference sorts them as text when a sweep mixes
//! numbers and names). Two runs with the same parameters and seed but different results are an error, as there.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use yaml_serde::Value;

use super::SweepError;
use super::folder::RunFolder;
use super::spec::{python_float, python_str};
use super::state::finished;
use crate::config::Config;
use crate::io::write_atomic;
use crate::network::{Layer, Network};
use crate::train::metrics;

/// The kinds of network DelGrad compares, by the delays they train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Weights only (`BroadcastLayer`).
    W,
    /// Weights and axonal delays (`DelayAxonal`).
    WA,
    /// Weights and dendritic delays (`DelayDendritic`).
    WD,
    /// Weights and synaptic delays (`DelaySynaptic`).
    WS,
}

impl Kind {
    /// The short name (`W`, `WA`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::W => "W",
            Kind::WA => "WA",
            Kind::WD => "WD",
            Kind::WS => "WS",
        }
    }

    /// The kind of a network: the delays of its first delay layer.
    fn of(network: &Network) -> Kind {
        network
            .layers
            .iter()
            .find_map(|l| match l {
                Layer::Delay(d) => Some(match d.config.kind.name() {
                    "DelayAxonal" => Kind::WA,
                    "DelayDendritic" => Kind::WD,
                    _ => Kind::WS,
                }),
                _ => None,
            })
            .unwrap_or(Kind::W)
    }
}

/// One finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Its folder.
    pub path: PathBuf,
    /// Its swept values, by column name (`network_layout_layers_1_size`), seeds apart.
    pub params: Vec<(String, Value)>,
    /// Its swept seeds, by column name.
    pub seeds: Vec<(String, Value)>,
    /// The kind of network.
    pub kind: Kind,
    /// The size of its first neuron layer (the hidden layer).
    pub hidden: usize,
    /// Trainable parameters, as the reference counts them.
    pub number_of_parameters: usize,
    /// 1 - validation accuracy after the last epoch.
    pub final_val_err: f64,
    /// 1 - training accuracy of the last epoch.
    pub final_train_err: f64,
    /// 1 - test accuracy.
    pub final_test_err: f64,
    /// 1 - validation accuracy after each epoch (1..).
    pub val_err: Vec<f64>,
    /// 1 - training accuracy of each epoch (1..).
    pub train_err: Vec<f64>,
}

impl RunResult {
    /// The four final metrics, in column order.
    fn metrics(&self) -> [f64; 4] {
        [self.number_of_parameters as f64, self.final_val_err, self.final_train_err, self.final_test_err]
    }

    /// Reads a finished run's folder.
    pub fn read(run: &RunFolder, test_accuracy: f64) -> Result<RunResult, SweepError> {
        let bad =
            |path: PathBuf, e: &dyn std::error::Error| SweepError::RunFile { path, message: crate::text::chain(e) };
        let config = Config::load(&run.dir.config()).map_err(|e| bad(run.dir.config(), &e))?;
        let history = metrics::read(&run.dir.metrics()).map_err(|e| bad(run.dir.metrics(), &e))?.rows;
        let network = Network::new(&config.layout, config.training.seed);
        let number_of_parameters = network
            .layers
            .iter()
            .map(|l| match l {
                Layer::Neuron(n) if n.config.monitor => n.weights.data.len(),
                Layer::Delay(d) if d.config.monitor => {
                    let (r, c) = d.effective_shape();
                    r * c
                }
                _ => 0,
            })
            .sum();
        let hidden = network.neuron_layers().next().map_or(0, |(_, n)| n.config.size);
        let mut params = Vec::new();
        let mut seeds = Vec::new();
        for u in run.read_updates()? {
            let name = u.path.join("_");
            // The reference's rule: a key whose last `_` part is `seed` is a seed.
            if name.rsplit('_').next() == Some("seed") { &mut seeds } else { &mut params }.push((name, u.value));
        }
        let last = history
            .last()
            .ok_or_else(|| SweepError::RunFile { path: run.dir.metrics(), message: "no epochs".into() })?;
        Ok(RunResult {
            path: run.dir.root.clone(),
            params,
            seeds,
            kind: Kind::of(&network),
            hidden,
            number_of_parameters,
            final_val_err: 1.0 - last.val_accuracy,
            final_train_err: 1.0 - last.train_accuracy,
            final_test_err: 1.0 - test_accuracy,
            val_err: history.iter().skip(1).map(|m| 1.0 - m.val_accuracy).collect(),
            train_err: history.iter().skip(1).map(|m| 1.0 - m.train_accuracy).collect(),
        })
    }
}

/// Runs with the same swept parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The parameters' values, one per column of [`Table::param_names`] (None: a run without that key).
    pub key: Vec<Option<Value>>,
    /// The runs (one per seed).
    pub runs: Vec<RunResult>,
}

impl Group {
    /// The statistics of one value of the group's runs.
    pub fn stats(&self, value: impl Fn(&RunResult) -> f64) -> Stats {
        Stats::of(&self.runs.iter().map(value).collect::<Vec<_>>())
    }
}

/// The finished runs of a folder, grouped.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The `params/*` column names, in the order first seen.
    pub param_names: Vec<String>,
    /// The groups, ordered by their key.
    pub groups: Vec<Group>,
    /// Runs found that are not finished.
    pub unfinished: Vec<PathBuf>,
}

/// `_mean _std _median _0 _25 _75 _100` of some values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Quantiles 0, 0.25, 0.5, 0.75, 1 (linear interpolation, numpy's default).
    pub quantiles: [f64; 5],
}

/// The column suffixes, in the reference's order.
pub const SUFFIXES: [&str; 7] = ["mean", "std", "median", "0", "25", "75", "100"];

impl Stats {
    /// The statistics of `values` (not empty).
    pub fn of(values: &[f64]) -> Stats {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let h = (sorted.len() - 1) as f64 * p;
            let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        };
        Stats { mean, std, quantiles: [q(0.0), q(0.25), q(0.5), q(0.75), q(1.0)] }
    }

    /// The values in [`SUFFIXES`] order.
    pub fn in_order(&self) -> [f64; 7] {
        let [q0, q25, q50, q75, q100] = self.quantiles;
        [self.mean, self.std, q50, q0, q25, q75, q100]
    }
}

/// Every `run_*` folder with a `config.yaml` under `dir` (the reference's search: any depth, so a folder of
/// several sweeps collects them all), sorted by path.
pub fn find_runs(dir: &Path) -> Vec<RunFolder> {
    fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let is_run = entry.file_name().to_str().is_some_and(|n| n.starts_with("run_"));
            if is_run && path.join("config.yaml").is_file() {
                found.push(path);
            } else if depth < 8 {
                walk(&path, depth + 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, 0, &mut found);
    found.sort();
    found.into_iter().map(RunFolder::new).collect()
}

/// Reads and groups the finished runs under `dir`.
pub fn gather(dir: &Path) -> Result<Table, SweepError> {
    let mut results = Vec::new();
    let mut unfinished = Vec::new();
    for run in find_runs(dir) {
        match finished(&run) {
            Some(accuracy) => results.push(RunResult::read(&run, accuracy)?),
            None => unfinished.push(run.dir.root),
        }
    }
    if results.is_empty() {
        return Err(SweepError::NothingFinished { dir: dir.to_path_buf() });
    }
    let mut param_names: Vec<String> = Vec::new();
    for r in &results {
        for (name, _) in &r.params {
            if !param_names.contains(name) {
                param_names.push(name.clone());
            }
        }
    }
    let key_of = |r: &RunResult| -> Vec<Option<Value>> {
        param_names.iter().map(|n| r.params.iter().find(|(m, _)| m == n).map(|(_, v)| v.clone())).collect()
    };
    let mut groups: Vec<Group> = Vec::new();
    for r in results {
        let key = key_of(&r);
        let group = match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => g,
            None => {
                groups.push(Group { key, runs: Vec::new() });
                groups.last_mut().expect("just pushed")
            }
        };
        // The same parameters and seed: the same run twice (kept once), or a conflict.
        if let Some(twin) = group.runs.iter().find(|o| o.seeds == r.seeds) {
            if twin.metrics() != r.metrics() || twin.val_err != r.val_err || twin.train_err != r.train_err {
                return Err(SweepError::Conflict { first: twin.path.clone(), second: r.path });
            }
            continue;
        }
        group.runs.push(r);
    }
    groups.sort_by(|a, b| compare_keys(&a.key, &b.key));
    Ok(Table { param_names, groups, unfinished })
}

fn compare_keys(a: &[Option<Value>], b: &[Option<Value>]) -> Ordering {
    a.iter().zip(b).map(|(x, y)| compare_values(x.as_ref(), y.as_ref())).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

/// Numbers by value, before text; text in byte order.
fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let number = |v: Option<&Value>| v.and_then(Value::as_f64);
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.map(python_str).cmp(&b.map(python_str)),
    }
}

/// Which optional columns `collect` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Columns {
    /// `metrics_epoch/val_err_*` and `metrics_epoch/train_err_*`.
    pub per_epoch: bool,
    /// `metadata/path`.
    pub paths: bool,
}

/// The CSV text of `table`.
pub fn to_csv(table: &Table, columns: Columns) -> Result<String, SweepError> {
    let mut header: Vec<String> = table.param_names.iter().map(|n| format!("params/{n}")).collect();
    let metrics = ["number_of_parameters", "final_val_err", "final_train_err", "final_test_err"];
    for m in metrics {
        header.extend(SUFFIXES.iter().map(|s| format!("metrics/{m}_{s}")));
    }
    if columns.per_epoch {
        for m in ["val_err", "train_err"] {
            header.extend(SUFFIXES.iter().map(|s| format!("metrics_epoch/{m}_{s}")));
        }
    }
    if columns.paths {
        header.push("metadata/path".into());
    }
    header.push("metrics/frequency".into());
    let mut writer = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| SweepError::RunFile { path: "sweep_results_df.csv".into(), message: e.to_string() };
    writer.write_record(&header).map_err(csv_error)?;
    for g in &table.groups {
        let mut record: Vec<String> = g.key.iter().map(|v| v.as_ref().map_or_else(String::new, python_str)).collect();
        for m in 0..metrics.len() {
            record.extend(g.stats(|r| r.metrics()[m]).in_order().map(number));
        }
        if columns.per_epoch {
            for per_epoch in [val_errors as fn(&RunResult) -> &[f64], train_errors] {
                let epochs = per_epoch(&g.runs[0]).len();
                if let Some(r) = g.runs.iter().find(|r| per_epoch(r).len() != epochs) {
                    return Err(SweepError::RunFile {
                        path: r.path.clone(),
                        message: format!("trained a different number of epochs than {}", g.runs[0].path.display()),
                    });
                }
                let stats: Vec<[f64; 7]> = (0..epochs).map(|e| g.stats(|r| per_epoch(r)[e]).in_order()).collect();
                record.extend((0..SUFFIXES.len()).map(|s| list(stats.iter().map(|st| st[s]))));
            }
        }
        if columns.paths {
            let paths: Vec<String> = g.runs.iter().map(|r| format!("'{}'", r.path.display())).collect();
            record.push(format!("[{}]", paths.join(", ")));
        }
        record.push(g.runs.len().to_string());
        writer.write_record(&record).map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| csv_error(e.into_error().into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn val_errors(r: &RunResult) -> &[f64] {
    &r.val_err
}

fn train_errors(r: &RunResult) -> &[f64] {
    &r.train_err
}

/// Writes `DIR/sweep_results_df.csv` and returns its path.
pub fn write(dir: &Path, table: &Table, columns: Columns) -> Result<PathBuf, SweepError> {
    let path = dir.join("sweep_results_df.csv");
    write_atomic(&path, to_csv(table, columns)?.as_bytes())?;
    Ok(path)
}

/// A number as the reference's table shows it: whole numbers without a fractional part, others as Python's
/// `repr`.
fn number(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e15 { format!("{}", x as i64) } else { python_float(x) }
}

fn list(values: impl Iterator<Item = f64>) -> String {
    format!("[{}]", values.map(number).collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_numpys() {
        // np.mean, np.std, np.quantile([0.1, 0.4, 0.2, 0.3], [0, .25, .5, .75, 1])
        let s = Stats::of(&[0.1, 0.4, 0.2, 0.3]);
        assert!((s.mean - 0.25).abs() < 1e-15);
        assert!((s.std - 0.111_803_398_874_989_48).abs() < 1e-15);
        let expected = [0.1, 0.175, 0.25, 0.325, 0.4];
        for (q, e) in s.quantiles.iter().zip(expected) {
            assert!((q - e).abs() < 1e-15, "{q} vs {e}");
        }
        let one = Stats::of(&[0.5]);
        assert_eq!(one.in_order(), [0.5, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn numbers_are_written_as_the_reference_writes_them() {
        assert_eq!(number(243.0), "243");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.125), "0.125");
        assert_eq!(number(1e-5), "1e-05");
        assert_eq!(list([0.5, 1.0].into_iter()), "[0.5, 1]");
    }

    #[test]
    fn group_keys_order_numbers_by_value_before_names() {
        let n = |x: i64| Some(Value::from(x));
        let s = |x: &str| Some(Value::from(x));
        let mut keys = [vec![s("W"), n(10)], vec![s("W"), n(5)], vec![s("A"), n(30)], vec![n(2), None]];
        keys.sort_by(|a, b| compare_keys(a, b));
        assert_eq!(keys, [vec![n(2), None], vec![s("A"), n(30)], vec![s("W"), n(5)], vec![s("W"), n(10)]]);
    }
}
