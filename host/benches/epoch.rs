//! Benchmark of one training epoch (training on 5000 samples, then validation on 1000) of the yin-yang configs
//! `yin_yang_H30_WS.yaml` (synaptic delays) and `yin_yang_H30_W.yaml` (weights only).
//!
//! Every iteration starts from the same state: the freshly initialised network after the epoch-0 validation, so
//! each measures the first epoch (same shuffle, same batches, same bumping). Building the session is not timed.
//! Throughput counts the samples the epoch passes forward (training + validation). Run with
//! `cargo bench -p bss2-host --bench epoch` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use bss2_host::config::Config;
use bss2_host::train::session::{Session, Splits};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn bench_config(c: &mut Criterion, name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(format!("{name}.yaml"));
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let splits = Splits::build(&config).expect("data");
    let samples = splits.train.len() + splits.validation.len();
    let mut session = Session::new(config.clone(), splits.clone());
    let state = session.state.clone();
    // One untimed epoch, to show what the benchmark measures (bumped batches skip the backward pass).
    let m = session.train_epoch(|| {}).expect("epoch trains");
    println!(
        "{name}: epoch 1 took {:.1} ms, {} of {} batches bumped, train accuracy {:.1}%, validation accuracy {:.1}%",
        1e3 * m.seconds,
        m.bumped_batches,
        splits.train.len().div_ceil(config.training.batch_size),
        100.0 * m.train_accuracy,
        100.0 * m.val_accuracy,
    );
    drop(session);

    let mut group = c.benchmark_group("epoch");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function(name, |b| {
        b.iter_batched(
            || Session::resume(config.clone(), splits.clone(), state.clone()),
            |mut session| {
                black_box(session.train_epoch(|| {}).expect("epoch trains"));
                // Returned so that dropping the session is not timed.
                session
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn epochs(c: &mut Criterion) {
    bench_config(c, "yin_yang_H30_WS");
    bench_config(c, "yin_yang_H30_W");
}

criterion_group!(benches, epochs);
criterion_main!(benches);
