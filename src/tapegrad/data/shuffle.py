"""Buffered shuffling, as tf.data does it, computed on int64 index arrays.

The sliding buffer: fill a buffer with the first ``b`` inputs; then for each further
input draw a slot ``r`` uniformly, emit the slot's content and put the input there; at the
end emit what remains in random order. Step ``t`` emits the input last written into slot
``r[t]``: the input of the previous step ``t' < t`` with ``r[t'] == r[t]`` if there is one,
else the slot's content at the start of the block. A stable sort of ``r`` finds every
such previous occurrence at once, so a whole block of steps is a handful of NumPy calls
and the result is exactly what the step-by-step loop would give for the same draws.
"""

import itertools

import numpy as np

from ._node import Unary

_ELEMENT_BLOCK = 64


def shuffle_block(buffer, incoming, slots):
    """Run the sliding buffer over one block of inputs.

    ``buffer``: the full buffer (length ``b``); ``incoming``: the next inputs; ``slots``:
    the slot drawn at each step (ints in ``[0, b)``, one per input). Returns the emitted
    values (one per input) and the buffer afterwards.
    """
    n = len(incoming)
    order = np.argsort(slots, kind="stable")
    sorted_slots = slots[order]
    repeat = np.empty(n, dtype=bool)
    repeat[0] = False
    np.equal(sorted_slots[1:], sorted_slots[:-1], out=repeat[1:])
    # previous[t] = the last step before t that drew the same slot, or -1.
    previous = np.full(n, -1, dtype=np.int64)
    previous[order[repeat]] = order[np.flatnonzero(repeat) - 1]
    emitted = np.where(previous >= 0, incoming[previous], buffer[slots])
    last = np.empty(n, dtype=bool)
    last[-1] = True
    np.not_equal(sorted_slots[1:], sorted_slots[:-1], out=last[:-1])
    new_buffer = buffer.copy()
    new_buffer[sorted_slots[last]] = incoming[order[last]]
    return emitted, new_buffer


def shuffle_stream(blocks, buffer_size, rng):
    """Shuffle a stream of 1-D int64 blocks through a buffer of ``buffer_size``."""
    pending, have = [], 0
    buffer = None
    for block in blocks:
        if buffer is None:
            pending.append(block)
            have += len(block)
            if have < buffer_size:
                continue
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            buffer, block = joined[:buffer_size].copy(), joined[buffer_size:]
            pending = None
        if len(block) == 0:
            continue
        slots = rng.integers(0, buffer_size, size=len(block))
        emitted, buffer = shuffle_block(buffer, block, slots)
        yield emitted
    if buffer is None:
        buffer = np.concatenate(pending) if pending else np.empty(0, dtype=np.int64)
    if len(buffer):
        yield buffer[rng.permutation(len(buffer))]


def _default_seed():
    from tapegrad import random as tg_random
    return int(tg_random.numpy_rng().integers(0, 2**63))


class Shuffle(Unary):
    """``shuffle``: each pass draws from ``default_rng([seed, pass])`` when reshuffling
    (a new order per pass, the same sequence of orders per seed), else ``default_rng(seed)``."""

    def __init__(self, child, buffer_size, seed, reshuffle_each_iteration):
        super().__init__(child)
        self.buffer_size = buffer_size
        self.seed = _default_seed() if seed is None else int(seed) % 2**64
        self.reshuffle = bool(reshuffle_each_iteration)
        self._passes = itertools.count()

    def _rng(self):
        if self.reshuffle:
            return np.random.default_rng([self.seed, next(self._passes)])
        return np.random.default_rng(self.seed)

    def plan(self):
        plan = self.child.plan()
        if plan is None:
            return None

        def stream():
            return shuffle_stream(plan.stream(), self.buffer_size, self._rng())

        return plan.with_stream(stream)

    def elements(self):
        plan = self.plan()
        if plan is not None:
            yield from super().elements()
            return
        # Arbitrary elements: shuffle their arrival numbers with the same algorithm and
        # keep the elements themselves in a dict until their number comes out.
        store = {}
        source = self.child.elements()

        def numbered_blocks():
            count = 0
            for block in iter(lambda: list(itertools.islice(source, _ELEMENT_BLOCK)), []):
                for element in block:
                    store[count] = element
                    count += 1
                yield np.arange(count - len(block), count, dtype=np.int64)

        try:
            for out in shuffle_stream(numbered_blocks(), self.buffer_size, self._rng()):
                for number in out.tolist():
                    yield store.pop(number)
        finally:
            source.close()

    def cardinality(self):
        return self.child.cardinality()
