//! Forward and backward passes through the layer chain.

use super::{DelayLayer, Layer, Network, NeuronLayer};
use crate::config::{DelayKind, IntegratorConfig};
use crate::model::integrator::integrate_forward;
use crate::model::{Arrival, ArrivalGrad, Matrix, ModelError, NonFinite, layer_backward_with, layer_forward};
use crate::rng::{self, Rng};

/// Spike times between layers: per sample (`[batch, n]`), or per synapse once broadcast to a NeuronLayer.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    /// `[batch, n]`.
    Flat(Matrix),
    /// Times arriving at each neuron of the next NeuronLayer.
    Broadcast(Arrival),
}

/// Gradient with respect to a [`Signal`].
#[derive(Clone, Debug, PartialEq)]
enum SignalGrad {
    Flat(Matrix),
    Broadcast(ArrivalGrad),
}

/// How to run a forward pass.
#[derive(Debug)]
pub struct ForwardOptions<'a> {
    /// Round weights to multiples of this (round half to even) for this pass; the float weights stay.
    pub rounding: Option<f64>,
    /// Use the Euler integrator instead of the closed forms.
    pub integrator: Option<IntegratorConfig>,
    /// Source of threshold noise and jitter.
    pub noise: &'a mut Rng,
}

/// The record of a forward pass that the backward pass needs.
#[derive(Clone, Debug)]
pub struct Forward {
    /// The input signal of every layer.
    inputs: Vec<Signal>,
    /// Output times of each NeuronLayer, by layer index (None for other layers).
    pub neuron_outputs: Vec<Option<Matrix>>,
    /// The delayed times `[batch, n]` of every axonal delay layer without jitter, in chain order (the spikes the
    /// chip's delay pairs send).
    pub axonal_delayed: Vec<Matrix>,
}

impl Forward {
    /// The network's output times `[batch, n_outputs]`.
    pub fn output(&self) -> &Matrix {
        self.neuron_outputs.iter().rev().flatten().next().expect("the last layer is a NeuronLayer")
    }
}

/// Gradients of the loss for every layer's trainable tensor (weights or raw delays), by layer index.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    /// `dL/dW` for NeuronLayers, `dL/d(raw delays)` for delay layers, None for the others.
    pub layers: Vec<Option<Matrix>>,
}

fn rounded(weights: &Matrix, precision: f64) -> Matrix {
    weights.map(|w| (w / precision).round_ties_even() * precision)
}

/// Appends `extra` columns to every row.
fn append_columns(m: &Matrix, extra: &[f64]) -> Matrix {
    let cols = m.cols + extra.len();
    let mut data = Vec::with_capacity(m.rows * cols);
    for r in 0..m.rows {
        data.extend_from_slice(m.row(r));
        data.extend_from_slice(extra);
    }
    Matrix { rows: m.rows, cols, data }
}

/// Keeps the first `cols` columns.
fn first_columns(m: &Matrix, cols: usize) -> Matrix {
    let data = (0..m.rows).flat_map(|r| m.row(r)[..cols].iter().copied()).collect();
    Matrix { rows: m.rows, cols, data }
}

/// Repeats every column `factor` times consecutively.
fn repeat_columns(m: &Matrix, factor: usize) -> Matrix {
    let data = m.data.iter().flat_map(|&x| std::iter::repeat_n(x, factor)).collect();
    Matrix { rows: m.rows, cols: m.cols * factor, data }
}

/// Sums groups of `factor` consecutive columns.
fn sum_column_groups(m: &Matrix, factor: usize) -> Matrix {
    let data = m.data.chunks(factor).map(|c| c.iter().sum()).collect();
    Matrix { rows: m.rows, cols: m.cols / factor, data }
}

/// Appends zero rows.
fn append_zero_rows(m: &Matrix, rows: usize) -> Matrix {
    let mut data = m.data.clone();
    data.resize((m.rows + rows) * m.cols, 0.0);
    Matrix { rows: m.rows + rows, cols: m.cols, data }
}

fn repeat_rows(m: &Matrix, factor: usize) -> Matrix {
    let data = (0..m.rows).flat_map(|r| std::iter::repeat_n(m.row(r), factor).flatten().copied()).collect();
    Matrix { rows: m.rows * factor, cols: m.cols, data }
}

fn sum_row_groups(m: &Matrix, factor: usize) -> Matrix {
    let mut out = Matrix::zeros(m.rows / factor, m.cols);
    for r in 0..m.rows {
        for c in 0..m.cols {
            *out.get_mut(r / factor, c) += m.get(r, c);
        }
    }
    out
}

fn as_arrival(signal: Signal) -> Arrival {
    match signal {
        Signal::Flat(x) => Arrival::Shared(x),
        Signal::Broadcast(a) => a,
    }
}

impl DelayLayer {
    /// The delayed times of `input`, with the layer's jitter drawn from `noise` if given.
    fn delayed(&self, input: Signal, noise: Option<&mut Rng>) -> Arrival {
        let arrival = match (as_arrival(input), self.config.kind) {
            // Axonal delays keep every neuron's inputs equal: fold them into the per-sample times.
            (Arrival::Shared(x), DelayKind::Axonal) => {
                let d = self.effective();
                let data =
                    x.data.chunks(x.cols.max(1)).flat_map(|row| row.iter().zip(&d.data).map(|(t, d)| t + d)).collect();
                Arrival::Shared(Matrix { rows: x.rows, cols: x.cols, data })
            }
            (Arrival::Shared(base), _) => Arrival::Offset { base, offset: self.full() },
            (Arrival::Offset { base, mut offset }, _) => {
                offset.add_assign(&self.full());
                Arrival::Offset { base, offset }
            }
            (Arrival::Dense { batch, n_pre, n_post, mut times }, _) => {
                let full = self.full();
                for (k, t) in times.iter_mut().enumerate() {
                    *t += full.data[k % (n_pre * n_post)];
                }
                Arrival::Dense { batch, n_pre, n_post, times }
            }
        };
        if let Some(noise) = noise.filter(|_| self.config.jitter > 0.0) {
            // Independent noise on every delayed time: the per-synapse form is needed from here on.
            let mut times = arrival.to_dense(self.n_post);
            for t in &mut times {
                *t += rng::normal(noise, 0.0, self.config.jitter);
            }
            return Arrival::Dense { batch: arrival.batch(), n_pre: self.n_pre, n_post: self.n_post, times };
        }
        arrival
    }

    /// dL/d(effective delays) from the gradient with respect to this layer's output.
    fn effective_grad(&self, grad: &ArrivalGrad) -> Matrix {
        match &grad.offset {
            Some(full) => self.effective_gradient_from_full(full),
            // Only axonal delays produce a shared arrival: sum over the batch.
            None => {
                let mut g = Matrix::zeros(self.n_pre, 1);
                for b in 0..grad.base.rows {
                    for i in 0..self.n_pre {
                        g.data[i] += grad.base.get(b, i);
                    }
                }
                g
            }
        }
    }
}

impl NeuronLayer {
    fn forward(&self, arrival: &Arrival, opts: &mut ForwardOptions) -> Matrix {
        let settings = &self.config.neuron;
        let params = &settings.params;
        let round;
        let weights = match opts.rounding {
            Some(p) => {
                round = rounded(&self.weights, p);
                &round
            }
            None => &self.weights,
        };
        if let Some(integrator) = opts.integrator {
            return integrate_forward(params, weights, arrival, integrator.resolution, integrator.sim_time);
        }
        let (batch, size) = (arrival.batch(), self.config.size);
        let noise = settings.noise;
        let thresholds = if noise.s2s_std != 0.0 || noise.b2b_std != 0.0 {
            let s2s: Vec<f64> = (0..batch * size).map(|_| rng::normal(opts.noise, 0.0, noise.s2s_std)).collect();
            let b2b: Vec<f64> = (0..size).map(|_| rng::normal(opts.noise, 0.0, noise.b2b_std)).collect();
            let data = (0..batch * size)
                .map(|k| params.threshold + self.threshold_offsets[k % size] + s2s[k] + b2b[k % size])
                .collect();
            Some(Matrix { rows: batch, cols: size, data })
        } else if self.threshold_offsets.iter().any(|&x| x != 0.0) {
            let data = (0..batch * size).map(|k| params.threshold + self.threshold_offsets[k % size]).collect();
            Some(Matrix { rows: batch, cols: size, data })
        } else {
            None
        };
        let mut out = layer_forward(params, weights, arrival, thresholds.as_ref());
        if settings.jitter > 0.0 {
            for t in &mut out.data {
                let noise = rng::normal(opts.noise, 0.0, settings.jitter);
                if t.is_finite() {
                    *t += noise;
                }
            }
        }
        out
    }
}

impl Network {
    /// Runs a batch `[batch, n_inputs]` of input times through the network.
    pub fn forward(&self, inputs: &Matrix, opts: &mut ForwardOptions) -> Forward {
        self.pass(
            inputs,
            opts,
            |n, arrival, opts| n.forward(arrival, opts),
            |d, signal, opts| d.delayed(signal, Some(opts.noise)),
        )
    }

    /// The record of a forward pass whose NeuronLayer outputs were measured elsewhere (on a chip):
    /// `measured[k]` `[batch, size]` is the k-th NeuronLayer's output. Every other layer is applied as in
    /// [`Network::forward`] (without jitter), so [`Network::backward`] then gives the exact gradients at the
    /// measured times.
    pub fn forward_measured(&self, inputs: &Matrix, measured: &[Matrix]) -> Forward {
        self.forward_measured_with_delays(inputs, measured, &[])
    }

    /// [`Network::forward_measured`] where delay layers were measured too: `delayed[k]`, if given, is the k-th
    /// delay layer's output `[batch, n]` as measured (axonal delays on the chip's delay pairs, +inf = the delayed
    /// spike never came). The backward pass then differentiates the measured time as input + delay (derivative 1
    /// with respect to both, spec hardware-reference §5).
    pub fn forward_measured_with_delays(
        &self,
        inputs: &Matrix,
        measured: &[Matrix],
        delayed: &[Option<Matrix>],
    ) -> Forward {
        let mut next = measured.iter();
        let mut next_delay = delayed.iter();
        // The record is the measurement: no jitter is drawn, the stream is never used.
        let mut unused = rng::stream(0, rng::Purpose::Inference, 0);
        let mut opts = ForwardOptions { rounding: None, integrator: None, noise: &mut unused };
        self.pass(
            inputs,
            &mut opts,
            |_, _, _| next.next().expect("one measured output per NeuronLayer").clone(),
            |d, signal, _| match next_delay.next() {
                Some(Some(times)) => Arrival::Shared(times.clone()),
                _ => d.delayed(signal, None),
            },
        )
    }

    /// One pass through the chain; `neuron(layer, arrival, opts)` gives a NeuronLayer's output times,
    /// `delay(layer, signal, opts)` a delay layer's.
    fn pass(
        &self,
        inputs: &Matrix,
        opts: &mut ForwardOptions,
        mut neuron: impl FnMut(&NeuronLayer, &Arrival, &mut ForwardOptions) -> Matrix,
        mut delay: impl FnMut(&DelayLayer, Signal, &mut ForwardOptions) -> Arrival,
    ) -> Forward {
        let mut signal = Signal::Flat(inputs.clone());
        let mut record = Forward {
            inputs: Vec::with_capacity(self.layers.len()),
            neuron_outputs: vec![None; self.layers.len()],
            axonal_delayed: Vec::new(),
        };
        for (index, layer) in self.layers.iter().enumerate() {
            record.inputs.push(signal.clone());
            signal = match layer {
                Layer::Broadcast { .. } => Signal::Broadcast(as_arrival(signal)),
                Layer::Delay(d) => {
                    let arrival = delay(d, signal, opts);
                    if let (DelayKind::Axonal, Arrival::Shared(x)) = (d.config.kind, &arrival) {
                        record.axonal_delayed.push(x.clone());
                    }
                    Signal::Broadcast(arrival)
                }
                Layer::Neuron(n) => {
                    let out = neuron(n, &as_arrival(signal), opts);
                    record.neuron_outputs[index] = Some(out.clone());
                    Signal::Flat(out)
                }
                Layer::Biases { times } => match signal {
                    Signal::Flat(x) => Signal::Flat(append_columns(&x, times)),
                    Signal::Broadcast(Arrival::Shared(x)) => {
                        Signal::Broadcast(Arrival::Shared(append_columns(&x, times)))
                    }
                    Signal::Broadcast(Arrival::Offset { base, offset }) => Signal::Broadcast(Arrival::Offset {
                        base: append_columns(&base, times),
                        offset: append_zero_rows(&offset, times.len()),
                    }),
                    Signal::Broadcast(Arrival::Dense { batch, n_pre, n_post, times: t }) => {
                        let mut data = Vec::with_capacity(batch * (n_pre + times.len()) * n_post);
                        for b in 0..batch {
                            data.extend_from_slice(&t[b * n_pre * n_post..(b + 1) * n_pre * n_post]);
                            for &bias in times {
                                data.extend(std::iter::repeat_n(bias, n_post));
                            }
                        }
                        Signal::Broadcast(Arrival::Dense { batch, n_pre: n_pre + times.len(), n_post, times: data })
                    }
                },
                Layer::Multiplex { factor } => match signal {
                    Signal::Flat(x) => Signal::Flat(repeat_columns(&x, *factor)),
                    Signal::Broadcast(Arrival::Shared(x)) => {
                        Signal::Broadcast(Arrival::Shared(repeat_columns(&x, *factor)))
                    }
                    Signal::Broadcast(Arrival::Offset { base, offset }) => Signal::Broadcast(Arrival::Offset {
                        base: repeat_columns(&base, *factor),
                        offset: repeat_rows(&offset, *factor),
                    }),
                    Signal::Broadcast(Arrival::Dense { batch, n_pre, n_post, times }) => {
                        let rows = Matrix { rows: batch * n_pre, cols: n_post, data: times };
                        let repeated = repeat_rows(&rows, *factor);
                        Signal::Broadcast(Arrival::Dense { batch, n_pre: n_pre * factor, n_post, times: repeated.data })
                    }
                },
            };
        }
        record
    }

    /// Exact gradients for every trainable tensor, given `dL/d(outputs)` `[batch, n_outputs]` (NaN = 0).
    pub fn backward(&self, record: &Forward, delta: &Matrix) -> Result<Gradients, ModelError> {
        self.backward_with(record, delta, NonFinite::Fail)
    }

    /// [`Network::backward`] with a choice of what a non-finite gradient does (chip training: zero it).
    pub fn backward_with(
        &self,
        record: &Forward,
        delta: &Matrix,
        non_finite: NonFinite,
    ) -> Result<Gradients, ModelError> {
        let mut grads = vec![None; self.layers.len()];
        let mut grad = SignalGrad::Flat(delta.clone());
        for (index, layer) in self.layers.iter().enumerate().rev() {
            // Nothing below the first trainable layer needs a gradient.
            if !self.layers[..=index].iter().any(|l| l.trainable_parameters().is_some()) {
                break;
            }
            let input = &record.inputs[index];
            grad = match (layer, grad) {
                (Layer::Neuron(n), SignalGrad::Flat(delta)) => {
                    let arrival = match input {
                        Signal::Broadcast(a) => a.clone(),
                        Signal::Flat(x) => Arrival::Shared(x.clone()),
                    };
                    let out = record.neuron_outputs[index].as_ref().expect("a NeuronLayer records its output");
                    let settings = &n.config.neuron;
                    let g = layer_backward_with(
                        &settings.params,
                        settings.max_dw_norm,
                        &n.weights,
                        &arrival,
                        out,
                        &delta,
                        non_finite,
                    )?;
                    grads[index] = Some(g.weights);
                    SignalGrad::Broadcast(g.input)
                }
                (Layer::Broadcast { .. }, SignalGrad::Broadcast(g)) => SignalGrad::Flat(g.base),
                (Layer::Delay(d), SignalGrad::Broadcast(g)) => {
                    grads[index] = Some(d.raw_gradient(&d.effective_grad(&g)));
                    match input {
                        Signal::Flat(_) => SignalGrad::Flat(g.base),
                        Signal::Broadcast(_) => SignalGrad::Broadcast(g),
                    }
                }
                (Layer::Biases { times }, SignalGrad::Flat(g)) => {
                    SignalGrad::Flat(first_columns(&g, g.cols - times.len()))
                }
                (Layer::Biases { times }, SignalGrad::Broadcast(g)) => {
                    let keep = g.base.cols - times.len();
                    SignalGrad::Broadcast(ArrivalGrad {
                        base: first_columns(&g.base, keep),
                        offset: g.offset.map(|o| Matrix {
                            rows: keep,
                            cols: o.cols,
                            data: o.data[..keep * o.cols].to_vec(),
                        }),
                    })
                }
                (Layer::Multiplex { factor }, SignalGrad::Flat(g)) => SignalGrad::Flat(sum_column_groups(&g, *factor)),
                (Layer::Multiplex { factor }, SignalGrad::Broadcast(g)) => SignalGrad::Broadcast(ArrivalGrad {
                    base: sum_column_groups(&g.base, *factor),
                    offset: g.offset.map(|o| sum_row_groups(&o, *factor)),
                }),
                (layer, _) => unreachable!("{} received a gradient of the wrong form", layer.name()),
            };
        }
        Ok(Gradients { layers: grads })
    }
}
