//! Delay pairs (DelGrad's delay element, spec hardware-reference §4.1): two joined circuits `[D, T]`, D even
//! with its excitatory bypass, T with adaptation. An excitatory event reaching D's column holds the joined
//! membrane at D's reset potential for D's refractory time; meanwhile T's adaptation charges, and after the
//! release it pulls the membrane above its rest, where T's threshold crossing is the delayed spike.
//!
//! With `u = V - V_rest` the release is the existing [`Membrane`] with one channel holding the adaptation `w`:
//! `du/dt = -u / tau_m + w`, `dw/dt = -w / tau_w`, from `u = V_hold - V_rest` and the `w` charged in the hold,
//! `w = k_a (V_rest - V_hold) (1 - e^(-hold / (tau_w / 4)))`.
//!
//! Everything comes from the configuration words and CapMem cells, plus a per-pair fixed pattern ([`PairPattern`],
//! its own rng stream so that the circuits' and synapses' draws stay as they were).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::analog::{CIRCUITS, CircuitParameters};
use crate::membrane::{MAX_CHANNELS, Membrane, MembraneParameters};
use crate::profile::{ChipProfile, TransferCurves};

/// Places a pair can sit at: every even circuit with its right neighbour (index `D / 2`).
pub const PAIR_PLACES: usize = CIRCUITS / 2;

/// Seed of the pairs' fixed-pattern stream, xor-ed with the chip seed.
const PAIR_STREAM: u64 = 0xDE1A_9A12_5EED_0013;

/// One pair's deviations (index `D / 2`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairMismatch {
    /// Factor on the hold time (the delay map's slope).
    pub clock_factor: f64,
    /// Factor on the adaptation strength (weak pairs included).
    pub rebound_factor: f64,
    /// Offset (mV) of the adaptation reference potential.
    pub adapt_ref_mv: f64,
    /// Offset (mV) of the adaptation leak potential.
    pub adapt_leak_mv: f64,
    /// Factor on the adaptation time constant.
    pub tau_adapt: f64,
}

/// The pairs' fixed pattern: a pure function of the profile and the chip seed.
#[derive(Clone, Debug, PartialEq)]
pub struct PairPattern {
    /// Per place (`D / 2`).
    pub pairs: Vec<PairMismatch>,
}

impl PairPattern {
    /// Draws the pattern (every draw is made whatever the magnitudes, so a profile change keeps the stream).
    pub fn draw(profile: &ChipProfile, chip_seed: u64) -> PairPattern {
        let m = &profile.pairs;
        let mut rng = ChaCha8Rng::seed_from_u64(chip_seed ^ PAIR_STREAM);
        let pairs = (0..PAIR_PLACES)
            .map(|_| {
                let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
                let clock = normal();
                let rebound = normal();
                let (adapt_ref, adapt_leak, tau) = (normal(), normal(), normal());
                let weak = rng.random::<f64>() < m.weak_fraction;
                PairMismatch {
                    clock_factor: (m.clock_rel * clock).exp(),
                    rebound_factor: (m.rebound_rel * rebound).exp() * if weak { m.weak_factor } else { 1.0 },
                    adapt_ref_mv: m.adapt_potential_mv * adapt_ref,
                    adapt_leak_mv: m.adapt_potential_mv * adapt_leak,
                    tau_adapt: (m.tau_adapt_rel * tau).exp(),
                }
            })
            .collect();
        PairPattern { pairs }
    }
}

/// The trigger's adaptation cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdaptationCapMem {
    /// v_adapt_ref.
    pub v_adapt_ref: u16,
    /// v_adapt_leak.
    pub v_adapt_leak: u16,
    /// i_bias_adapt_tau.
    pub i_bias_adapt_tau: u16,
    /// i_bias_adapt_a.
    pub i_bias_adapt_a: u16,
}

/// What makes a pair's physics, besides the curves and its mismatch.
#[derive(Clone, Copy, Debug)]
pub struct PairInputs<'a> {
    /// The delay compartment's standalone parameters (its reset is the hold level).
    pub delay: &'a CircuitParameters,
    /// The trigger's standalone parameters (leak, reset, threshold, tau_mem at capacitance 63).
    pub trigger: &'a CircuitParameters,
    /// The trigger's adaptation cells.
    pub adaptation: AdaptationCapMem,
    /// The delay compartment's membrane capacitance (the trigger has none).
    pub delay_capacitance: u32,
    /// The delay compartment's refractory time (us): the nominal hold.
    pub refractory_us: f64,
    /// The threshold (mV, absolute; infinite with the comparator off).
    pub threshold_mv: f64,
    /// The trigger's refractory time (us).
    pub trigger_refractory_us: f64,
}

/// A pair's physics, in mV and us.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairPhysics {
    /// Rest of the joined membrane: `E_L + (E_al - E_ref) / 2`.
    pub rest_mv: f64,
    /// Hold level (the delay compartment's reset).
    pub hold_mv: f64,
    /// Adaptation reference potential: the trace's level at `w = 0`.
    pub adapt_ref_mv: f64,
    /// Membrane time constant of the joined membrane.
    pub tau_mem_us: f64,
    /// Adaptation time constant.
    pub tau_adapt_us: f64,
    /// The adaptation a long hold charges (mV/us).
    pub adaptation_full: f64,
    /// The hold without jitter: the delay compartment's refractory time times the pair's clock factor.
    pub hold_us: f64,
    /// Threshold (mV, absolute; infinite with the comparator off).
    pub threshold_mv: f64,
    /// The trigger's reset potential (mV).
    pub trigger_reset_mv: f64,
    /// The trigger's refractory time.
    pub trigger_refractory_us: f64,
}

impl PairPhysics {
    /// The physics of a pair with these inputs.
    pub fn new(curves: &TransferCurves, m: &PairMismatch, inputs: &PairInputs<'_>) -> PairPhysics {
        let volts = |v: u16| f64::from(v) * curves.mv_per_capmem_lsb;
        let a = inputs.adaptation;
        let leak = inputs.trigger.leak_mv;
        let adapt_ref = volts(a.v_adapt_ref) + m.adapt_ref_mv;
        let adapt_leak = volts(a.v_adapt_leak) + m.adapt_leak_mv;
        let rest = leak + 0.5 * (adapt_leak - adapt_ref);
        let hold = inputs.delay.reset_mv;
        // The trigger's leak OTA charges the joined capacitance (its own is zero). A delay compartment written
        // with no capacitance still has its wiring's, as joined membranes do (`Compiled::capacitance`): never zero,
        // or the crossing search would not advance.
        let tau_mem = f64::from(inputs.delay_capacitance.max(1)) / 63.0 * inputs.trigger.tau_mem_us;
        let tau_adapt =
            curves.tau_adapt_us_lsb / (f64::from(a.i_bias_adapt_tau) + curves.bias_offset_lsb) * m.tau_adapt;
        let k_a = curves.adapt_a_per_us * f64::from(a.i_bias_adapt_a) / 1000.0 * m.rebound_factor;
        PairPhysics {
            rest_mv: rest,
            hold_mv: hold,
            adapt_ref_mv: adapt_ref,
            tau_mem_us: tau_mem.min(1e9),
            tau_adapt_us: tau_adapt.min(1e9),
            adaptation_full: k_a * (rest - hold),
            hold_us: inputs.refractory_us * m.clock_factor,
            threshold_mv: inputs.threshold_mv,
            trigger_reset_mv: inputs.trigger.reset_mv,
            trigger_refractory_us: inputs.trigger_refractory_us,
        }
    }

    /// The membrane's parameters (relative to the rest; every channel at tau_w, only channel 0 used).
    pub fn membrane_parameters(&self) -> MembraneParameters {
        MembraneParameters {
            tau_mem: self.tau_mem_us,
            tau_syn: [self.tau_adapt_us; MAX_CHANNELS],
            threshold: self.threshold_mv - self.rest_mv,
            reset: self.trigger_reset_mv - self.rest_mv,
            refractory: self.trigger_refractory_us,
        }
    }

    /// The adaptation after `held` us of a hold that charges towards `full`.
    pub fn charged(&self, full: f64, held: f64) -> f64 {
        full * -(-held.max(0.0) / (self.tau_adapt_us / 4.0)).exp_m1()
    }

    /// The adaptation trace (mV) for adaptation `w`.
    pub fn trace_mv(&self, w: f64) -> f64 {
        self.adapt_ref_mv - self.tau_adapt_us * w
    }

    /// A trigger at `t` with a hold of `hold` us charging towards `full`: the membrane held and then released.
    pub fn trigger(&self, membrane: &mut Membrane, t: f64, hold: f64, full: f64) -> PairState {
        let mut q = [0.0; MAX_CHANNELS];
        q[0] = self.charged(full, hold);
        membrane.hold(t + hold, self.hold_mv - self.rest_mv, q);
        PairState { start: t, end: t + hold, full }
    }

    /// The trigger's spike at `t`: the reset for its refractory time, the adaptation cleared (its pulse).
    pub fn fire(&self, membrane: &mut Membrane, t: f64) -> PairState {
        let end = t + self.trigger_refractory_us;
        membrane.hold(end, self.trigger_reset_mv - self.rest_mv, [0.0; MAX_CHANNELS]);
        PairState { start: t, end, full: 0.0 }
    }

    /// The noise-free delay (us) from an event to the trigger's threshold crossing, if it ever crosses.
    pub fn delay_us(&self) -> Option<f64> {
        let mut membrane = Membrane::at_rest(self.membrane_parameters(), 0.0);
        self.trigger(&mut membrane, 0.0, self.hold_us, self.adaptation_full);
        // The rebound is over long before this; the search ends earlier once a crossing is impossible.
        membrane.next_crossing(self.hold_us + 1000.0 * self.tau_mem_us.max(self.tau_adapt_us))
    }

    /// The peak (mV) of the rebound after one noise-free trigger, and how long after the release it comes.
    pub fn rebound_peak(&self) -> (f64, f64) {
        let mut membrane = Membrane::at_rest(self.membrane_parameters(), 0.0);
        self.trigger(&mut membrane, 0.0, self.hold_us, self.adaptation_full);
        let t0 = self.hold_us;
        let step = self.tau_mem_us.min(self.tau_adapt_us) / 16.0;
        let span = 20.0 * self.tau_mem_us.max(self.tau_adapt_us);
        let u = |s: f64| membrane.potential(t0 + s);
        let (mut best, mut best_u) = (0.0, u(0.0));
        let mut s = step;
        while s <= span {
            let v = u(s);
            if v > best_u {
                (best, best_u) = (s, v);
            }
            s += step;
        }
        // Golden-section search around the best grid point (u is unimodal there).
        let (mut lo, mut hi) = ((best - step).max(0.0), best + step);
        let g = 0.5 * (5f64.sqrt() - 1.0);
        while hi - lo > 1e-9 {
            let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
            if u(a) < u(b) { lo = a } else { hi = b }
        }
        let s = 0.5 * (lo + hi);
        (self.rest_mv + u(s).max(best_u), s)
    }
}

/// A pair's clamp: held (or, after its spike, reset) from `start` to `end`, its adaptation charging towards
/// `full` meanwhile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairState {
    /// Start of the clamp (us).
    pub start: f64,
    /// End of the clamp (us): events before it are ignored.
    pub end: f64,
    /// What the adaptation charges towards during the clamp (mV/us; zero after a spike or a miss).
    pub full: f64,
}

impl Default for PairState {
    fn default() -> PairState {
        PairState { start: f64::NEG_INFINITY, end: f64::NEG_INFINITY, full: 0.0 }
    }
}

impl PairState {
    /// Whether the membrane is clamped at `t` (an event then is ignored).
    pub fn clamped(&self, t: f64) -> bool {
        t < self.end
    }

    /// The adaptation at `t` (mV/us): charging during the clamp, then the membrane's channel.
    pub fn adaptation(&self, physics: &PairPhysics, membrane: &Membrane, t: f64) -> f64 {
        if t < self.end { physics.charged(self.full, t - self.start) } else { membrane.channel(t, 0) }
    }
}
