//! MNIST from IDX files: the 16x16 downsampling equals the reference's (torchvision + Pillow) pixels, `bss2 data`
//! writes the reference's spike times for every image of `mnist16-sample.npz` (the first 100 of each split),
//! missing files stop a run before any work, and broken files are errors, never panics.
//!
//! The committed fixture (`tests/data/mnist`, the first 16 images of each file) serves what must run without
//! `../shared`; the full files in `../shared/data/mnist` serve the split checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use bss2_host::data::mnist::{self, FILES, SIDE, Variant, downsample_16, find, read_images, read_labels};
use bss2_host::data::{DataError, Split};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/mnist");
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reference/mnist16-sample.npz");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mnist");
const CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs");

fn npz_u8(path: &str, name: &str) -> Vec<u8> {
    let mut npz = npyz::npz::NpzArchive::open(path).unwrap();
    npz.by_name(name).unwrap().unwrap().into_vec::<u8>().unwrap()
}

fn npz_i64(path: &str, name: &str) -> Vec<i64> {
    let mut npz = npyz::npz::NpzArchive::open(path).unwrap();
    npz.by_name(name).unwrap().unwrap().into_vec::<i64>().unwrap()
}

/// The reference's spike time of a 16x16 pixel, written out as `HicannMnist` computes it in float64.
fn reference_time_16(pixel: u8) -> f64 {
    let p = f64::from(pixel) / 255.0;
    let t = 0.15 + (1.0 - p) * (2.0 - 0.15);
    if t == 2.0 { f64::INFINITY } else { t }
}

/// Reads a .npy of float64 or int64 as f64 values with its shape.
fn npy(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let file = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = file.shape().to_vec();
    let data = match file.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Int => {
            file.into_vec::<i64>().unwrap().into_iter().map(|v| v as f64).collect()
        }
        _ => file.into_vec::<f64>().unwrap(),
    };
    (shape, data)
}

fn bss2() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bss2"))
}

#[test]
fn the_committed_images_downsample_to_the_references_pixels() {
    let dir = Path::new(FIXTURE);
    let want = format!("{FIXTURE}/mnist16-first16.npz");
    for (split, images, labels) in [("train", FILES[0], FILES[1]), ("test", FILES[2], FILES[3])] {
        let images = read_images(&find(dir, images).unwrap()).unwrap();
        let labels = read_labels(&find(dir, labels).unwrap()).unwrap();
        let (pixels, want_labels) =
            (npz_u8(&want, &format!("{split}_pixels")), npz_i64(&want, &format!("{split}_labels")));
        assert_eq!(images.len(), 16 * SIDE * SIDE);
        for i in 0..16 {
            assert_eq!(
                downsample_16(&images[i * SIDE * SIDE..][..SIDE * SIDE])[..],
                pixels[i * 256..][..256],
                "{split} {i}"
            );
            assert_eq!(i64::from(labels[i]), want_labels[i]);
        }
    }
}

#[test]
fn the_16x16_images_are_the_references_pixel_for_pixel() {
    let dir = Path::new(SHARED);
    let train = read_images(&find(dir, FILES[0]).unwrap()).unwrap();
    let train_labels = read_labels(&find(dir, FILES[1]).unwrap()).unwrap();
    let test = read_images(&find(dir, FILES[2]).unwrap()).unwrap();
    let test_labels = read_labels(&find(dir, FILES[3]).unwrap()).unwrap();
    assert_eq!((train.len(), train_labels.len()), (60_000 * SIDE * SIDE, 60_000));
    assert_eq!((test.len(), test_labels.len()), (10_000 * SIDE * SIDE, 10_000));
    for (split, images, labels, first) in
        [("train", &train, &train_labels, 0), ("val", &train, &train_labels, 50_000), ("test", &test, &test_labels, 0)]
    {
        let want = npz_u8(SAMPLE, &format!("{split}_pixels"));
        let want_labels = npz_i64(SAMPLE, &format!("{split}_labels"));
        let mut differing = 0;
        for i in 0..100 {
            let image = &images[(first + i) * SIDE * SIDE..][..SIDE * SIDE];
            let got = downsample_16(image);
            differing += got.iter().zip(&want[i * 256..(i + 1) * 256]).filter(|(a, b)| a != b).count();
            assert_eq!(i64::from(labels[first + i]), want_labels[i], "{split} {i}");
        }
        assert_eq!(differing, 0, "{split}: {differing} of 25600 pixels differ from the reference's");
    }
}

#[test]
fn bss2_data_writes_the_references_spike_times_for_every_split() {
    let out = tempfile::tempdir().unwrap();
    let config = format!("{CONFIGS}/16x16_mnist.yaml");
    let mut test_labels = Vec::new();
    for (split, arg, samples) in [("train", "train", 50_000), ("val", "val", 10_000), ("test", "test", 10_000)] {
        let file = out.path().join(format!("{split}.npy"));
        let status = bss2()
            .args(["-q", "--mnist-dir", SHARED, "data", &config, "--split", arg, "--out"])
            .arg(&file)
            .status()
            .unwrap();
        assert!(status.success());
        let (shape, times) = npy(&file);
        assert_eq!(shape, [samples, 256]);
        let want = npz_u8(SAMPLE, &format!("{split}_pixels"));
        for (k, (&got, &pixel)) in times.iter().zip(&want).enumerate() {
            assert_eq!(
                got.to_bits(),
                reference_time_16(pixel).to_bits(),
                "{split}: image {} input {}",
                k / 256,
                k % 256
            );
        }
        let spiking = times.iter().filter(|t| t.is_finite()).count() as f64 / times.len() as f64;
        assert!((0.38..0.46).contains(&spiking), "{split}: {spiking} of the pixels spike (about 42 %)");
        let (label_shape, labels) = npy(&out.path().join(format!("{split}_labels.npy")));
        assert_eq!(label_shape, [samples]);
        let want_labels = npz_i64(SAMPLE, &format!("{split}_labels"));
        assert!(labels.iter().zip(&want_labels).all(|(a, &b)| *a == b as f64), "{split} labels");
        if split == "test" {
            test_labels = labels;
        }
    }
    // The published label counts of the test file.
    let counts: Vec<usize> = (0..10).map(|d| test_labels.iter().filter(|&&l| l == d as f64).count()).collect();
    assert_eq!(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
}

#[test]
fn full_mnist_times_are_pixels_over_256_never_inf() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("test.npy");
    let png = out.path().join("png");
    let status = bss2()
        .args(["-q", "--mnist-dir", SHARED, "data", &format!("{CONFIGS}/mnist.yaml"), "--split", "test", "--out"])
        .arg(&file)
        .arg("--png")
        .arg(&png)
        .status()
        .unwrap();
    assert!(status.success());
    let (shape, times) = npy(&file);
    assert_eq!(shape, [10_000, 784]);
    // The first 16 test images, read byte by byte from the committed IDX file (past its 16-byte header).
    let raw = {
        use std::io::Read;
        let mut bytes = Vec::new();
        let file = std::fs::File::open(format!("{FIXTURE}/t10k-images-idx3-ubyte.gz")).unwrap();
        flate2::read::GzDecoder::new(file).read_to_end(&mut bytes).unwrap();
        bytes[16..].to_vec()
    };
    for (k, &pixel) in raw.iter().enumerate() {
        let want = 0.15 + (1.0 - f64::from(pixel) * (1.0 / 256.0)) * (2.0 - 0.15);
        assert_eq!(times[k].to_bits(), want.to_bits(), "image {} pixel {}", k / 784, k % 784);
    }
    assert!(times.iter().all(|t| t.is_finite()));
    let picture = std::fs::read(png.join("mnist_test_inputs.png")).unwrap();
    assert!(picture.starts_with(b"\x89PNG") && picture.len() > 10_000, "{} bytes", picture.len());
}

#[test]
fn a_config_naming_mnist_without_the_files_stops_before_any_work() {
    let empty = tempfile::tempdir().unwrap();
    let results = empty.path().join("results");
    for (how, args, env) in [
        ("flag", vec!["--mnist-dir".to_string(), empty.path().display().to_string()], None),
        ("environment", vec![], Some(empty.path())),
    ] {
        let mut command = bss2();
        command.args(&args).args(["train", &format!("{CONFIGS}/16x16_mnist.yaml"), "--output"]).arg(&results);
        command.env_remove(mnist::DIR_ENV);
        if let Some(dir) = env {
            command.env(mnist::DIR_ENV, dir);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{how}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{how}: one line: {stderr}");
        let dir = empty.path().display().to_string();
        assert!(
            lines[0].contains("dataset_params.name")
                && lines[0].contains("train-images-idx3-ubyte not found in")
                && lines[0].contains(&dir)
                && lines[0].contains("--mnist-dir"),
            "{how}: {stderr}"
        );
        assert!(!results.exists(), "{how}: nothing is written");
    }
}

/// A copy of the fixture folder in which `file` is replaced by `bytes`.
fn fixture_with(file: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(FIXTURE).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.path().join(file), bytes).unwrap();
    dir
}

fn build_error(dir: &Path, split: Split) -> String {
    match mnist::build(Variant::Small16, dir, split) {
        Ok(_) => panic!("{split} built from {}", dir.display()),
        Err(e) => bss2_host::text::chain(&e),
    }
}

#[test]
fn broken_files_are_errors_naming_the_file_never_panics() {
    let fixture = PathBuf::from(FIXTURE);
    // The fixture itself holds 16 images, not MNIST's 60 000: its splits cannot be cut.
    let e = build_error(&fixture, Split::Validation);
    assert!(e.contains("train-images-idx3-ubyte: 16 entries, expected MNIST's 60000"), "{e}");
    assert!(e.contains("validation split is 50000..60000"), "{e}");

    let images = std::fs::read(fixture.join(FILES[0])).unwrap();
    let gz = std::fs::read(fixture.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let labels = std::fs::read(fixture.join(FILES[1])).unwrap();
    let mut wrong_magic = images.clone();
    wrong_magic[2] = 0x0d; // float data instead of unsigned bytes
    let mut mislabelled = labels.clone();
    mislabelled[8 + 3] = 11;
    let cases: [(&str, Vec<u8>, Split, &str); 5] = [
        (FILES[0], images[..images.len() / 2].to_vec(), Split::Train, "does not match the 6264 data bytes"),
        ("t10k-images-idx3-ubyte.gz", gz[..gz.len() / 2].to_vec(), Split::Test, "cannot read MNIST file"),
        (FILES[0], wrong_magic, Split::Train, "magic [00, 00, 0d, 03], expected [00, 00, 08, 03]"),
        (FILES[1], mislabelled, Split::Train, "label 3 is 11, not 0..9"),
        (FILES[1], labels[..6].to_vec(), Split::Train, "6 bytes, shorter than an IDX header of 8"),
    ];
    for (file, bytes, split, want) in cases {
        let dir = fixture_with(file, &bytes);
        let e = build_error(dir.path(), split);
        assert!(e.contains(file.trim_end_matches(".gz")) && e.contains(want), "{file}: {e}");
    }
    // Through the data-set layer, the error is the file's.
    let dir = fixture_with(FILES[1], &labels[..6]);
    let spec = bss2_host::data::DatasetSpec::Mnist { variant: Variant::Full, dir: dir.path().to_path_buf() };
    assert!(matches!(spec.build(Split::Train, 0), Err(DataError::Mnist(_))));
}
