//! MNIST from the shared IDX files: the 16x16 downsampling equals the reference's (torchvision + Pillow) pixels for
//! every image of `mnist16-sample.npz` (the first 100 of each split), and the labels agree.

use std::path::Path;

use bss2_host::data::mnist::{FILES, SIDE, downsample_16, find, read_images, read_labels};

const MNIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/mnist");
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reference/mnist16-sample.npz");

fn sample(name: &str) -> Vec<u8> {
    let mut npz = npyz::npz::NpzArchive::open(SAMPLE).unwrap();
    npz.by_name(name).unwrap().unwrap().into_vec::<u8>().unwrap()
}

fn sample_labels(name: &str) -> Vec<i64> {
    let mut npz = npyz::npz::NpzArchive::open(SAMPLE).unwrap();
    npz.by_name(name).unwrap().unwrap().into_vec::<i64>().unwrap()
}

#[test]
fn the_16x16_images_are_the_references_pixel_for_pixel() {
    let dir = Path::new(MNIST);
    let train = read_images(&find(dir, FILES[0]).unwrap()).unwrap();
    let train_labels = read_labels(&find(dir, FILES[1]).unwrap()).unwrap();
    let test = read_images(&find(dir, FILES[2]).unwrap()).unwrap();
    let test_labels = read_labels(&find(dir, FILES[3]).unwrap()).unwrap();
    assert_eq!((train.len(), train_labels.len()), (60_000 * SIDE * SIDE, 60_000));
    assert_eq!((test.len(), test_labels.len()), (10_000 * SIDE * SIDE, 10_000));
    for (split, images, labels, first) in
        [("train", &train, &train_labels, 0), ("val", &train, &train_labels, 50_000), ("test", &test, &test_labels, 0)]
    {
        let want = sample(&format!("{split}_pixels"));
        let want_labels = sample_labels(&format!("{split}_labels"));
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
