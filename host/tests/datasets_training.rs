//! End-to-end training on the small data sets, with SGD and Adam, and with the Euler integrator forward pass.

use bss2_host::config::Config;
use bss2_host::train::session::{Session, Splits};

fn train(config_text: &str, epochs: usize) -> Session {
    let config = Config::parse_str(config_text).unwrap();
    let mut session = Session::new(config.clone(), Splits::build(&config).unwrap());
    for _ in 0..epochs {
        session.train_epoch(|| {}).unwrap();
    }
    session
}

const BARS: &str = "
dataset_params: {name: bars}
default_neuron_params: {tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold: 1.0, max_dw_norm: 0.2}
network_layout:
  n_inputs: 9
  layers:
  - {name: BroadcastLayer}
  - {name: NeuronLayer, size: 20, weights_mean: 0.8, weights_std: 0.8, max_num_missing_spikes: 0.5}
  - {name: BroadcastLayer}
  - {name: NeuronLayer, size: 3, weights_mean: 0.8, weights_std: 0.8, max_num_missing_spikes: 0.0}
training_params:
  batch_size: 10
  epoch_number: 200
  learning_rate: 0.01
  optimizer: adam
  lr_scheduler: {type: ExponentialLR, gamma: 0.995}
  loss: {type: MSE, t_correct: 0.7, t_wrong: 1.0}
  torch_seed: 2
  numpy_seed: 2
  weight_bumping_value: 0.001
  weight_bumping_exp: true
  weight_bumping_targeted: true
";

#[test]
fn bars_with_mse_and_an_exponential_schedule_is_learned() {
    let session = train(BARS, 200);
    let (first, last) = (&session.state.history[0], session.state.history.last().unwrap());
    assert_eq!(last.val_accuracy, 1.0, "bars: {} -> {}", first.val_accuracy, last.val_accuracy);
    assert!(last.val_loss < first.val_loss / 10.0);
    assert!((last.learning_rate - 0.01 * 0.995f64.powi(199)).abs() < 1e-15, "ExponentialLR: {}", last.learning_rate);
}

#[test]
fn the_integrator_forward_pass_trains_like_the_exact_one() {
    let integrated = BARS.replace(
        "optimizer: adam",
        "optimizer: adam\n  use_forward_integrator: true\n  resolution: 0.001\n  sim_time: 4.0",
    );
    let (exact, integrated) = (train(BARS, 200), train(&integrated, 200));
    let (a, b) = (exact.state.history.last().unwrap(), integrated.state.history.last().unwrap());
    assert_eq!(b.val_accuracy, 1.0, "integrator: {}", b.val_accuracy);
    // Both reduce the loss by far more than an order of magnitude.
    let initial = exact.state.history[0].val_loss;
    assert!(a.val_loss < initial / 20.0 && b.val_loss < initial / 20.0, "{initial} -> {} / {}", a.val_loss, b.val_loss);
}

#[test]
fn xor_is_learned() {
    let config = include_str!("data/xor_10_hidden.yaml");
    let session = train(config, 500);
    assert_eq!(session.state.history.last().unwrap().val_accuracy, 1.0);
}
