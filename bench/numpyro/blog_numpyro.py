#!/usr/bin/env python3
"""The blog's NumPyro run, as a reference point for bnn: NUTS over a Flax-style 1->5->10->1 softplus MLP with
N(0,1) priors on every weight, sigma ~ LogNormal(0,1) sampled as log sigma, a hand-written potential energy, and
each chain started from a prior draw.

Usage: blog_numpyro.py DATA.csv OUT_PREFIX [--platform cpu|gpu] [--chains 4] [--warmup 1000] [--draws 1000]
Writes OUT_PREFIX.json (wall times, gradient evaluations) and OUT_PREFIX.draws.csv, a long CSV
(chain, draw, lp__, sigma, mu[0..N-1]) that `bnn summary` reads, so both tools' ESS come from one implementation.
"""
import argparse
import csv
import json
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--platform", default="cpu")
parser.add_argument("--chains", type=int, default=4)
parser.add_argument("--warmup", type=int, default=1000)
parser.add_argument("--draws", type=int, default=1000)
parser.add_argument("--seed", type=int, default=2021)
args = parser.parse_args()

if args.platform == "cpu":
    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={args.chains}")
os.environ["JAX_PLATFORMS"] = args.platform if args.platform != "gpu" else "cuda"
os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

jax.config.update("jax_enable_x64", True)

rows = list(csv.DictReader(open(args.data)))
x = jnp.array([float(r["x"]) for r in rows])[:, None]
y = jnp.array([float(r["y"]) for r in rows])

sizes = [(1, 5), (5, 10), (10, 1)]


def mlp(params, inputs):
    h = inputs
    for i, _ in enumerate(sizes):
        h = h @ params[f"Dense_{i}"]["kernel"] + params[f"Dense_{i}"]["bias"]
        if i < len(sizes) - 1:
            h = jax.nn.softplus(h)
    return h[:, 0]


def log_normal_std(v):
    return jnp.sum(-0.5 * v ** 2 - 0.5 * jnp.log(2 * jnp.pi))


def potential(z):
    """U(z) = -log p(z | data), z = {params, log_sigma}; LogNormal(0,1) prior on sigma with the log Jacobian."""
    params, u = z["params"], z["log_sigma"]
    lp = sum(log_normal_std(leaf) for leaf in jax.tree_util.tree_leaves(params))
    lp = lp + (-0.5 * u ** 2 - 0.5 * jnp.log(2 * jnp.pi))  # log N(u; 0, 1) = LogNormal density + Jacobian
    mu = mlp(params, x)
    sigma = jnp.exp(u)
    lp = lp + jnp.sum(-0.5 * ((y - mu) / sigma) ** 2 - u - 0.5 * jnp.log(2 * jnp.pi))
    return -lp


def prior_draw(key):
    keys = jax.random.split(key, 2 * len(sizes) + 1)
    params = {}
    for i, (fan_in, fan_out) in enumerate(sizes):
        params[f"Dense_{i}"] = {
            "kernel": jax.random.normal(keys[2 * i], (fan_in, fan_out)),
            "bias": jax.random.normal(keys[2 * i + 1], (fan_out,)),
        }
    return {"params": params, "log_sigma": jax.random.normal(keys[-1], ())}


key = jax.random.PRNGKey(args.seed)
init_keys = jax.random.split(key, args.chains + 1)
inits = jax.vmap(prior_draw)(init_keys[1:])
chain_method = "parallel" if args.platform == "cpu" else "vectorized"
kernel = NUTS(potential_fn=potential, target_accept_prob=0.8, max_tree_depth=10)
mcmc = MCMC(kernel, num_warmup=args.warmup, num_samples=args.draws, num_chains=args.chains,
            chain_method=chain_method, progress_bar=False)
t0 = time.perf_counter()
mcmc.run(init_keys[0], init_params=inits, extra_fields=("num_steps", "potential_energy", "diverging"))
jax.block_until_ready(mcmc.get_samples())
wall = time.perf_counter() - t0

samples = mcmc.get_samples(group_by_chain=True)
extra = mcmc.get_extra_fields(group_by_chain=True)
steps = np.asarray(extra["num_steps"])
mu = np.asarray(jax.vmap(jax.vmap(lambda p: mlp(p, x)))(samples["params"]))
sigma = np.exp(np.asarray(samples["log_sigma"]))
lp = -np.asarray(extra["potential_energy"])

with open(args.out + ".draws.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["chain", "draw", "lp__", "sigma"] + [f"mu[{i}]" for i in range(mu.shape[-1])])
    for c in range(mu.shape[0]):
        for d in range(mu.shape[1]):
            w.writerow([c, d, repr(float(lp[c, d])), repr(float(sigma[c, d]))] + [repr(float(v)) for v in mu[c, d]])

result = {
    "engine": "numpyro", "numpyro": numpyro.__version__, "jax": jax.__version__,
    "platform": args.platform, "device": str(jax.devices()[0]), "chain_method": chain_method,
    "chains": args.chains, "warmup": args.warmup, "draws": args.draws,
    "wall_seconds_incl_compile": wall,
    "sampling_leapfrogs": int(steps.sum()), "divergences": int(np.asarray(extra["diverging"]).sum()),
    "mean_tree_steps": float(steps.mean()), "sigma_mean": float(sigma.mean()),
}
json.dump(result, open(args.out + ".json", "w"), indent=1)
print(json.dumps(result))
