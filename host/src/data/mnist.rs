//! MNIST from the IDX files a user has (spec sweeps-mnist-interop §2): reading the four files (gzip or not, the
//! published names or torchvision's `MNIST/raw/` layout), and the reference's 16x16 downsampling, bit for bit.
//!
//! The 16x16 images are what torchvision gives the reference: a 24x24 center crop, then PIL's bilinear resize to
//! 16x16, which antialiases when shrinking (the filter's support grows by the reduction factor) and works in fixed
//! point on 8-bit images. [`downsample_16`] repeats PIL's arithmetic (its `precompute_coeffs`, the 22-bit fixed
//! point coefficients and the horizontal-then-vertical passes with rounding), so the pixels are PIL's exactly.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Dataset, Split};

/// Side of an MNIST image.
pub const SIDE: usize = 28;
/// Side of the center crop before the 16x16 resize.
pub const CROP: usize = 24;
/// Side of a downsampled image.
pub const SMALL: usize = 16;

/// The IDX files of MNIST, by their published stems.
pub const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The environment variable naming the folder of the MNIST files.
pub const DIR_ENV: &str = "BSS2_MNIST_DIR";
/// The folder the reference reads MNIST from, relative to the working directory: the last place searched.
pub const FALLBACK_DIR: &str = "../data/mnist";

/// Images in MNIST's training file: the training split is 0..50 000 of them, the validation split the rest.
pub const TRAIN_FILE_IMAGES: usize = 60_000;
/// Images in MNIST's test file, all of them the test split.
pub const TEST_FILE_IMAGES: usize = 10_000;
/// The first training-file image of the validation split.
pub const VALIDATION_START: usize = 50_000;

/// The folder given on the command line (`--mnist-dir`), which takes precedence over the environment.
static DIR_OVERRIDE: OnceLock<PathBuf> = OnceLock::new();

/// Sets the folder of the MNIST files for this process (the command line's `--mnist-dir`). The first call wins.
pub fn set_data_dir(dir: PathBuf) {
    let _ = DIR_OVERRIDE.set(dir);
}

/// The folder of the MNIST files: the command line's, else `$BSS2_MNIST_DIR`, else the reference's
/// `../data/mnist`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = DIR_OVERRIDE.get() {
        return dir.clone();
    }
    match std::env::var_os(DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(FALLBACK_DIR),
    }
}

/// The two MNIST data sets of the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `mnist`: the 28x28 images, 784 inputs at `0.15 + (1 - p/256) * 1.85`, never +inf.
    Full,
    /// `16x16_mnist`: the images cropped and resized to 16x16, 256 inputs at `0.15 + (1 - p/255) * 1.85`,
    /// black pixels +inf (no spike).
    Small16,
}

/// Time of the earliest input (a white pixel), the reference's `zero_at`.
const EARLY: f64 = 0.15;
/// Time of a black pixel, the reference's `one_at`.
const LATE: f64 = 2.0;

impl Variant {
    /// The data set's name in `dataset_params.name`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Full => "mnist",
            Variant::Small16 => "16x16_mnist",
        }
    }

    /// Inputs per sample: 784 or 256.
    pub fn n_inputs(self) -> usize {
        match self {
            Variant::Full => SIDE * SIDE,
            Variant::Small16 => SMALL * SMALL,
        }
    }

    /// Side of the images the network sees: 28 or 16.
    pub fn side(self) -> usize {
        match self {
            Variant::Full => SIDE,
            Variant::Small16 => SMALL,
        }
    }

    /// The input time of every pixel value, computed as the reference computes it in float64.
    ///
    /// Full: `p = u8 * (1/256)`. 16x16: torchvision's `ToTensor` divides in the default float type, which the
    /// reference sets to float64 before it builds a data set: `p = u8 / 255`. Both then invert (`p * -1 + 1`, which is `1 - p` exactly), scale (`0.15 + q * (2 - 0.15)`) and,
    /// for 16x16 only, send a time of exactly 2.0 to +inf.
    pub fn time_table(self) -> [f64; 256] {
        std::array::from_fn(|value| {
            let p = match self {
                Variant::Full => value as f64 * (1.0 / 256.0),
                Variant::Small16 => value as f64 / 255.0,
            };
            let time = EARLY + (1.0 - p) * (LATE - EARLY);
            if self == Variant::Small16 && time == LATE { f64::INFINITY } else { time }
        })
    }
}

/// Checks that all four files are where [`find`] looks, so a config naming MNIST fails before any work.
pub fn check_files(dir: &Path) -> Result<(), MnistError> {
    FILES.iter().try_for_each(|stem| find(dir, stem).map(|_| ()))
}

/// One split of MNIST from the files in `dir`: the pixels as bytes (downsampled for 16x16) with the time of each
/// pixel value, and the labels. Train = training images 0..50 000, validation = 50 000..60 000, test = the
/// 10 000 test images, in file order.
pub fn build(variant: Variant, dir: &Path, split: Split) -> Result<Dataset, MnistError> {
    let (images_stem, labels_stem, expected, range) = match split {
        Split::Train => (FILES[0], FILES[1], TRAIN_FILE_IMAGES, 0..VALIDATION_START),
        Split::Validation => (FILES[0], FILES[1], TRAIN_FILE_IMAGES, VALIDATION_START..TRAIN_FILE_IMAGES),
        Split::Test => (FILES[2], FILES[3], TEST_FILE_IMAGES, 0..TEST_FILE_IMAGES),
    };
    let images_path = find(dir, images_stem)?;
    let labels_path = find(dir, labels_stem)?;
    let images = read_images(&images_path)?;
    let labels = read_labels(&labels_path)?;
    let count = images.len() / (SIDE * SIDE);
    for (path, found) in [(&images_path, count), (&labels_path, labels.len())] {
        if found != expected {
            return Err(MnistError::Format {
                path: path.clone(),
                what: format!("{found} entries, expected MNIST's {expected} (the {split} split is {range:?} of them)"),
            });
        }
    }
    let images = &images[range.start * SIDE * SIDE..range.end * SIDE * SIDE];
    let pixels = match variant {
        Variant::Full => images.to_vec(),
        Variant::Small16 => images.chunks_exact(SIDE * SIDE).flat_map(downsample_16).collect(),
    };
    let labels = labels[range].iter().map(|&l| usize::from(l)).collect();
    Ok(Dataset::coded(variant.name(), variant.n_inputs(), 10, pixels, variant.time_table(), labels)
        .expect("the pixels and labels of one split fit together"))
}

/// An MNIST file that cannot be used. Each names the file (or the folder searched) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum MnistError {
    /// None of the places a file may be holds it.
    #[error(
        "MNIST file {stem} not found in {dir} (looked for {stem}, {stem}.gz and MNIST/raw/{stem}[.gz]; name the \
         folder with --mnist-dir DIR or {DIR_ENV}=DIR)",
        dir = dir.display()
    )]
    Missing {
        /// The folder searched.
        dir: PathBuf,
        /// The file's published stem.
        stem: &'static str,
    },
    /// Reading (or decompressing) the file failed.
    #[error("cannot read MNIST file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The content is not what an MNIST IDX file holds.
    #[error("MNIST file {}: {what}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        what: String,
    },
}

/// The file `stem` in `dir`: `dir/stem`, `dir/stem.gz`, `dir/MNIST/raw/stem` or `dir/MNIST/raw/stem.gz`.
pub fn find(dir: &Path, stem: &'static str) -> Result<PathBuf, MnistError> {
    let raw = dir.join("MNIST").join("raw");
    [dir.join(stem), dir.join(format!("{stem}.gz")), raw.join(stem), raw.join(format!("{stem}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| MnistError::Missing { dir: dir.to_path_buf(), stem })
}

/// The bytes of a file, gunzipped if it starts with the gzip magic.
fn read_bytes(path: &Path) -> Result<Vec<u8>, MnistError> {
    let read = |source| MnistError::Read { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(read)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut out).map_err(read)?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// An IDX file's dimensions and data: magic `0x0000 08 dims` (unsigned bytes), big-endian sizes.
fn parse_idx(path: &Path, bytes: &[u8], dims: usize) -> Result<(Vec<usize>, Vec<u8>), MnistError> {
    let format = |what: String| MnistError::Format { path: path.to_path_buf(), what };
    let header = 4 + 4 * dims;
    if bytes.len() < header {
        return Err(format(format!("{} bytes, shorter than an IDX header of {header}", bytes.len())));
    }
    let want = [0, 0, 0x08, dims as u8];
    if bytes[..4] != want {
        return Err(format(format!(
            "magic {:02x?}, expected {want:02x?} (unsigned bytes, {dims} dimensions)",
            &bytes[..4]
        )));
    }
    let shape: Vec<usize> = (0..dims)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize)
        .collect();
    let size = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match size {
        Some(n) if bytes.len() - header == n => Ok((shape, bytes[header..].to_vec())),
        _ => Err(format(format!("shape {shape:?} does not match the {} data bytes", bytes.len() - header))),
    }
}

/// The 28x28 images of an IDX image file, row-major, one byte per pixel.
pub fn read_images(path: &Path) -> Result<Vec<u8>, MnistError> {
    let (shape, data) = parse_idx(path, &read_bytes(path)?, 3)?;
    if shape[1..] != [SIDE, SIDE] {
        return Err(MnistError::Format {
            path: path.to_path_buf(),
            what: format!("images of {}x{}, expected {SIDE}x{SIDE}", shape[1], shape[2]),
        });
    }
    Ok(data)
}

/// The labels of an IDX label file (each 0..=9).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, MnistError> {
    let (_, data) = parse_idx(path, &read_bytes(path)?, 1)?;
    if let Some(k) = data.iter().position(|&l| l > 9) {
        return Err(MnistError::Format {
            path: path.to_path_buf(),
            what: format!("label {k} is {}, not 0..9", data[k]),
        });
    }
    Ok(data)
}

/// PIL's fixed-point precision for 8-bit images.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// PIL's bilinear resampling weights from `in_size` to `out_size` samples (its `precompute_coeffs` with the
/// bilinear filter, support 1), in its 22-bit fixed point: per output sample, the first input and the weights.
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let w: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) * ss).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let total: f64 = w.iter().sum();
            let fixed = w
                .iter()
                .map(|&k| {
                    let k = if total != 0.0 { k / total } else { k };
                    let scaled = k * f64::from(1u32 << PRECISION_BITS);
                    (if k < 0.0 { -0.5 + scaled } else { 0.5 + scaled }) as i32
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

/// PIL's `clip8`: the fixed-point sum back to a byte.
fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The reference's 16x16 image of a 28x28 one: center crop to 24x24, then PIL's bilinear resize to 16x16.
pub fn downsample_16(image: &[u8]) -> [u8; SMALL * SMALL] {
    let offset = (SIDE - CROP) / 2;
    let k = coefficients(CROP, SMALL);
    // Horizontal pass over the crop's rows, then the vertical pass, each rounding to bytes as PIL does.
    let mut rows = [[0u8; SMALL]; CROP];
    for (y, row) in rows.iter_mut().enumerate() {
        let source = &image[(y + offset) * SIDE + offset..][..CROP];
        for (x, out) in row.iter_mut().enumerate() {
            let (first, weights) = &k[x];
            let sum = weights.iter().enumerate().map(|(i, &w)| i64::from(source[first + i]) * i64::from(w));
            *out = clip8((1i64 << (PRECISION_BITS - 1)) + sum.sum::<i64>());
        }
    }
    let mut out = [0u8; SMALL * SMALL];
    for y in 0..SMALL {
        let (first, weights) = &k[y];
        for x in 0..SMALL {
            let sum = weights.iter().enumerate().map(|(i, &w)| i64::from(rows[first + i][x]) * i64::from(w));
            out[y * SMALL + x] = clip8((1i64 << (PRECISION_BITS - 1)) + sum.sum::<i64>());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_times_are_the_references() {
        let full = Variant::Full.time_table();
        assert_eq!(full[0], 0.15 + 1.0 * (2.0 - 0.15));
        assert_eq!(full[255], 0.15 + (1.0 - 255.0 / 256.0) * (2.0 - 0.15));
        assert!(full.iter().all(|t| t.is_finite()) && full.windows(2).all(|w| w[0] > w[1]));
        let small = Variant::Small16.time_table();
        assert_eq!(small[0], f64::INFINITY, "a black pixel never spikes");
        assert_eq!(small[255], 0.15, "a white pixel spikes at 0.15");
        assert_eq!(small[1], 0.15 + (1.0 - 1.0 / 255.0) * (2.0 - 0.15));
        assert!(small[1..].iter().all(|t| t.is_finite() && *t < 2.0));
    }

    #[test]
    fn bad_files_are_errors_naming_the_file_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let e = find(dir.path(), FILES[0]).unwrap_err().to_string();
        assert!(e.contains("train-images-idx3-ubyte not found") && e.contains("MNIST/raw"), "{e}");
        let path = dir.path().join(FILES[0]);
        std::fs::write(&path, [0, 0, 8, 1, 0, 0, 0, 2, 7]).unwrap();
        let e = read_images(&path).unwrap_err().to_string();
        assert!(e.contains("9 bytes, shorter than an IDX header of 16"), "{e}");
        std::fs::write(&path, [0, 0, 8, 1, 0, 0, 0, 2, 7, 7, 7, 7, 7, 7, 7, 7]).unwrap();
        let e = read_images(&path).unwrap_err().to_string();
        assert!(e.contains("magic") && e.contains("3 dimensions"), "{e}");
        std::fs::write(&path, [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2]).unwrap();
        let e = read_images(&path).unwrap_err().to_string();
        assert!(e.contains("does not match the 2 data bytes"), "{e}");
        std::fs::write(&path, [0x1f, 0x8b, 1, 2, 3]).unwrap();
        assert!(matches!(read_images(&path), Err(MnistError::Read { .. })));
        let labels = dir.path().join(FILES[1]);
        std::fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 2, 3, 12]).unwrap();
        let e = read_labels(&labels).unwrap_err().to_string();
        assert!(e.contains("label 1 is 12"), "{e}");
    }

    #[test]
    fn the_weights_of_each_output_pixel_sum_to_one_in_fixed_point() {
        for (_, w) in coefficients(CROP, SMALL) {
            let sum: i32 = w.iter().sum();
            assert!((sum - (1 << PRECISION_BITS)).abs() <= 2, "{w:?}");
        }
    }
}
