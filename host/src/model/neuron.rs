//! Parameters of the leaky integrate-and-fire neuron and the closed form they select (spec §1).

/// Which closed form of the first-spike time applies: tau_mem = tau_syn or tau_mem = 2 tau_syn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TauRatio {
    /// tau_mem = tau_syn: the Lambert-W solution.
    One,
    /// tau_mem = 2 tau_syn: the solution of a quadratic in exp(-t/tau_mem).
    Two,
}

impl TauRatio {
    /// The ratio as the reference stores it (`model_tau_ratio`).
    pub fn value(self) -> f64 {
        match self {
            TauRatio::One => 1.0,
            TauRatio::Two => 2.0,
        }
    }
}

/// The parameters one layer's neurons share, as the exact model needs them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeuronParams {
    /// Synaptic time constant; the model's unit of time (1 in every shipped config).
    pub tau_syn: f64,
    /// Membrane time constant.
    pub tau_mem: f64,
    /// Leak conductance; with the membrane capacitance equal to tau_syn, g_leak = tau_syn / tau_mem.
    pub g_leak: f64,
    /// Leak (resting) potential E_l.
    pub leak: f64,
    /// Nominal threshold.
    pub threshold: f64,
    /// The closed form used.
    pub ratio: TauRatio,
}

impl NeuronParams {
    /// `c = g_l (threshold - E_l)`, the constant on the right-hand side of the crossing condition.
    pub fn crossing_constant(&self, threshold: f64) -> f64 {
        self.g_leak * (threshold - self.leak)
    }

    /// Whether e^{t/tau_mem} is needed besides e^{t/tau_syn}.
    pub fn needs_membrane_exponential(&self) -> bool {
        self.ratio == TauRatio::Two
    }
}
