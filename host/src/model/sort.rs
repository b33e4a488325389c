//! A sample's input times in time order, as every neuron that sees them sweeps them.
//!
//! The order is `f64::total_cmp`'s (so +inf comes after every spike, NaN at the ends), ties in input order: a
//! neuron's running sums add tied inputs in input order, whatever sorting algorithm is used.

use super::neuron::NeuronParams;

/// Up to this many inputs an insertion sort is the fastest (and it is stable by itself).
const INSERTION_SORT_MAX: usize = 20;

/// `x`'s place in `f64::total_cmp` order as an unsigned integer.
fn total_order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// Writes into `order` the indices of `t` in time order (`f64::total_cmp`, ties in index order); `keys` is
/// scratch space.
pub(super) fn time_order(t: &[f64], order: &mut Vec<u32>, keys: &mut Vec<u128>) {
    assert!(t.len() <= u32::MAX as usize, "{} inputs do not fit 32-bit indices", t.len());
    order.clear();
    if t.len() <= INSERTION_SORT_MAX {
        for i in 0..t.len() as u32 {
            let mut slot = order.len();
            order.push(i);
            while slot > 0 && t[order[slot - 1] as usize].total_cmp(&t[i as usize]).is_gt() {
                order[slot] = order[slot - 1];
                slot -= 1;
            }
            order[slot] = i;
        }
        return;
    }
    // Missing inputs (+inf), often most of them, need no sorting: they go between the rest and any +NaN.
    // The other keys carry their index in the low bits, so all are distinct and an unstable sort keeps ties in
    // index order.
    let inf = total_order_key(f64::INFINITY);
    keys.clear();
    keys.extend(
        t.iter()
            .enumerate()
            .map(|(i, &x)| (total_order_key(x), i))
            .filter(|&(k, _)| k != inf)
            .map(|(k, i)| u128::from(k) << 32 | i as u128),
    );
    keys.sort_unstable();
    let split = keys.partition_point(|&k| ((k >> 32) as u64) < inf);
    order.extend(keys[..split].iter().map(|&k| k as u32));
    order.extend((0..t.len() as u32).filter(|&i| t[i as usize] == f64::INFINITY));
    order.extend(keys[split..].iter().map(|&k| k as u32));
}

/// One sample's input times sorted, with their exponentials, and where each came from.
#[derive(Debug, Default)]
pub(super) struct SortedSample {
    /// `order[k]` is the input index of the k-th earliest time.
    pub order: Vec<u32>,
    /// Times in order, then one +inf (so that `t[k + 1]` is the next time for every input).
    pub t: Vec<f64>,
    /// `exp(t / tau_syn)` in the same order, then +inf.
    pub es: Vec<f64>,
    /// `exp(t / tau_mem)` in the same order, then +inf (ratio 2 only; otherwise zeros).
    pub em: Vec<f64>,
    /// The number of leading finite times: the inputs a forward sweep can reach.
    pub finite: usize,
    keys: Vec<u128>,
}

impl SortedSample {
    /// Sorts `times` and computes their exponentials as the one-neuron functions expect them.
    pub fn load(&mut self, p: &NeuronParams, times: &[f64]) {
        let n = times.len();
        time_order(times, &mut self.order, &mut self.keys);
        self.t.clear();
        self.t.extend(self.order.iter().map(|&i| times[i as usize]));
        self.finite = self.t.iter().position(|t| !t.is_finite()).unwrap_or(n);
        self.es.clear();
        // exp(inf) = inf: no need to call it for the missing inputs.
        self.es.extend(self.t.iter().map(|&t| if t == f64::INFINITY { t } else { (t / p.tau_syn).exp() }));
        self.em.clear();
        if p.needs_membrane_exponential() {
            if p.tau_mem == 2.0 * p.tau_syn {
                // As the layer's exp_membrane: sqrt(es) where tau_mem is exactly 2 tau_syn.
                self.em.extend(self.es.iter().map(|e| e.sqrt()));
            } else {
                self.em.extend(self.t.iter().map(|&t| (t / p.tau_mem).exp()));
            }
        } else {
            self.em.resize(n, 0.0);
        }
        self.t.push(f64::INFINITY);
        self.es.push(f64::INFINITY);
        self.em.push(f64::INFINITY);
    }

    /// The number of inputs.
    pub fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_of(t: &[f64]) -> Vec<u32> {
        let mut order = Vec::new();
        time_order(t, &mut order, &mut Vec::new());
        order
    }

    /// What `time_order` must give: a stable sort by `total_cmp`.
    fn stable(t: &[f64]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..t.len() as u32).collect();
        order.sort_by(|&a, &b| t[a as usize].total_cmp(&t[b as usize]));
        order
    }

    #[test]
    fn sorts_by_total_order_with_ties_in_input_order() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        for len in [0, 1, 5, 20, 21, 64, 300] {
            let t: Vec<f64> = (0..len)
                .map(|i| match i % 7 {
                    0 => inf,
                    1 => 0.15,
                    2 if i % 3 == 0 => nan,
                    3 if i % 5 == 0 => -nan,
                    4 => -0.0,
                    5 => 0.0,
                    _ => ((i * 37) % 11) as f64 * 0.25 - 1.0,
                })
                .collect();
            assert_eq!(order_of(&t), stable(&t), "{len} inputs");
        }
    }

    #[test]
    fn sorted_sample_has_a_sentinel_and_counts_the_reachable_inputs() {
        let p = NeuronParams {
            tau_syn: 1.0,
            tau_mem: 2.0,
            g_leak: 0.5,
            leak: 0.0,
            threshold: 1.0,
            ratio: super::super::TauRatio::Two,
        };
        let mut s = SortedSample::default();
        s.load(&p, &[0.5, f64::INFINITY, 0.25]);
        assert_eq!(s.order, [2, 0, 1]);
        assert_eq!((s.finite, s.len()), (2, 3));
        assert_eq!(s.t, [0.25, 0.5, f64::INFINITY, f64::INFINITY]);
        assert_eq!(s.es[1], 0.5f64.exp());
        assert_eq!(s.em[0], 0.25f64.exp().sqrt());
        assert_eq!(s.es[3], f64::INFINITY);
    }
}
