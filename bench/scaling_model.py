"""The alpha-beta scaling model of docs/distributed.md, as a table.

    python bench/scaling_model.py

Time of one allreduce of n bytes over N nodes (alpha: per-message latency, beta:
seconds per byte of the link, gamma: seconds per byte of reduction arithmetic):
  ring:         2(N-1) alpha + 2 (N-1)/N n beta + (N-1)/N n gamma
  Rabenseifner: 2 log2(N) alpha + 2 (N-1)/N n beta + (N-1)/N n gamma
Fusion sends a step's M gradient bytes as ceil(M / threshold) allreduces, so the
latency term is paid per bucket, not per tensor.
"""

import math

ALPHA = 2e-6            # s, one message over InfiniBand/RoCE through MPI
BETA = 1 / 12.5e9       # s/byte, a 100 Gb/s link
GAMMA = 1 / 10e9        # s/byte, float32 adds at ~2.5 Gadd/s on one core
THRESHOLD = 64 << 20    # tensor fusion bucket


def allreduce_time(nbytes, nodes, algorithm):
    if nodes == 1:
        return 0.0
    frac = (nodes - 1) / nodes
    steps = 2 * (nodes - 1) if algorithm == "ring" else 2 * math.ceil(math.log2(nodes))
    return steps * ALPHA + 2 * frac * nbytes * BETA + frac * nbytes * GAMMA


def step_comm(model_bytes, tensors, nodes, algorithm, fused=True):
    if fused:
        buckets = max(1, math.ceil(model_bytes / THRESHOLD))
        return sum(allreduce_time(model_bytes / buckets, nodes, algorithm)
                   for _ in range(buckets))
    return sum(allreduce_time(model_bytes / tensors, nodes, algorithm)
               for _ in range(tensors))


def table(name, model_bytes, tensors, compute, overlap):
    print("\n%s: %.1f MB of gradients in %d tensors, %.0f ms compute per step, %d%% of "
          "the communication hidden behind the backward pass" % (
              name, model_bytes / 1e6, tensors, compute * 1e3, overlap * 100))
    print("| nodes | ring, fused | Rabenseifner, fused | unfused (ring) | efficiency "
          "(Rabenseifner, fused) |")
    print("|---|---|---|---|---|")
    for nodes in (8, 16, 32, 64, 128, 256, 512):
        ring = step_comm(model_bytes, tensors, nodes, "ring")
        rab = step_comm(model_bytes, tensors, nodes, "rab")
        unf = step_comm(model_bytes, tensors, nodes, "ring", fused=False)
        exposed = rab * (1 - overlap)
        print("| %d | %.2f ms | %.2f ms | %.2f ms | %.1f%% |" % (
            nodes, ring * 1e3, rab * 1e3, unf * 1e3, 100 * compute / (compute + exposed)))


if __name__ == "__main__":
    print("alpha = %.1f us, beta = %.3f ns/byte (%.1f GB/s), gamma = %.2f ns/byte, "
          "fusion threshold %d MiB" % (ALPHA * 1e6, BETA * 1e9, 1e-9 / BETA, GAMMA * 1e9,
                                       THRESHOLD >> 20))
    # the guide's MNIST CNN: 206,922 float32 parameters in 8 tensors; ~25 ms a step of 64
    table("MNIST CNN", 206922 * 4, 8, 0.025, 0.5)
    # a ResNet-50-sized model: 25.6M float32 parameters in 161 tensors, ~300 ms a step
    table("ResNet-50-sized model", 25.6e6 * 4, 161, 0.3, 0.7)
