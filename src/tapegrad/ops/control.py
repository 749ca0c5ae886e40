"""Eager control flow with TF 1.x signatures: cond, case, switch_case, while_loop.

tapegrad has no graphs, so these run the chosen Python branch or the loop body at once;
gradients flow through whatever ops the branch ran, exactly as through any Python code
(a tape records the ops of the branch taken, nothing of the others).
"""

import numpy as np

from tapegrad import _core


def _truth(pred, op):
    """A Python bool from a bool / 0-d (or 1-element) tensor, with a clear error."""
    if isinstance(pred, (_core.Tensor, _core.BaseVariable, np.ndarray)):
        a = np.asarray(pred)
        if a.size != 1:
            raise ValueError("%s: the predicate must be a scalar, got shape %s" % (op, a.shape))
        if a.dtype != np.bool_:
            raise TypeError("%s: the predicate must be bool, got %s" % (op, a.dtype))
        return bool(a.reshape(()))
    if isinstance(pred, (bool, np.bool_)):
        return bool(pred)
    raise TypeError("%s: the predicate must be a bool or a bool tensor, got %r" % (op, pred))


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None):
    """``true_fn()`` if ``pred`` else ``false_fn()``, run eagerly (TF 1.x tf.cond)."""
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("cond: true_fn and false_fn must both be callables")
    return true_fn() if _truth(pred, "cond") else false_fn()


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name=None):
    """The fn of the first pair whose predicate is True, else ``default()`` (tf.case).

    With ``exclusive=True`` more than one True predicate raises, as in TF.
    """
    if isinstance(pred_fn_pairs, dict):
        pred_fn_pairs = list(pred_fn_pairs.items())
    if not isinstance(pred_fn_pairs, (list, tuple)):
        raise TypeError("case: pred_fn_pairs must be a list of (predicate, callable) pairs, "
                        "got %s" % type(pred_fn_pairs).__name__)
    pairs = list(pred_fn_pairs)
    for p in pairs:
        if not (isinstance(p, tuple) and len(p) == 2 and callable(p[1])):
            raise TypeError("case: pred_fn_pairs must be (predicate, callable) pairs, got %r"
                            % (p,))
    hits = [fn for p, fn in pairs if _truth(p, "case")]
    if exclusive and len(hits) > 1:
        raise ValueError("case: exclusive=True but %d predicates are True" % len(hits))
    if hits:
        return hits[0]()
    if default is None:
        if not pairs:
            raise ValueError("case: no predicates and no default")
        return pairs[-1][1]()  # TF uses the last fn as the default when none is given
    if not callable(default):
        raise TypeError("case: default must be a callable")
    return default()


def switch_case(branch_index, branch_fns, default=None, name=None):
    """``branch_fns[branch_index]()``, or ``default()`` (else the last fn) when out of range."""
    i = np.asarray(branch_index)
    if i.size != 1 or i.dtype.kind not in "iu":
        raise TypeError("switch_case: branch_index must be an int scalar, got %r"
                        % (branch_index,))
    i = int(i.reshape(()))
    if isinstance(branch_fns, dict):
        fns = dict(branch_fns)
    else:
        fns = dict(enumerate(branch_fns))
    if not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("switch_case: branch_fns must be a non-empty list or dict of callables")
    if i in fns:
        return fns[i]()
    if default is not None:
        return default()
    return fns[max(fns)]()


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None,
               return_same_structure=False):
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (tf.while_loop).

    Runs eagerly; ``maximum_iterations`` bounds the number of iterations.  A single
    loop variable given as a bare value comes back bare (TF 1.x), a list as a list.
    """
    if not callable(cond) or not callable(body):
        raise TypeError("while_loop: cond and body must be callables")
    single = not isinstance(loop_vars, (list, tuple))
    vars_ = [loop_vars] if single else list(loop_vars)
    limit = None if maximum_iterations is None else int(np.asarray(maximum_iterations))
    if limit is not None and limit < 0:
        raise ValueError("while_loop: maximum_iterations must be >= 0, got %d" % limit)
    n = 0
    while (limit is None or n < limit) and _truth(cond(*vars_), "while_loop"):
        out = body(*vars_)
        out = [out] if not isinstance(out, (list, tuple)) else list(out)
        if len(out) != len(vars_):
            raise ValueError("while_loop: body returned %d values for %d loop variables"
                             % (len(out), len(vars_)))
        vars_ = out
        n += 1
    if single:
        return vars_[0]
    if isinstance(loop_vars, tuple):
        return type(loop_vars)(*vars_) if hasattr(loop_vars, "_fields") else tuple(vars_)
    return vars_
