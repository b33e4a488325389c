"""Writes host/tests/data/reference/reference-runs-state-dicts.json: the state_dict() of every shipped reference
network (../shared/data/reference-runs/*/epoch_300/yin_yang_network.pt) as torch itself reads it, plus each
NeuronLayer's neuron_params['threshold_noise_fp']. The reference's classes are replaced by empty stand-ins
(torch.nn.Module subclasses named networks.Net, utils.NeuronLayer, ...), so nothing of the reference runs.

    python3 -m venv venv && venv/bin/pip install torch
    venv/bin/python scripts/dump_reference_state_dicts.py ../shared/data/reference-runs OUT.json
"""
import glob
import json
import sys
import types

import torch


def stand_ins():
    networks = types.ModuleType("networks")
    utils = types.ModuleType("utils")
    for module, names in [(networks, ["Net", "NetOnHX_PYNN"]),
                          (utils, ["NeuronLayer", "DelayLayer", "BroadcastLayer", "MultiplexLayer"])]:
        for name in names:
            setattr(module, name, type(name, (torch.nn.Module,), {"__module__": module.__name__}))
    # DelayLayer pickles a reference to one of its methods.
    utils.DelayLayer.scaled_shift_sigmoid = lambda *args: None
    sys.modules["networks"], sys.modules["utils"] = networks, utils


def tensor(t):
    return {"shape": list(t.shape), "values": [float(x) for x in t.double().flatten().tolist()]}


def main(runs, out_path):
    stand_ins()
    out = {}
    for path in sorted(glob.glob(runs + "/*/epoch_300/yin_yang_network.pt")):
        net = torch.load(path, map_location="cpu", weights_only=False)
        entry = {k: tensor(v) for k, v in net.state_dict().items()}
        for i, layer in enumerate(net.layers):
            fp = getattr(layer, "neuron_params", {}).get("threshold_noise_fp")
            if fp is not None:
                entry[f"layers.{i}.neuron_params.threshold_noise_fp"] = tensor(fp)
        out[path.split("/")[-3]] = entry
    about = ("state_dict() of each shared/data/reference-runs/*/epoch_300/yin_yang_network.pt as torch "
             f"{torch.__version__} reads it (torch.load, map_location cpu, stand-in classes), plus each NeuronLayer's "
             "neuron_params['threshold_noise_fp']; made by scripts/dump_reference_state_dicts.py")
    with open(out_path, "w") as f:
        json.dump({"about": about, "networks": out}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
