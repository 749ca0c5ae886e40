"""Flatten and rebuild nested lists/tuples/dicts of tensors (a small tf.nest)."""


def _is_seq(x):
    return isinstance(x, (list, tuple, dict))


def flatten(structure):
    out = []
    stack = [structure]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(reversed([x[k] for k in sorted(x)]))
        elif isinstance(x, (list, tuple)):
            stack.extend(reversed(x))
        else:
            out.append(x)
    return out


def _build(s, it):
    # module level, not a closure: a recursive inner function references itself through
    # its cell, a cycle that kept ``flat`` (often large result tensors) alive until the
    # next garbage collection
    if isinstance(s, dict):
        return {k: _build(s[k], it) for k in sorted(s)}
    if isinstance(s, tuple) and hasattr(s, "_fields"):
        return type(s)(*[_build(v, it) for v in s])
    if isinstance(s, (list, tuple)):
        return type(s)([_build(v, it) for v in s])
    return next(it)


def pack_sequence_as(structure, flat):
    return _build(structure, iter(flat))


def map_structure(fn, structure):
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])
