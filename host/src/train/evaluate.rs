//! Evaluation of a network on a data set: output times, loss, accuracy (validation, test, inference).

use crate::chip::ChipError;
use crate::config::Config;
use crate::data::Dataset;
use crate::forward::ForwardPass;
use crate::model::Matrix;
use crate::network::Network;
use crate::rng::Rng;

use super::loss::Loss;

/// The result of running a whole data set through a network.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Output times `[samples, n_outputs]`, +inf = no spike.
    pub outputs: Matrix,
    /// Predicted classes (-1 = the selected neuron did not spike).
    pub predictions: Vec<i64>,
    /// Mean loss per sample, penalties and regularisers included (`sum over batches of mean * size / N`).
    pub loss: f64,
    /// Fraction of correct predictions.
    pub accuracy: f64,
}

/// The `[rows, n_inputs]` input matrix of the samples `indices` of a data set.
pub fn batch_inputs(data: &Dataset, indices: &[usize]) -> Matrix {
    let mut inputs = Vec::with_capacity(indices.len() * data.n_inputs);
    for &i in indices {
        data.extend_with_sample(i, &mut inputs);
    }
    Matrix { rows: indices.len(), cols: data.n_inputs, data: inputs }
}

/// The mean of `alpha * D^2` over all delays for the L2 delay regulariser (0 if there is none).
pub fn delay_penalty(network: &Network, loss: &Loss) -> f64 {
    let Some((_, effective)) = loss.l2_delay() else { return 0.0 };
    let values: Vec<f64> = network
        .delay_layers()
        .flat_map(|(_, d)| if effective { d.effective().data } else { d.raw.data.clone() })
        .collect();
    if values.is_empty() { 0.0 } else { values.iter().map(|d| d * d).sum::<f64>() / values.len() as f64 }
}

/// Runs `data` through the network in batches of `batch_size_eval`, in order, without training noise
/// (hardware-aware noise, jitter and rounding apply as configured), on `forward`: the simulation or a chip.
pub fn evaluate(
    forward: &mut dyn ForwardPass,
    network: &Network,
    config: &Config,
    loss: &Loss,
    data: &Dataset,
    noise: &mut Rng,
) -> Result<Evaluation, ChipError> {
    let penalty = delay_penalty(network, loss);
    evaluate_with(config, loss, data, network.n_outputs(), penalty, |inputs| {
        let mut layers = forward.layers(network, inputs, noise)?;
        Ok(layers.pop().expect("the last layer is a NeuronLayer"))
    })
}

/// Scores `data` run in order, in batches of `batch_size_eval`, through `forward` (a batch's input times to its
/// output times `[batch, n_outputs]`): the simulation or a chip.
pub fn evaluate_with<E>(
    config: &Config,
    loss: &Loss,
    data: &Dataset,
    n_outputs: usize,
    penalty: f64,
    mut forward: impl FnMut(&Matrix) -> Result<Matrix, E>,
) -> Result<Evaluation, E> {
    let n = data.len();
    let mut outputs = Matrix::zeros(n, n_outputs);
    let mut predictions = Vec::with_capacity(n);
    let mut loss_sum = 0.0;
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(config.training.batch_size_eval.max(1)) {
        let out = forward(&batch_inputs(data, chunk))?;
        let labels: Vec<usize> = chunk.iter().map(|&i| data.labels[i]).collect();
        loss_sum += loss.evaluate(&out, &labels, penalty).mean * chunk.len() as f64;
        predictions.extend(loss.predictions(&out));
        let start = chunk[0] * outputs.cols;
        outputs.data[start..start + out.data.len()].copy_from_slice(&out.data);
    }
    let correct = predictions.iter().zip(&data.labels).filter(|(p, l)| **p == **l as i64).count();
    Ok(Evaluation {
        outputs,
        predictions,
        loss: if n == 0 { f64::NAN } else { loss_sum / n as f64 },
        accuracy: if n == 0 { f64::NAN } else { correct as f64 / n as f64 },
    })
}
