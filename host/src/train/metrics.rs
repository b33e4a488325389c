//! `metrics.csv`: one [`EpochMetrics`] row per epoch, written and read by column name through that one record.
//!
//! Floats are written in Rust's shortest exact form (`{:?}`: `0.0`, `1e-7`), `nan` where there is no value
//! (epoch 0's training columns). Columns are only ever appended, so older files keep being readable: a file
//! without the timing columns (older versions) reads them as NaN, one without `bumped_batches` as 0, and
//! [`MetricsFile::has`] tells which columns the file really had.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::io::IoError;

/// One row of `metrics.csv` (the field order is the column order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epochs finished (0 = before training).
    pub epoch: usize,
    /// Mean of the batch losses of the batches that took a gradient step (NaN if all were bumped; NaN at 0).
    #[serde(with = "float")]
    pub train_loss: f64,
    /// Running accuracy over the epoch's batches, measured before each update (NaN at 0).
    #[serde(with = "float")]
    pub train_accuracy: f64,
    /// Validation loss after the epoch.
    #[serde(with = "float")]
    pub val_loss: f64,
    /// Validation accuracy after the epoch.
    #[serde(with = "float")]
    pub val_accuracy: f64,
    /// Global learning rate used during the epoch (layers with their own rate are scaled alike).
    #[serde(with = "float")]
    pub learning_rate: f64,
    /// Wall time of the epoch's training and validation.
    #[serde(with = "float", default = "unknown")]
    pub seconds: f64,
    /// Of `seconds`: waiting for the chip's answers (0 in simulation).
    #[serde(with = "float", default = "unknown")]
    pub chip_seconds: f64,
    /// Of `seconds`: building programs and cutting recordings into spike times (0 in simulation).
    #[serde(with = "float", default = "unknown")]
    pub protocol_seconds: f64,
    /// Of `seconds`: everything else, that is the model, loss and optimiser.
    #[serde(with = "float", default = "unknown")]
    pub math_seconds: f64,
    /// Chip runs repeated after a stall, a timeout or a broken link.
    #[serde(default)]
    pub retries: u64,
    /// Batches bumped instead of stepped.
    #[serde(default)]
    pub bumped_batches: usize,
}

/// The columns of `metrics.csv`, in order (the names of [`EpochMetrics`]' fields).
pub const COLUMNS: [&str; 12] = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",
    "chip_seconds",
    "protocol_seconds",
    "math_seconds",
    "retries",
    "bumped_batches",
];

/// The columns a file must have to be read (the others were added later).
const REQUIRED: [&str; 6] = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate"];

fn unknown() -> f64 {
    f64::NAN
}

/// A float column: `{:?}` (shortest exact), `nan` for NaN; read with Rust's float syntax.
mod float {
    use super::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_nan() { s.serialize_str("nan") } else { s.serialize_str(&format!("{x:?}")) }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.trim().parse().map_err(|_| serde::de::Error::custom(format!("{:?} is not a number", cut(&text))))
    }

    /// At most 40 characters of a cell, for messages.
    fn cut(text: &str) -> String {
        match text.char_indices().nth(40) {
            Some((i, _)) => format!("{}...", &text[..i]),
            None => text.to_string(),
        }
    }
}

/// Why `metrics.csv` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The file has no header line.
    #[error("{}: empty file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A column every version writes is absent.
    #[error("{}: no column {column:?} in the header", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
    },
    /// A row cannot be read as metrics.
    #[error("{}: line {line} is not a row of metrics", path.display())]
    Row {
        /// The file.
        path: PathBuf,
        /// The line (1 = the header).
        line: u64,
        /// What is wrong with it.
        #[source]
        source: csv::Error,
    },
    /// The header is there but no epoch is.
    #[error("{}: no epochs", path.display())]
    NoEpochs {
        /// The file.
        path: PathBuf,
    },
}

/// The rows of a `metrics.csv` and the columns it had.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsFile {
    /// One row per epoch, in file order.
    pub rows: Vec<EpochMetrics>,
    /// The header's column names.
    pub columns: Vec<String>,
}

impl MetricsFile {
    /// Whether the file had `column` (columns it lacked were read as their default).
    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }
}

/// Writes `metrics.csv`: the header, then one row per entry of `history`.
///
/// # Errors
/// Any error of `out`.
pub fn write(out: &mut dyn Write, history: &[EpochMetrics]) -> std::io::Result<()> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    // Written from the list (not the first record) so that an empty history still gets its header.
    writer.write_record(COLUMNS)?;
    for m in history {
        writer.serialize(m)?;
    }
    writer.flush()
}

/// Reads a `metrics.csv` by its header's column names.
///
/// # Errors
/// [`MetricsError`], naming the file (and the line of a bad row).
pub fn read(path: &Path) -> Result<MetricsFile, MetricsError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes.as_slice());
    let columns: Vec<String> = match reader.headers() {
        Ok(h) if !h.is_empty() => h.iter().map(str::to_string).collect(),
        Ok(_) => return Err(MetricsError::Empty { path: path.into() }),
        Err(source) => return Err(MetricsError::Row { path: path.into(), line: 1, source }),
    };
    if let Some(column) = REQUIRED.into_iter().find(|r| !columns.iter().any(|c| c == r)) {
        return Err(MetricsError::MissingColumn { path: path.into(), column });
    }
    let mut rows = Vec::new();
    for (n, row) in reader.deserialize::<EpochMetrics>().enumerate() {
        rows.push(row.map_err(|source| {
            let line = source.position().map_or(n as u64 + 2, csv::Position::line);
            MetricsError::Row { path: path.into(), line, source }
        })?);
    }
    if rows.is_empty() {
        return Err(MetricsError::NoEpochs { path: path.into() });
    }
    Ok(MetricsFile { rows, columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_csv(history: &[EpochMetrics]) -> String {
        let mut out = Vec::new();
        write(&mut out, history).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn row(epoch: usize, x: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: if epoch == 0 { f64::NAN } else { x },
            train_accuracy: if epoch == 0 { f64::NAN } else { 0.4764 },
            val_loss: 100.0,
            val_accuracy: 0.0,
            learning_rate: 0.003,
            seconds: 0.099629401,
            chip_seconds: 1e-7,
            protocol_seconds: 0.002877572000000007,
            math_seconds: 1e16,
            retries: 3,
            bumped_batches: 7,
        }
    }

    #[test]
    fn rows_are_written_as_before_with_bumped_batches_appended() {
        let text = to_csv(&[row(0, 0.0), row(1, 1.0650894001268874)]);
        assert_eq!(
            text,
            "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds,chip_seconds,\
             protocol_seconds,math_seconds,retries,bumped_batches\n\
             0,nan,nan,100.0,0.0,0.003,0.099629401,1e-7,0.002877572000000007,1e16,3,7\n\
             1,1.0650894001268874,0.4764,100.0,0.0,0.003,0.099629401,1e-7,0.002877572000000007,1e16,3,7\n"
        );
        assert_eq!(to_csv(&[]), format!("{}\n", COLUMNS.join(",")));
    }

    #[test]
    fn the_column_list_is_the_record() {
        // The header serde derives from the record is the written one.
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(row(1, 0.5)).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next(), Some(COLUMNS.join(",").as_str()));
    }

    #[test]
    fn reading_gives_back_every_bit_by_column_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let history = [row(0, 0.0), row(1, 0.1 + 0.2), row(2, f64::MIN_POSITIVE)];
        std::fs::write(&path, to_csv(&history)).unwrap();
        let file = read(&path).unwrap();
        assert!(file.has("bumped_batches"));
        let bits = |h: &[EpochMetrics]| -> Vec<u64> { h.iter().map(|m| m.train_loss.to_bits()).collect() };
        assert_eq!(bits(&file.rows), bits(&history));
        assert_eq!(file.rows[2], history[2]);

        // Columns in another order, an older file without timings and bumps.
        std::fs::write(
            &path,
            "val_accuracy,epoch,train_loss,train_accuracy,val_loss,learning_rate\n0.5,3,1,0.25,2,1e-3\n",
        )
        .unwrap();
        let file = read(&path).unwrap();
        assert!(!file.has("bumped_batches") && !file.has("seconds"));
        let m = &file.rows[0];
        assert_eq!((m.epoch, m.val_accuracy, m.learning_rate, m.bumped_batches), (3, 0.5, 1e-3, 0));
        assert!(m.seconds.is_nan());
    }

    #[test]
    fn bad_files_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let cases: [(&str, &str); 5] = [
            ("", "empty file"),
            ("epoch,train_loss\n0,nan\n", "no column \"train_accuracy\""),
            (&COLUMNS.join(","), "no epochs"),
            ("epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate\n0,x,1,1,1,1\n", "line 2"),
            ("epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate\n0,1,1,1,1,1\n0,1\n", "line 3"),
        ];
        for (text, needle) in cases {
            std::fs::write(&path, text).unwrap();
            let e = read(&path).unwrap_err().to_string();
            assert!(e.contains("metrics.csv") && e.contains(needle), "{text:?}: {e}");
        }
        let e = read(&dir.path().join("absent.csv")).unwrap_err();
        assert!(matches!(e, MetricsError::Io(_)) && e.to_string().contains("absent.csv"), "{e}");
    }
}
