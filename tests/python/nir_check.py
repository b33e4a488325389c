"""Reads a NIR graph exported by bss2 with the `nir` package and checks it independently of bss2.

    nir_check.py GRAPH.nir EXPECTED.json INPUTS.npy OUTPUTS.npy STEP SAMPLES

EXPECTED.json: {"nodes": {name: {"type": T, field: [shape, values]}}, "edges": [[from, to], ...]}, what bss2 meant
to write. INPUTS.npy / OUTPUTS.npy: the input spike times of the test split and bss2's output spike times
(inf = none). The graph is then simulated here by fine-step integration (classic Runge-Kutta, step STEP) of
NIR's CubaLIF equations, taking each neuron's first spike as the metadata says, for the first SAMPLES samples:
every first-spike time must lie within one step of bss2's. Prints one JSON line with what it measured.
"""
import json
import sys

import numpy as np
import nir


def check_structure(graph, expected):
    names = {k: type(v).__name__ for k, v in graph.nodes.items()}
    want = {k: v["type"] for k, v in expected["nodes"].items()}
    assert names == want, f"nodes {names} != {want}"
    edges = sorted(tuple(e) for e in graph.edges)
    assert edges == sorted(tuple(e) for e in expected["edges"]), f"edges {edges}"
    for name, fields in expected["nodes"].items():
        node = graph.nodes[name]
        for field, value in fields.items():
            if field == "type":
                continue
            shape, values = value
            got = np.asarray(getattr(node, field))
            assert list(got.shape) == shape, f"{name}.{field}: shape {got.shape} != {shape}"
            assert np.array_equal(got.ravel(), np.array(values, dtype=got.dtype)), f"{name}.{field} differs"
    assert "first" in graph.metadata["bss2.coding"], graph.metadata


def chain(graph):
    following = dict(graph.edges)
    name = next(k for k, v in graph.nodes.items() if isinstance(v, nir.Input))
    order = [name]
    while not isinstance(graph.nodes[name], nir.Output):
        name = following[name]
        order.append(name)
    return order


def cuba_lif_first_spikes(times, weight, dendritic, lif, step, t_end):
    """First spike of every neuron for input spikes `times` [B, n] through `weight` [N, n], each arrival delayed by
    `dendritic` [N]: the ODEs integrated with classic Runge-Kutta steps on a fixed grid; a spike arriving inside a
    step adds, at the step's end, its own response integrated (one Runge-Kutta step) from its arrival (the
    equations are linear, so responses add); the crossing is interpolated linearly within its step."""
    batch, n = times.shape
    neurons = weight.shape[0]
    tau_syn, tau_mem, r = lif.tau_syn, lif.tau_mem, lif.r
    v_leak, v_threshold, v_reset, w_in = lif.v_leak, lif.v_threshold, lif.v_reset, lif.w_in
    arrival = times[:, :, None] + dendritic[None, None, :]
    steps = int(np.ceil(t_end / step)) + 1
    # The step at whose end an arrival is added: arrivals in (k step, (k + 1) step] go into step k.
    k = np.where(np.isfinite(arrival), np.ceil(arrival / step) - 1, steps + 1)
    b_idx, i_idx, j_idx = np.nonzero(k < steps)
    k_idx = np.maximum(k[b_idx, i_idx, j_idx], 0).astype(np.int64)
    order = np.argsort(k_idx, kind="stable")
    b_idx, i_idx, j_idx, k_idx = b_idx[order], i_idx[order], j_idx[order], k_idx[order]
    bounds = np.searchsorted(k_idx, np.arange(steps + 1))
    jump = weight[j_idx, i_idx] * w_in[j_idx] / tau_syn[j_idx]
    remaining = (k_idx + 1) * step - arrival[b_idx, i_idx, j_idx]

    def rates(current, v, j=slice(None)):
        return -current / tau_syn[j], ((v_leak[j] - v) + r[j] * current) / tau_mem[j]

    def rk4(current, v, h, j=slice(None)):
        k1 = rates(current, v, j)
        k2 = rates(current + 0.5 * h * k1[0], v + 0.5 * h * k1[1], j)
        k3 = rates(current + 0.5 * h * k2[0], v + 0.5 * h * k2[1], j)
        k4 = rates(current + h * k3[0], v + h * k3[1], j)
        return (current + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
                v + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]))

    # The response of a lone spike until the step's end: from (jump, v_leak) at its arrival, less that of rest.
    impulse_current, impulse_v = rk4(jump, v_leak[j_idx], remaining, j_idx)
    impulse_v = impulse_v - rk4(np.zeros_like(jump), v_leak[j_idx], remaining, j_idx)[1]

    current = np.zeros((batch, neurons))
    v = np.broadcast_to(v_leak, (batch, neurons)).copy()
    first = np.full((batch, neurons), np.inf)
    for s in range(steps):
        new_current, new_v = rk4(current, v, step)
        lo, hi = bounds[s], bounds[s + 1]
        if hi > lo:
            np.add.at(new_current, (b_idx[lo:hi], j_idx[lo:hi]), impulse_current[lo:hi])
            np.add.at(new_v, (b_idx[lo:hi], j_idx[lo:hi]), impulse_v[lo:hi])
        crossed = (new_v > v_threshold) & ~np.isfinite(first)
        if crossed.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = (v_threshold - v) / (new_v - v)
            first[crossed] = (s + np.broadcast_to(frac, crossed.shape)[crossed]) * step
        new_v = np.where(new_v > v_threshold, np.broadcast_to(v_reset, new_v.shape), new_v)
        current, v = new_current, new_v
    return first


def simulate(graph, inputs, step, t_end):
    times = inputs
    weight = None
    dendritic = None
    for name in chain(graph)[1:-1]:
        node = graph.nodes[name]
        if isinstance(node, nir.Delay):
            if weight is None:
                times = times + node.delay[None, :]
            else:
                dendritic = node.delay
        elif isinstance(node, nir.Linear):
            if weight is not None:  # a Linear straight after a Linear never occurs in bss2's graphs
                raise AssertionError(f"{name}: two Linears in a row")
            weight = node.weight
        elif isinstance(node, nir.CubaLIF):
            if dendritic is None:
                dendritic = np.zeros(weight.shape[0])
            times = cuba_lif_first_spikes(times, weight, dendritic, node, step, t_end)
            weight, dendritic = None, None
        else:
            raise AssertionError(f"{name}: unexpected node {type(node).__name__}")
    return times


def main():
    path, expected_path, inputs_path, outputs_path, step, samples = sys.argv[1:7]
    step, samples = float(step), int(samples)
    graph = nir.read(path)
    with open(expected_path) as f:
        check_structure(graph, json.load(f))
    inputs = np.load(inputs_path)[:samples]
    ours = np.load(outputs_path)[:samples]
    t_end = np.max(ours[np.isfinite(ours)]) + 1.0
    simulated = simulate(graph, inputs, step, t_end)
    both = np.isfinite(ours) & np.isfinite(simulated)
    silent_differs = int(np.sum(np.isfinite(ours) != np.isfinite(simulated)))
    deviations = np.abs(ours[both] - simulated[both])
    deviation = float(np.max(deviations))
    print(json.dumps({"compared": int(both.sum()), "largest_deviation": deviation, "step": step,
                      "spiking_differs": silent_differs, "nir": nir.__version__ if hasattr(nir, "__version__") else "?"}))
    assert silent_differs == 0, f"{silent_differs} outputs spike in one and not the other"
    assert deviation <= step, f"largest deviation {deviation} exceeds the step {step}"


if __name__ == "__main__":
    main()
