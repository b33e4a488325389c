//! The training loop against the reference implementation: from the same initial network and the same batches
//! (the training set in order), 100 batches of forward pass, weight bumping, loss, backward pass, Adam and
//! clamping must reproduce the reference's losses, bump decisions and parameters
//! (`training-trajectories.json`, produced by running the reference code; see tests/data/README.md).

use bss2_host::config::Config;
use bss2_host::network::Network;
use bss2_host::rng::{self, Purpose};
use bss2_host::tensors::TensorFile;
use bss2_host::train::bumping::BumpState;
use bss2_host::train::evaluate::batch_inputs;
use bss2_host::train::optim::Optimizer;
use bss2_host::train::session::{RunState, Session, Splits};
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference/training-trajectories.json");

/// The reference's state_dict as our tensor names.
fn tensors(state: &Value) -> TensorFile {
    let mut file = TensorFile::default();
    for (name, value) in state.as_object().unwrap() {
        let rows: Vec<Vec<f64>> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
            .collect();
        file.insert(name.replace("_delay_parameters", "delays"), vec![rows.len(), rows[0].len()], rows.concat());
    }
    file
}

fn largest_relative_difference(got: &TensorFile, want: &TensorFile) -> f64 {
    let mut worst = 0.0f64;
    for (name, (_, values)) in &want.tensors {
        let (_, ours) = &got.tensors[name];
        for (a, b) in ours.iter().zip(values) {
            worst = worst.max((a - b).abs() / b.abs().max(1e-3));
        }
    }
    worst
}

#[test]
fn one_hundred_batches_follow_the_reference_trajectory() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    for (name, run) in doc["runs"].as_object().unwrap() {
        let path = format!("{}/../configs/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
        let config = Config::load(std::path::Path::new(&path)).unwrap();
        let mut network = Network::new(&config.layout, 0);
        network.load_tensors(&tensors(&run["initial"])).unwrap();
        let data = Splits::build(&config).unwrap();
        let optimizer = Optimizer::new(config.training.optimizer, &network, config.training.learning_rate);
        let state = RunState {
            network,
            optimizer,
            bump: BumpState::fresh(&config.training.bumping),
            epoch: 0,
            history: vec![],
            chip_runs: 0,
        };
        let mut session = Session::resume(config.clone(), data.clone(), state);
        let batch_size = config.training.batch_size;
        let mut noise = rng::stream(0, Purpose::TrainingForward, 0);
        let mut bumps = 0;
        for (j, reference) in run["batches"].as_array().unwrap().iter().enumerate() {
            let indices: Vec<usize> = (0..batch_size).map(|i| (j * batch_size + i) % data.train.len()).collect();
            let labels: Vec<usize> = indices.iter().map(|&i| data.train.labels[i]).collect();
            let outcome = session.train_batch(&batch_inputs(&data.train, &indices), &labels, &mut noise).unwrap();
            assert_eq!(session.state.bump.last, reference["bump"].as_i64().unwrap(), "{name} batch {j}: bump decision");
            bumps += usize::from(outcome.loss.is_none());
            match (outcome.loss, reference["loss"].as_f64()) {
                (Some(ours), Some(theirs)) => {
                    assert!((ours - theirs).abs() <= 1e-11 * theirs.abs(), "{name} batch {j}: loss {ours} vs {theirs}")
                }
                (None, None) => {}
                other => panic!("{name} batch {j}: {other:?}"),
            }
            if let Some(want) = run["states"].get((j + 1).to_string()) {
                let worst = largest_relative_difference(&session.state.network.to_tensors(), &tensors(want));
                assert!(worst < 1e-10, "{name} after {} batches: parameters differ by {worst:e}", j + 1);
            }
        }
        // H30_W bumps often in these batches: the bumping rules are exercised, not only the gradient steps.
        if name == "yin_yang_H30_W" {
            assert!(bumps > 10, "{bumps}");
        }
    }
}
