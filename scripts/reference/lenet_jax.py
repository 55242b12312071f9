#!/usr/bin/env python3
"""The LeNet-5 recipe of Experiments/lenet.json in JAX, for comparison with ConvLab's engine.

Same network (conv 6@5x5 pad 2, ReLU, max 2x2, conv 16@5x5, ReLU, max 2x2, dense 120-84-10),
plain SGD with learning rate 0.05, batch 64, He-uniform weights, zero biases, 5 epochs on
Debian's Fashion-MNIST. Prints the test accuracy and the training speed after every epoch.

    pip install jax                      # CPU wheels from PyPI
    python3 scripts/reference/lenet_jax.py --seed 1 --normalization standardize

Not part of the tests: it needs JAX, and it takes a few minutes.
"""
import argparse
import gzip
import time

import jax
import jax.numpy as jnp
import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def load(name):
    with gzip.open(f"{DATA}/{name}.gz") as f:
        data = f.read()
    if "labels" in name:
        return np.frombuffer(data, np.uint8, offset=8).astype(np.int32)
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--normalization", choices=["scale", "standardize"], default="standardize")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    x_train, y_train = load("train-images-idx3-ubyte") / 255, load("train-labels-idx1-ubyte")
    x_test, y_test = load("t10k-images-idx3-ubyte") / 255, load("t10k-labels-idx1-ubyte")
    if args.normalization == "standardize":
        mean, std = x_train.mean(), x_train.std()
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    rng = np.random.default_rng(args.seed)

    def he_uniform(shape, fan_in):
        limit = np.sqrt(6 / fan_in)
        return jnp.asarray(rng.uniform(-limit, limit, shape).astype(np.float32))

    params = [he_uniform((6, 1, 5, 5), 25), jnp.zeros(6), he_uniform((16, 6, 5, 5), 150), jnp.zeros(16),
              he_uniform((400, 120), 400), jnp.zeros(120), he_uniform((120, 84), 120), jnp.zeros(84),
              he_uniform((84, 10), 84), jnp.zeros(10)]

    def conv(x, w, b, pad):
        return jax.lax.conv_general_dilated(x, w, (1, 1), [(pad, pad), (pad, pad)]) + b[None, :, None, None]

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def forward(p, x):
        x = pool(jax.nn.relu(conv(x, p[0], p[1], 2)))
        x = pool(jax.nn.relu(conv(x, p[2], p[3], 0)))
        x = x.reshape(x.shape[0], -1)
        x = jax.nn.relu(x @ p[4] + p[5])
        x = jax.nn.relu(x @ p[6] + p[7])
        return x @ p[8] + p[9]

    def loss(p, x, y):
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(forward(p, x)), y[:, None], 1))

    @jax.jit
    def step(p, x, y):
        return [w - 0.05 * g for w, g in zip(p, jax.grad(loss)(p, x, y))]

    @jax.jit
    def correct(p, x, y):
        return jnp.sum(jnp.argmax(forward(p, x), 1) == y)

    images, training_seconds = 0, 0.0
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        start = time.perf_counter()
        for i in range(0, len(order), 64):
            batch = order[i:i + 64]
            params = step(params, x_train[batch], y_train[batch])
            images += len(batch)
        jax.block_until_ready(params)
        training_seconds += time.perf_counter() - start
        hits = sum(int(correct(params, x_test[i:i + 1000], y_test[i:i + 1000])) for i in range(0, len(x_test), 1000))
        print(f"seed {args.seed} {args.normalization} epoch {epoch}: test accuracy {hits / len(x_test):.4f}, "
              f"{images / training_seconds:.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
