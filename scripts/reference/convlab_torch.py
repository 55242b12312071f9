#!/usr/bin/env python3
"""Any ConvLab experiment spec, trained in PyTorch (eager, CPU) with the same recipe.

A benchmark and cross-checking tool, never a dependency of the build or the tests. It reads a
spec (Experiments/*.json), builds the same network in PyTorch -- conv, pool, dense,
activation, flatten, dropout, with ConvLab's initialisers, loss, optimizer, schedule and data
normalisation -- and trains it, printing per epoch the train loss, test loss and accuracy and
the training speed. The speed counts forward + backward + optimizer step only (no batch
gathering, no evaluation), like `runner bench`. It can also evaluate weights that ConvLab
exported as safetensors.

Install the CPU-only wheel of torch 2.13, which pip finds in /opt/wheels (PIP_FIND_LINKS is set
to it here; elsewhere add --find-links /opt/wheels):

    pip install "torch==2.13.0+cpu" safetensors numpy

A bare `pip install torch` takes the newest torch on PyPI instead, which is the CUDA build
and pulls gigabytes of CUDA libraries.

Examples (from the repository root):

    python3 scripts/reference/convlab_torch.py Experiments/lenet.json --epochs 1
    python3 scripts/reference/convlab_torch.py Experiments/lenet.json --variant model.pooling=avg
    python3 scripts/reference/convlab_torch.py Experiments/deep.json --steps 200 --threads 2
    python3 scripts/reference/convlab_torch.py Experiments/activations.json \\
        --variant 'model.activation={"plugin": "leaky_relu", "slope": 0.1}' --seed 2 --json
    python3 scripts/reference/convlab_torch.py Experiments/lenet.json --save /tmp/lenet.safetensors
    python3 scripts/reference/convlab_torch.py --evaluate /tmp/lenet.safetensors   # spec from the metadata

Speed: --steps N trains WARMUP_STEPS untimed steps, then N timed ones. --threads T sets
torch.set_num_threads(T) and one inter-op thread. On a machine whose cores are busy with other
work, two threads can be many times slower than one (PyTorch's OpenMP threads meet at every
operator and wait for the one that is not scheduled). The first line shows the load average:
quote it with every number, and compare with --threads 1.

Where ConvLab's conventions differ from PyTorch's defaults, this script follows ConvLab:

* Weights come from ConvLab's initialisers (he_uniform U(+-sqrt(6/fan_in)), he_normal
  N(0, 2/fan_in), xavier_uniform U(+-sqrt(6/(fan_in+fan_out))), xavier_normal
  N(0, 2/(fan_in+fan_out)); fan_in = C*kh*kw or inputs, fan_out = M*kh*kw or units) and every
  bias starts at zero -- not PyTorch's default (uniform with bound 1/sqrt(fan_in), biases too).
* Average pooling divides by the window cells inside the input (count_include_pad=False).
* mse is the mean over the classes of (z - onehot(y))^2, averaged over the batch.
* The data: the IDX bytes, scaled by 1/255 in float32, then (standardize) shifted and scaled
  by the mean and population standard deviation of the (limited) training images.
* Weight decay is L2 added to the gradient (g + lambda*w) of every tensor, biases included,
  for SGD and Adam alike (Adam, not AdamW); momentum is v <- mu*v + g, w <- w - eta*v (Nesterov:
  w <- w - eta*(g + mu*v)). torch.optim.SGD (dampening 0) and torch.optim.Adam compute exactly
  these formulas, so they are used as they are.
* Schedules are ConvLab's: step is eta*gamma^floor(epoch/every_epochs) with epochs counted from
  0; cosine runs over every step of training, step t (from 0) getting
  minimum + (eta - minimum)*(1 + cos(pi*t/T))/2.

What is not the same: the random streams. Weights, shuffles, dropout masks and the validation
split are drawn from PyTorch's and numpy's generators seeded with the spec's seed, not from
ConvLab's xoshiro256** streams, so runs match ConvLab's in distribution, not bit for bit.
ConvLab's `training.replicas` (data-parallel slices whose gradients are summed) gives the
full-batch gradient, which is what PyTorch computes on one batch; it is not used here.
The `synthetic` data set is ConvLab's own generator and is refused.

Weights (--evaluate, --save): safetensors with tensors `layers.<i>.<kind>.weight` and
`layers.<i>.<kind>.bias`, i the index in model.layers and kind the layer name (conv, dense).
Convolution weights are (out, in, kh, kw); dense weights are (out, in): ConvLab's Dense stores W
as (out, in) (Sources/ConvCore/Layers/Dense.swift), the same layout as torch.nn.Linear, so
nothing is transposed. F32 or F64 tensors are read. A metadata key `spec` holding a spec's JSON
is used when no SPEC is given; --save writes one (the spec as run, matrix applied).
"""
import argparse
import copy
import gzip
import json
import math
import os
import platform
import re
import sys
import time

import numpy as np

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError:
    sys.exit('PyTorch is not installed: pip install "torch==2.13.0+cpu" (the CPU wheel in /opt/wheels; '
             'see the docstring)')

DEFAULT_IDX_PATH = "/usr/share/datasets/fashion-mnist"
WARMUP_STEPS = 10
"""Steps trained before the clock starts in a --steps run."""

EXAMPLES = """examples (from the repository root):
  %(prog)s Experiments/lenet.json --epochs 1
  %(prog)s Experiments/lenet.json --variant model.pooling=avg
  %(prog)s Experiments/deep.json --steps 200 --threads 2
  %(prog)s Experiments/lenet.json --save /tmp/lenet.safetensors
  %(prog)s --evaluate /tmp/lenet.safetensors

Speeds count forward + backward + optimizer step only, like `runner bench`. The module
docstring lists the conventions where ConvLab differs from PyTorch's defaults."""

# REQUIRED marks a parameter without a default; FROM_MODEL one whose default is model.<name>'s.
REQUIRED = "<required>"
FROM_MODEL = "<from model>"

TOP_LEVEL_KEYS = {"$schema", "name", "description", "seed", "dataset", "model", "loss", "optimizer",
                  "training", "evaluation", "probes", "checkpoint", "matrix"}  # checkpoint: ignored here
MODEL_DEFAULTS = {"input": None, "activation": "relu", "pooling": "max", "init": "he_uniform", "layers": REQUIRED}
TRAINING_DEFAULTS = {"epochs": 1, "batch_size": 64, "shuffle": True, "replicas": 2}
EVALUATION_DEFAULTS = {"test": True, "validation_split": 0.0, "batch_size": 1000}

# Parameters and defaults of every plugin, as declared in Sources/RunnerKit/Plugins/*.swift
# (and of the spec's sections, Sources/RunnerKit/Spec/SpecSections.swift).
LAYER_PARAMETERS = {
    "conv": {"filters": REQUIRED, "kernel": REQUIRED, "stride": 1, "padding": 0, "bias": True, "algorithm": "im2col"},
    "pool": {"mode": FROM_MODEL, "size": 2, "stride": None, "padding": 0},
    "dense": {"units": REQUIRED, "bias": True, "inputs": None},
    "activation": {"function": FROM_MODEL},
    "flatten": {},
    "dropout": {"rate": 0.5},
}
ACTIVATION_PARAMETERS = {"relu": {}, "leaky_relu": {"slope": 0.01}, "sigmoid": {}, "tanh": {}, "elu": {"alpha": 1.0},
                         "identity": {}}
POOLING_PARAMETERS = {"max": {}, "avg": {}}
INITIALIZER_PARAMETERS = {"he_uniform": {}, "he_normal": {}, "xavier_uniform": {}, "xavier_normal": {}}
LOSS_PARAMETERS = {"softmax_cross_entropy": {}, "mse": {}}
OPTIMIZER_PARAMETERS = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "schedule": "constant"},
    "adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0,
             "schedule": "constant"},
}
SCHEDULE_PARAMETERS = {"constant": {}, "step": {"every_epochs": 1, "gamma": 0.1}, "cosine": {"minimum": 0.0}}
DATASET_PARAMETERS = {
    "idx": {"path": DEFAULT_IDX_PATH, "train_limit": None, "test_limit": None, "normalization": "scale"},
    "synthetic": {"train_size": 2000, "test_size": 500, "classes": 4, "size": 16, "noise": 0.15},
}
NORMALIZATIONS = ("none", "scale", "standardize")


class SpecProblem(Exception):
    """A spec this script cannot run, with the JSON path of the offending value."""

    def __init__(self, path, message):
        super().__init__(f"{path}: {message}" if path else message)


# MARK: - Spec: matrix, variants, plugins


def parse_dotted(key):
    """'model.layers[2].conv.filters' -> ['model', 'layers', 2, 'conv', 'filters']."""
    segments = []
    for part in key.split("."):
        match = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", part)
        if not match:
            raise SpecProblem(key, "not a dotted key such as model.pooling or model.layers[0].conv.filters")
        segments.append(match.group(1))
        segments.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return segments


def set_dotted(document, key, value):
    """Sets `key` in the spec as ConvLab's matrix does: objects are created on the way, and a
    plugin given by name ("sgd") becomes {"plugin": "sgd"} so that its parameters can be set."""
    segments = parse_dotted(key)
    if segments[0] not in TOP_LEVEL_KEYS - {"matrix", "name", "$schema"}:
        sections = ", ".join(sorted(TOP_LEVEL_KEYS - {"matrix", "name", "$schema"}))
        raise SpecProblem(key, f"does not start with a spec section ({sections})")
    node = document
    for position, segment in enumerate(segments[:-1]):
        following = segments[position + 1]
        if isinstance(segment, int):
            check_index(node, segment, key)
            child = node[segment]
        else:
            if not isinstance(node, dict):
                raise SpecProblem(key, f'"{segment}" cannot be set inside {type(node).__name__}')
            child = node.get(segment)
        if isinstance(child, str) and not isinstance(following, int):
            child = {"plugin": child}
        elif child is None:
            child = [] if isinstance(following, int) else {}
        node[segment] = child
        node = child
    last = segments[-1]
    if isinstance(last, int):
        check_index(node, last, key)
    elif not isinstance(node, dict):
        raise SpecProblem(key, f'"{last}" cannot be set inside {type(node).__name__}')
    node[last] = value


def check_index(node, index, key):
    if not isinstance(node, list):
        raise SpecProblem(key, f"[{index}] needs a list, found {type(node).__name__}")
    if index >= len(node):
        raise SpecProblem(key, f"index [{index}] is past the end of a list of {len(node)}")


def parse_variant(text):
    """--variant KEY=VALUE -> (key, value); the value is JSON when it parses (0.1, {"plugin": ...},
    "avg"), else the string itself (avg)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f'"{text}" is not KEY=VALUE, e.g. model.pooling=avg')
    key, value = text.split("=", 1)
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def apply_matrix(spec, variants, seed_override):
    """The one run to train: `variants` ((key, value) pairs) set their keys, the other matrix
    keys take their first value, `seed_override` (when not None) sets the seed.
    Returns the spec without its matrix and notes on what was chosen."""
    spec = copy.deepcopy(spec)
    matrix = spec.pop("matrix", None) or {}
    if not isinstance(matrix, dict):
        raise SpecProblem("matrix", "must be an object of dotted keys to lists")
    chosen = dict(variants)
    notes = []
    for key, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise SpecProblem(f"matrix.{key}", "must be a non-empty list of values")
        target = "seed" if key == "seeds" else key
        given = [k for k in (key, target) if k in chosen]
        if given:
            value = chosen.pop(given[0])
            chosen.pop(target, None)
            if value not in values:
                notes.append(f"{key}: {json.dumps(value)} is not one of the matrix's values {json.dumps(values)}")
        elif target == "seed" and seed_override is not None:
            continue
        else:
            value = values[0]
            notes.append(f"matrix: using {target}={json.dumps(value)} (the first value; "
                         f"choose another with --variant {target}=VALUE)")
        set_dotted(spec, target, value)
    for key, value in chosen.items():  # keys outside the matrix may be set too
        set_dotted(spec, key, value)
    if seed_override is not None:
        spec["seed"] = seed_override
    return spec, notes


def plugin_reference(value, path, table, kind):
    """'name' or {'plugin': 'name', ...} -> (name, parameters with defaults filled in)."""
    if isinstance(value, str):
        name, given = value, {}
    elif isinstance(value, dict) and isinstance(value.get("plugin"), str):
        name, given = value["plugin"], {k: v for k, v in value.items() if k != "plugin"}
    else:
        raise SpecProblem(path, f'must name a {kind}: "name" or {{"plugin": "name", ...}}')
    if name not in table:
        raise SpecProblem(path, f'unknown {kind} "{name}" (known: {", ".join(table)})')
    return name, fill_parameters(given, table[name], path)


def fill_parameters(given, declared, path):
    """`given` checked against the declared parameter names, with the defaults filled in
    (FROM_MODEL parameters left absent when not given)."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        accepted = ", ".join(declared) or "no parameters"
        raise SpecProblem(f"{path}.{unknown[0]}", f'unknown key "{unknown[0]}" ({path} accepts: {accepted})')
    result = {}
    for name, default in declared.items():
        if name in given:
            result[name] = given[name]
        elif default == REQUIRED:
            raise SpecProblem(f"{path}.{name}", "is required")
        elif default != FROM_MODEL:
            result[name] = default
    return result


def section(spec, key, defaults):
    value = spec.get(key, {})
    if not isinstance(value, dict):
        raise SpecProblem(key, "must be an object")
    return fill_parameters(value, defaults, key)


def pair(value, path, minimum=1):
    """A size: k or [kh, kw] -> (kh, kw)."""
    if isinstance(value, bool):
        raise SpecProblem(path, f"must be an integer or [h, w], got {json.dumps(value)}")
    if isinstance(value, (int, float)) and value == int(value):
        value = [int(value), int(value)]
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == int(v) for v in value)):
        h, w = int(value[0]), int(value[1])
        if min(h, w) < minimum:
            raise SpecProblem(path, f"must be at least {minimum}, got {json.dumps(value)}")
        return h, w
    raise SpecProblem(path, f"must be an integer or [h, w], got {json.dumps(value)}")


def resolve(spec):
    """Checks the spec and fills in every default: a dict of plain Python values."""
    if not isinstance(spec, dict):
        raise SpecProblem("", "a spec is a JSON object")
    unknown = sorted(set(spec) - TOP_LEVEL_KEYS)
    if unknown:
        raise SpecProblem(unknown[0], f'unknown key (a spec accepts: {", ".join(sorted(TOP_LEVEL_KEYS))})')
    if "model" not in spec:
        raise SpecProblem("model", "is required")
    model = section(spec, "model", MODEL_DEFAULTS)
    plan = {"name": spec.get("name", "spec"), "seed": spec.get("seed", 0)}
    if not isinstance(plan["seed"], int) or isinstance(plan["seed"], bool) or plan["seed"] < 0:
        raise SpecProblem("seed", "must be an integer >= 0")
    plan["dataset"] = plugin_reference(spec.get("dataset", "idx"), "dataset", DATASET_PARAMETERS, "dataset")
    if plan["dataset"][0] == "synthetic":
        raise SpecProblem("dataset", "the synthetic data set is ConvLab's own generator (strokes on noise from "
                                     "xoshiro256** streams) and is not reproduced here; use an idx data set")
    if plan["dataset"][1]["normalization"] not in NORMALIZATIONS:
        raise SpecProblem("dataset.normalization", f"must be one of {', '.join(NORMALIZATIONS)}")
    activation = plugin_reference(model["activation"], "model.activation", ACTIVATION_PARAMETERS, "activation")
    pooling = plugin_reference(model["pooling"], "model.pooling", POOLING_PARAMETERS, "pooling mode")
    plan["init"] = plugin_reference(model["init"], "model.init", INITIALIZER_PARAMETERS, "initializer")[0]
    plan["input"] = model["input"]
    if not isinstance(model["layers"], list) or not model["layers"]:
        raise SpecProblem("model.layers", "must be a non-empty list of { layer: { parameters } }")
    layers = []
    for index, entry in enumerate(model["layers"]):
        path = f"model.layers[{index}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise SpecProblem(path, 'must be an object with one key, the layer: { "conv": { ... } }')
        kind, given = next(iter(entry.items()))
        if kind not in LAYER_PARAMETERS:
            raise SpecProblem(f"{path}.{kind}", f'unknown layer (known: {", ".join(LAYER_PARAMETERS)})')
        if not isinstance(given, dict):
            raise SpecProblem(f"{path}.{kind}", "must be an object of parameters")
        parameters = fill_parameters(given, LAYER_PARAMETERS[kind], f"{path}.{kind}")
        if kind == "pool":
            parameters["mode"] = (plugin_reference(parameters["mode"], f"{path}.pool.mode", POOLING_PARAMETERS,
                                                   "pooling mode") if "mode" in parameters else pooling)
        if kind == "activation":
            parameters["function"] = (plugin_reference(parameters["function"], f"{path}.activation.function",
                                                       ACTIVATION_PARAMETERS, "activation")
                                      if "function" in parameters else activation)
        layers.append((kind, parameters, f"{path}.{kind}"))
    plan["layers"] = layers
    plan["loss"] = plugin_reference(spec.get("loss", "softmax_cross_entropy"), "loss", LOSS_PARAMETERS, "loss")[0]
    name, optimizer = plugin_reference(spec.get("optimizer", "sgd"), "optimizer", OPTIMIZER_PARAMETERS, "optimizer")
    optimizer["schedule"] = plugin_reference(optimizer["schedule"], "optimizer.schedule", SCHEDULE_PARAMETERS,
                                             "schedule")
    plan["optimizer"] = (name, optimizer)
    plan["training"] = section(spec, "training", TRAINING_DEFAULTS)
    plan["evaluation"] = section(spec, "evaluation", EVALUATION_DEFAULTS)
    for key in ("epochs", "batch_size"):
        if not isinstance(plan["training"][key], int) or plan["training"][key] < 1:
            raise SpecProblem(f"training.{key}", "must be an integer >= 1")
    if not 0 <= plan["evaluation"]["validation_split"] <= 0.9:
        raise SpecProblem("evaluation.validation_split", "must be a number in [0, 0.9]")
    return plan


# MARK: - Data


def read_idx(directory, name):
    """An IDX file of unsigned bytes, raw or gzip (`name`, else `name.gz`), as a numpy array."""
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        path += ".gz"
    if not os.path.exists(path):
        raise SpecProblem("dataset.path", f"{path}: no such file (apt-get install dataset-fashion-mnist, "
                                          "or set dataset.path to a folder of IDX files)")
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise SpecProblem("dataset.path", f"{path}: not an IDX file of unsigned bytes")
    rank = data[3]
    shape = [int.from_bytes(data[4 + 4 * d:8 + 4 * d], "big") for d in range(rank)]
    count = math.prod(shape)
    if len(data) < 4 + 4 * rank + count:
        raise SpecProblem("dataset.path", f"{path}: truncated: the header promises {count} bytes of data")
    return np.frombuffer(data, np.uint8, count=count, offset=4 + 4 * rank).reshape(shape)


def load_idx(parameters):
    """(train_x, train_y, test_x, test_y, classes), normalised as ConvLab's Normalization does:
    x*(1/255) in float32, then (x - mu)*(1/sigma) with mu and sigma (population) of the training
    images, computed in float64 and applied in float32."""
    directory = parameters["path"]
    if not os.path.isdir(directory):
        raise SpecProblem("dataset.path", f"{directory}: no such folder (apt-get install dataset-fashion-mnist)")
    halves = []
    classes = 0
    for prefix, limit in (("train", parameters["train_limit"]), ("t10k", parameters["test_limit"])):
        images = read_idx(directory, f"{prefix}-images-idx3-ubyte")
        labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte")
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise SpecProblem("dataset.path", f"{directory}: {prefix} images and labels do not match")
        classes = max(classes, int(labels.max()) + 1)  # over the whole file, as ConvLab counts them
        count = len(labels) if limit is None else min(len(labels), int(limit))
        halves.append((images[:count, None, :, :].astype(np.float32), labels[:count].astype(np.int64)))
    (train_x, train_y), (test_x, test_y) = halves
    normalization = parameters["normalization"]
    if normalization != "none":
        inverse = np.float32(1) / np.float32(255)
        train_x *= inverse
        test_x *= inverse
    if normalization == "standardize" and train_x.size:
        wide = train_x.astype(np.float64)
        mean = wide.mean()
        variance = ((wide - mean) ** 2).mean()
        mu, inverse_sigma = np.float32(mean), np.float32(1 / max(math.sqrt(variance), 1e-12))
        train_x = (train_x - mu) * inverse_sigma
        test_x = (test_x - mu) * inverse_sigma
    return train_x, train_y, test_x, test_y, classes


def split_validation(x, y, fraction, seed):
    """The last round(n*fraction) of a seeded permutation is held out; both parts keep file order."""
    count = math.floor(len(y) * fraction + 0.5)  # Swift's .rounded(): halves away from zero
    if count == 0:
        return x, y, None, None
    order = np.random.default_rng([seed, 0x7A11D]).permutation(len(y))
    keep, held = np.sort(order[:len(y) - count]), np.sort(order[len(y) - count:])
    return x[keep], y[keep], x[held], y[held]


# MARK: - Network


class LayerProblem(Exception):
    """A layer that cannot take its input shape; build_network adds where it is."""


def dims(values):
    return "×".join(map(str, values))


def conv_layer(p, path, shape, initializer):
    """nn.Conv2d with ConvLab's padding rules ("same": k//2 on each side, odd kernels only)."""
    if len(shape) != 3:
        raise LayerProblem("needs a (channels, height, width) input; move it before `flatten`")
    channels, height, width = shape
    kh, kw = pair(p["kernel"], f"{path}.kernel")
    sh, sw = pair(p["stride"], f"{path}.stride")
    if p["padding"] == "same":
        if kh % 2 == 0 or kw % 2 == 0:
            raise LayerProblem(f'padding "same" needs an odd kernel, got {kh}×{kw}')
        ph, pw = kh // 2, kw // 2
    elif p["padding"] == "valid":
        ph, pw = 0, 0
    else:
        ph, pw = pair(p["padding"], f"{path}.padding", minimum=0)
    if kh > height + 2 * ph or kw > width + 2 * pw:
        raise LayerProblem(f"kernel {kh}×{kw} is larger than its padded input {height + 2 * ph}×{width + 2 * pw}")
    if p["algorithm"] not in ("im2col", "reference"):  # both compute the same convolution
        raise SpecProblem(f"{path}.algorithm", 'must be "im2col" or "reference"')
    filters = p["filters"]
    if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
        raise SpecProblem(f"{path}.filters", "must be an integer >= 1")
    module = nn.Conv2d(channels, filters, (kh, kw), stride=(sh, sw), padding=(ph, pw), bias=bool(p["bias"]))
    init_weight(module.weight, initializer, fan_in=channels * kh * kw, fan_out=filters * kh * kw)
    output = (filters, (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1)
    return module, output, f"{filters} filters {kh}×{kw}, stride {sh}×{sw}, pad {ph}×{pw}"


def pool_layer(p, path, shape):
    """Max pooling (padding never wins) or average pooling over the cells inside the input."""
    if len(shape) != 3:
        raise LayerProblem("needs a (channels, height, width) input; move it before `flatten`")
    channels, height, width = shape
    kh, kw = pair(p["size"], f"{path}.size")
    sh, sw = (kh, kw) if p["stride"] is None else pair(p["stride"], f"{path}.stride")
    ph, pw = pair(p["padding"], f"{path}.padding", minimum=0)
    if 2 * ph > kh or 2 * pw > kw:
        raise LayerProblem(f"padding {ph}×{pw} must be at most half the window {kh}×{kw}")
    if kh > height + 2 * ph or kw > width + 2 * pw:
        raise LayerProblem(f"pooling window {kh}×{kw} does not fit its padded input "
                           f"{height + 2 * ph}×{width + 2 * pw}")
    mode = p["mode"][0]
    if mode == "max":
        module = nn.MaxPool2d((kh, kw), stride=(sh, sw), padding=(ph, pw))  # pads with -inf
    else:
        # ConvLab divides by |window ∩ input|: padded cells are not counted.
        module = nn.AvgPool2d((kh, kw), stride=(sh, sw), padding=(ph, pw), count_include_pad=False)
    output = (channels, (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1)
    return module, output, f"{mode} {kh}×{kw}, stride {sh}×{sw}, pad {ph}×{pw}"


def dense_layer(p, path, shape, initializer):
    """nn.Linear: weight (out, in), the layout of ConvLab's Dense."""
    if len(shape) != 1:
        raise LayerProblem("needs a flat input; add a `flatten` layer before it")
    inputs, units = shape[0], p["units"]
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise SpecProblem(f"{path}.units", "must be an integer >= 1")
    if p["inputs"] is not None and p["inputs"] != inputs:
        raise LayerProblem(f"declares {p['inputs']} inputs but receives {inputs}; "
                           f"remove `inputs` or set it to {inputs}")
    module = nn.Linear(inputs, units, bias=bool(p["bias"]))
    init_weight(module.weight, initializer, fan_in=inputs, fan_out=units)
    return module, (units,), f"{units} units"


def activation_layer(function, path, shape):
    """relu, leaky_relu(slope), sigmoid, tanh, elu(alpha), identity: the same functions."""
    name, parameters = function
    if name == "leaky_relu":
        slope = float(parameters["slope"])
        return nn.LeakyReLU(negative_slope=slope), shape, f"leaky_relu(slope={parameters['slope']})"
    if name == "elu":
        return nn.ELU(alpha=float(parameters["alpha"])), shape, f"elu(alpha={parameters['alpha']})"
    modules = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}
    if name not in modules:
        raise SpecProblem(path, f"unsupported activation {name}")
    return modules[name](), shape, name


def dropout_layer(p, path, shape):
    """Inverted dropout, the identity in eval(), as ConvLab's."""
    rate = p["rate"]
    if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise SpecProblem(f"{path}.rate", f"must be a number in [0, 1), got {json.dumps(rate)}")
    return nn.Dropout(float(rate)), shape, f"p = {rate}"


def build_network(plan, input_shape):
    """An nn.Sequential of the spec's layers (module i is model.layers[i]) and its summary rows
    (index, kind, configuration, output shape, parameters). Shapes are checked layer by layer;
    a layer that cannot fit is reported at its JSON path. Weights are initialised as ConvLab's,
    biases are zero."""
    shape = tuple(input_shape)
    modules, kinds, rows = [], [], []
    for index, (kind, p, path) in enumerate(plan["layers"]):
        try:
            if kind == "conv":
                module, output, detail = conv_layer(p, path, shape, plan["init"])
            elif kind == "pool":
                module, output, detail = pool_layer(p, path, shape)
            elif kind == "dense":
                module, output, detail = dense_layer(p, path, shape, plan["init"])
            elif kind == "activation":
                module, output, detail = activation_layer(p["function"], path, shape)
            elif kind == "flatten":  # (C, H, W) row-major, as ConvLab's buffers are laid out
                module, output, detail = nn.Flatten(), (math.prod(shape),), ""
            elif kind == "dropout":
                module, output, detail = dropout_layer(p, path, shape)
            else:
                raise SpecProblem(path, f"unsupported layer {kind}")
        except LayerProblem as problem:
            raise SpecProblem(path, f"layer {index} ({kind}) with input {dims(shape)}: {problem}") from None
        if getattr(module, "bias", None) is not None:
            with torch.no_grad():
                module.bias.zero_()
        modules.append(module)
        kinds.append(kind)
        rows.append((index, kind, detail, output, sum(t.numel() for t in module.parameters())))
        shape = output
    net = nn.Sequential(*modules)
    net.kinds = kinds  # layer names, for ConvLab's tensor names
    return net, rows


def init_weight(weight, initializer, fan_in, fan_out):
    """ConvLab's initialisers (Sources/ConvCore/Core/Initializer.swift)."""
    with torch.no_grad():
        if initializer == "he_uniform":
            limit = math.sqrt(6 / fan_in)
            weight.uniform_(-limit, limit)
        elif initializer == "xavier_uniform":
            limit = math.sqrt(6 / (fan_in + fan_out))
            weight.uniform_(-limit, limit)
        elif initializer == "he_normal":
            weight.normal_(0, math.sqrt(2 / fan_in))
        elif initializer == "xavier_normal":
            weight.normal_(0, math.sqrt(2 / (fan_in + fan_out)))
        else:
            raise SpecProblem("model.init", f"unsupported initializer {initializer}")


def convlab_tensors(net):
    """name -> (module parameter) in ConvLab's naming: layers.<i>.<kind>.weight / .bias."""
    named = {}
    for index, (kind, module) in enumerate(zip(net.kinds, net)):
        for tensor, parameter in module.named_parameters(recurse=False):
            named[f"layers.{index}.{kind}.{tensor}"] = parameter
    return named


def load_convlab_weights(net, tensors, source):
    """Copies ConvLab-named tensors into the network, checking names and shapes."""
    expected = convlab_tensors(net)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise SpecProblem("", f"{source}: tensors do not match the spec's network"
                              + (f"; missing {', '.join(missing)}" if missing else "")
                              + (f"; not in the network {', '.join(extra)}" if extra else ""))
    with torch.no_grad():
        for name, parameter in expected.items():
            value = torch.as_tensor(np.asarray(tensors[name]))
            if tuple(value.shape) != tuple(parameter.shape):
                layout = (" (dense weights are (out, in), as ConvLab's Dense stores them)"
                          if ".dense.weight" in name else "")
                raise SpecProblem("", f"{source}: {name} has shape {tuple(value.shape)}, the network expects "
                                      f"{tuple(parameter.shape)}{layout}")
            parameter.copy_(value.to(torch.float32))


# MARK: - Loss, optimizer, schedule


def per_sample_loss(loss, output, labels):
    """Each sample's loss (ConvLab's Losses): cross-entropy of the softmax, or
    mse = (1/K) Σ_k (z_k − onehot(y)_k)²."""
    if loss == "softmax_cross_entropy":
        return F.cross_entropy(output, labels, reduction="none")
    target = F.one_hot(labels, output.shape[1]).to(output.dtype)
    return ((output - target) ** 2).mean(dim=1)


def make_optimizer(plan, parameters):
    """torch.optim configured to compute ConvLab's update (Sources/ConvCore/Optimizers)."""
    name, p = plan["optimizer"]
    if name == "sgd":
        # torch: d = g + λw; buf = μ·buf + d (dampening 0; the first buf = d = μ·0 + d);
        # w -= η·buf, or η·(d + μ·buf) with Nesterov -- ConvLab's SGDKernel exactly.
        momentum = float(p["momentum"])
        return torch.optim.SGD(parameters, lr=float(p["learning_rate"]), momentum=momentum, dampening=0,
                               nesterov=bool(p["nesterov"]) and momentum > 0, weight_decay=float(p["weight_decay"]))
    # torch Adam (not AdamW): L2 added to the gradient, bias-corrected moments, ε outside the
    # square root of v̂ -- ConvLab's AdamKernel.
    return torch.optim.Adam(parameters, lr=float(p["learning_rate"]), betas=(float(p["beta1"]), float(p["beta2"])),
                            eps=float(p["epsilon"]), weight_decay=float(p["weight_decay"]))


def learning_rate(plan, step, total_steps, epoch):
    """ConvLab's LearningRateSchedule.rate: `step` counts from 0, `epoch` from 0."""
    base = float(plan["optimizer"][1]["learning_rate"])
    name, p = plan["optimizer"][1]["schedule"]
    if name == "step":
        return base * float(p["gamma"]) ** (epoch // max(int(p["every_epochs"]), 1))
    if name == "cosine":
        minimum = float(p["minimum"])
        progress = min(step / max(total_steps, 1), 1.0)
        return minimum + (base - minimum) * (1 + math.cos(math.pi * progress)) / 2
    return base


# MARK: - Training and evaluation


def evaluate(net, loss, x, y, batch_size):
    """(mean loss, accuracy) over a data set, in evaluation mode."""
    net.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(y), batch_size):
            output = net(x[start:start + batch_size])
            labels = y[start:start + batch_size]
            total += per_sample_loss(loss, output, labels).double().sum().item()
            correct += (output.argmax(dim=1) == labels).sum().item()  # first maximum, as ConvLab's
    net.train()
    return total / len(y), correct / len(y)


def train_step(net, optimizer, loss, images, labels, rate):
    """One step on the batch's mean loss; returns each sample's loss and the outputs."""
    for group in optimizer.param_groups:
        group["lr"] = rate
    optimizer.zero_grad(set_to_none=True)
    output = net(images)
    losses = per_sample_loss(loss, output, labels)
    losses.mean().backward()
    optimizer.step()
    return losses.detach(), output.detach()


def batches(count, batch_size, shuffle, rng):
    """One epoch's batches of sample indices; the last may be smaller."""
    order = rng.permutation(count) if shuffle else np.arange(count)
    return [torch.from_numpy(order[i:i + batch_size]) for i in range(0, count, batch_size)]


def speed_run(plan, net, train_x, train_y, emit, epochs, steps):
    """WARMUP_STEPS untimed steps, then `steps` timed ones (epochs repeat as needed); prints
    images/s of forward + backward + optimizer step, batches gathered before the clock starts."""
    batch_size, loss = plan["training"]["batch_size"], plan["loss"]
    optimizer = make_optimizer(plan, net.parameters())
    rng = np.random.default_rng(plan["seed"])
    total_steps = math.ceil(len(train_y) / batch_size) * epochs
    net.train()
    step, epoch, seconds, images, loss_sum = 0, 0, 0.0, 0, 0.0
    while step < WARMUP_STEPS + steps:
        for indices in batches(len(train_y), batch_size, plan["training"]["shuffle"], rng):
            if step >= WARMUP_STEPS + steps:
                break
            x, y = train_x[indices], train_y[indices]
            rate = learning_rate(plan, step, total_steps, epoch)
            start = time.perf_counter()
            losses, _ = train_step(net, optimizer, loss, x, y, rate)
            elapsed = time.perf_counter() - start
            if step >= WARMUP_STEPS:
                seconds += elapsed
                images += len(y)
                loss_sum += losses.double().sum().item()
            step += 1
        epoch += 1
    emit("speed", f"{steps} steps of batch {batch_size} after {WARMUP_STEPS} warm-up steps: "
                  f"{images / seconds:.0f} images/s ({seconds:.2f} s), train loss {loss_sum / images:.4f}",
         steps=steps, warmup_steps=WARMUP_STEPS, batch_size=batch_size, images=images, seconds=seconds,
         images_per_second=images / seconds, train_loss=loss_sum / images)


def train_epochs(plan, net, data, emit, epochs):
    """Trains `epochs` epochs; after each, evaluates and prints the epoch's metrics. The speed
    counts forward + backward + optimizer step only, as ConvLab's images_per_second does."""
    train_x, train_y, test_x, test_y, val_x, val_y = data
    training, evaluation = plan["training"], plan["evaluation"]
    batch_size, loss = training["batch_size"], plan["loss"]
    optimizer = make_optimizer(plan, net.parameters())
    rng = np.random.default_rng(plan["seed"])
    total_steps = math.ceil(len(train_y) / batch_size) * epochs
    net.train()
    step = 0
    for epoch in range(epochs):
        seconds, loss_sum, correct, images = 0.0, 0.0, 0, 0
        for indices in batches(len(train_y), batch_size, training["shuffle"], rng):
            x, y = train_x[indices], train_y[indices]
            rate = learning_rate(plan, step, total_steps, epoch)
            start = time.perf_counter()
            losses, output = train_step(net, optimizer, loss, x, y, rate)
            seconds += time.perf_counter() - start
            step += 1
            batch_loss = losses.double().sum().item()
            if not math.isfinite(batch_loss):
                raise SystemExit(f"the training loss became {batch_loss} at step {step} (epoch {epoch + 1}); "
                                 "lower optimizer.learning_rate")
            loss_sum += batch_loss
            correct += (output.argmax(dim=1) == y).sum().item()
            images += len(y)
        metrics = {"epoch": epoch + 1, "steps": step, "learning_rate": rate, "train_loss": loss_sum / images,
                   "train_accuracy": correct / images, "images_per_second": images / seconds,
                   "training_seconds": seconds}
        if val_y is not None:
            metrics["validation_loss"], metrics["validation_accuracy"] = evaluate(
                net, loss, val_x, val_y, evaluation["batch_size"])
        if evaluation["test"]:
            metrics["test_loss"], metrics["test_accuracy"] = evaluate(
                net, loss, test_x, test_y, evaluation["batch_size"])
        parts = [f"epoch {epoch + 1}/{epochs}: train loss {metrics['train_loss']:.4f}"]
        if val_y is not None:
            parts.append(f"validation loss {metrics['validation_loss']:.4f} acc {metrics['validation_accuracy']:.4f}")
        if evaluation["test"]:
            parts.append(f"test loss {metrics['test_loss']:.4f} acc {metrics['test_accuracy']:.4f}")
        parts.append(f"{metrics['images_per_second']:.0f} images/s")
        emit("epoch", ", ".join(parts), **metrics)


# MARK: - Command line


def cpu_model():
    """The CPU's model name from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


class Output:
    """Prints events: the text for people, or with --json one JSON object per line."""

    def __init__(self, as_json):
        self.as_json = as_json

    def __call__(self, event, text, **fields):
        if self.as_json:
            print(json.dumps({"event": event, **fields}), flush=True)
        else:
            print(text, flush=True)


def read_weights(path):
    """(tensors as numpy arrays, metadata dict) of a safetensors file."""
    try:
        from safetensors import safe_open  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise SystemExit("--evaluate and --save need safetensors: pip install safetensors") from None
    try:
        with safe_open(path, framework="np") as handle:
            return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata() or {}
    except (OSError, ValueError, RuntimeError) as error:
        raise SystemExit(f"{path}: cannot be read as safetensors ({error})") from None


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="Train (or evaluate) the network of a ConvLab experiment spec in PyTorch, eager, on the CPU, "
                    "with ConvLab's recipe: initialisers, loss, optimizer, schedule, data normalisation.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", metavar="SPEC.json",
                        help="ConvLab experiment spec (optional with --evaluate when the weights carry a `spec`)")
    parser.add_argument("--variant", action="append", default=[], metavar="K=V", type=parse_variant,
                        help="set a dotted key, e.g. model.pooling=avg or 'model.layers[0].conv.filters=12'; "
                             "VALUE is JSON when it parses. Matrix keys not given take their first value")
    parser.add_argument("--epochs", type=int, help="epochs to train (default: training.epochs)")
    parser.add_argument("--steps", type=int, metavar="N",
                        help=f"speed run: {WARMUP_STEPS} untimed warm-up steps, then N timed steps; no evaluation")
    parser.add_argument("--threads", type=int, metavar="T",
                        help="torch.set_num_threads(T) and set_num_interop_threads(1) (default: torch's choice)")
    parser.add_argument("--seed", type=int, help="seed of weights, shuffles and dropout (default: the spec's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--evaluate", metavar="WEIGHTS.safetensors",
                        help="load ConvLab-exported weights, evaluate the test set, do not train")
    parser.add_argument("--save", metavar="WEIGHTS.safetensors",
                        help="after training, write the weights in ConvLab's naming, with the spec as metadata")
    args = parser.parse_args(argv)
    if args.spec is None and args.evaluate is None:
        parser.error("give a SPEC.json (or --evaluate WEIGHTS.safetensors whose metadata holds a spec)")
    for name in ("epochs", "steps", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.seed is not None and args.seed < 0:
        parser.error("--seed must be at least 0")
    if args.evaluate and (args.steps or args.save):
        parser.error("--evaluate does not train: it cannot be combined with --steps or --save")
    return args


def set_threads(threads):
    """Intra-op threads T and one inter-op thread; before any parallel work."""
    if threads is not None:
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)


def load_spec_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise SystemExit(f"{path}: cannot be read ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}:{error.lineno}:{error.colno}: JSON syntax error: {error.msg}") from None


def choose_spec(args):
    """(the spec document, where it came from, the weights to evaluate or None)."""
    weights, metadata = (None, {}) if args.evaluate is None else read_weights(args.evaluate)
    if args.spec is not None:
        return load_spec_file(args.spec), args.spec, weights
    if "spec" not in metadata:
        raise SystemExit(f"{args.evaluate}: its metadata has no `spec`; give the SPEC.json it was trained from")
    try:
        return json.loads(metadata["spec"]), f"{args.evaluate} (metadata spec)", weights
    except json.JSONDecodeError as error:
        raise SystemExit(f"{args.evaluate}: metadata `spec` is not JSON ({error.msg})") from None


def prepare(document, args):
    """Resolves the run, loads its data and builds its network: (spec as run, notes, plan,
    (train_x, train_y, test_x, test_y) as tensors, network, summary rows)."""
    spec, notes = apply_matrix(document, args.variant, args.seed)
    plan = resolve(spec)
    torch.manual_seed(plan["seed"])  # weights (in build order) and dropout masks
    train_x, train_y, test_x, test_y, classes = load_idx(plan["dataset"][1])
    sample_shape = train_x.shape[1:]
    if plan["input"] is not None and list(plan["input"]) != list(sample_shape):
        raise SpecProblem("model.input", f"is {plan['input']} but the data set's images are {list(sample_shape)}")
    net, rows = build_network(plan, sample_shape)
    if rows[-1][3] != (classes,):
        raise SpecProblem(plan["layers"][-1][2], f"the network ends with {math.prod(rows[-1][3])} outputs but "
                                                 f"the data set has {classes} classes")
    data = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in (train_x, train_y, test_x, test_y))
    return spec, notes, plan, data, net, rows


def main(argv=None):
    args = parse_arguments(argv)
    set_threads(args.threads)
    emit = Output(args.json)
    document, source, weights = choose_spec(args)
    try:
        spec, notes, plan, (train_x, train_y, test_x, test_y), net, rows = prepare(document, args)
    except SpecProblem as problem:
        raise SystemExit(f"{source}: {problem}") from None

    threads, load = torch.get_num_threads(), os.getloadavg()[0]
    emit("start", f"{cpu_model()}, {os.cpu_count()} CPUs (load {load:.2f}); torch {torch.__version__}, "
                  f"{threads} threads; {source}, seed {plan['seed']}",
         cpu=cpu_model(), cpus=os.cpu_count(), load_average=load, torch=torch.__version__, threads=threads,
         interop_threads=torch.get_num_interop_threads(), spec=source, seed=plan["seed"])
    for note in notes:
        emit("note", note, message=note)
    emit_summary(emit, rows)

    if weights is not None:
        try:
            load_convlab_weights(net, weights, args.evaluate)
        except SpecProblem as problem:
            raise SystemExit(str(problem)) from None
        test_loss, test_accuracy = evaluate(net, plan["loss"], test_x, test_y, plan["evaluation"]["batch_size"])
        emit("evaluate", f"{args.evaluate}: test loss {test_loss:.6f}, test accuracy {test_accuracy:.6f} "
                         f"({len(test_y)} images)",
             weights=args.evaluate, test_loss=test_loss, test_accuracy=test_accuracy, images=len(test_y))
        return

    val_x = val_y = None
    if plan["evaluation"]["validation_split"] > 0:
        tx, ty, vx, vy = split_validation(train_x.numpy(), train_y.numpy(), plan["evaluation"]["validation_split"],
                                          plan["seed"])
        train_x, train_y = torch.from_numpy(tx), torch.from_numpy(ty)
        if vy is not None:
            val_x, val_y = torch.from_numpy(vx), torch.from_numpy(vy)
    epochs = args.epochs or plan["training"]["epochs"]
    name, optimizer = plan["optimizer"]
    emit("recipe", f"{len(train_y)} training images ({plan['dataset'][1]['normalization']}), "
                   f"{'' if val_y is None else f'{len(val_y)} validation, '}{len(test_y)} test; "
                   f"{plan['loss']}, {name} η = {optimizer['learning_rate']} ({optimizer['schedule'][0]}), "
                   f"batch {plan['training']['batch_size']}, {epochs} epochs, init {plan['init']}",
         train_images=len(train_y), validation_images=0 if val_y is None else len(val_y), test_images=len(test_y),
         loss=plan["loss"], optimizer=name,
         optimizer_parameters={k: v for k, v in optimizer.items() if k != "schedule"},
         schedule=optimizer["schedule"][0], batch_size=plan["training"]["batch_size"], epochs=epochs, init=plan["init"])
    if args.steps is not None:
        speed_run(plan, net, train_x, train_y, emit, epochs, args.steps)
    else:
        train_epochs(plan, net, (train_x, train_y, test_x, test_y, val_x, val_y), emit, epochs)
    if args.save:
        save_weights(net, spec, args.save)
        emit("saved", f"weights written to {args.save}", path=args.save)


def emit_summary(emit, rows):
    """Per-layer output shape and parameter count, laid out like `runner exec --dry-run`."""
    total = sum(row[4] for row in rows)
    if emit.as_json:
        emit("network", "", layers=[{"index": i, "kind": k, "configuration": d, "output": list(s), "parameters": n}
                                    for i, k, d, s, n in rows], parameters=total)
        return
    lines = [f"{'#':>2}  {'layer':<10}  {'configuration':<35}  {'output':<8}  {'params':>6}"]
    for index, kind, detail, shape, count in rows:
        lines.append(f"{index:>2}  {kind:<10}  {detail:<35}  {dims(shape):<8}  {count or '':>6}")
    lines.append(f"{'':>2}  {'total':<10}  {'':<35}  {'':<8}  {total:>6}")
    emit("network", "\n".join(lines))


def save_weights(net, spec, path):
    """The weights in ConvLab's naming and layout, with the spec as run in the metadata."""
    try:
        from safetensors.numpy import save_file  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise SystemExit("--save needs safetensors: pip install safetensors") from None
    tensors = {name: parameter.detach().numpy().copy() for name, parameter in convlab_tensors(net).items()}
    save_file(tensors, path, metadata={"spec": json.dumps(spec)})


if __name__ == "__main__":
    sys.exit(main())
