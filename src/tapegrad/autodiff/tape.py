"""tg.GradientTape: records ops on watched tensors and replays them backwards."""

import contextlib

from tapegrad import _core, _tape
from tapegrad.autodiff import nest
from tapegrad.autodiff._args import as_target as _as_target
from tapegrad.autodiff._args import zero_mode
from tapegrad.ops.elementwise import zeros_like
from tapegrad.ops.shape import broadcast_to


class GradientTape(_tape.TapeBase):
    """Record operations for automatic differentiation (TensorFlow semantics).

    ``debug=True`` notes each op's call site, where gradient paths are cut and where
    watched values leave through NumPy (for ``explain``), and accounts the bytes held
    (``stats``); ``max_bytes=N`` raises ``TapeMemoryError`` instead of recording past N
    bytes.  Constants are recorded only when watched; trainable variables are watched when
    read inside the tape (unless ``watch_accessed_variables=False``).  A non-persistent
    tape frees what it saved after its first ``gradient`` call.  Tapes nest: the
    backward pass of an inner tape is recorded by outer tapes, giving higher order.
    ``__enter__``/``__exit__`` and the common ``gradient`` call live in Cython
    (``_tape.TapeBase``).
    """

    @contextlib.contextmanager
    def stop_recording(self):
        """Ops inside this block are not recorded on this tape."""
        if not self._recording:
            raise ValueError("GradientTape.stop_recording: the tape is not recording")
        self._core.paused += 1
        try:
            yield
        finally:
            self._core.paused -= 1

    def reset(self):
        """Forget everything recorded so far (the tape keeps recording if inside `with`)."""
        self._core.release()
        if self._core.debug is not None:
            self._core.debug.on_release()
        self._core.variables.clear()
        self._used = False

    # -- watching ----------------------------------------------------------------
    def watch(self, tensor):
        """Record ops on ``tensor`` (a tensor, variable, or nested structure of them)."""
        for t in nest.flatten(tensor):
            if isinstance(t, _core.BaseVariable):
                self._core.watch_variable(t)
            elif isinstance(t, _core.Tensor):
                self._core.watch(t)
            else:
                raise TypeError("GradientTape.watch: expected tensors or variables, got %s"
                                % type(t).__name__)

    def watched_variables(self):
        return tuple(self._core.variables.values())

    # -- debugging (tapegrad.debugging) ------------------------------------------
    def explain(self, target, source):
        """Why ``self.gradient(target, source)`` is what it is: the chain of recorded
        ops from ``source`` to ``target`` (with ``file:line`` when call sites are on:
        ``GradientTape(debug=True)``), or the reason there is none."""
        from tapegrad.debugging.explain import explain

        return explain(self, target, source)

    def stats(self):
        """Ops recorded and tensors/bytes held for the backward pass (a TapeStats)."""
        from tapegrad.debugging.stats import stats

        return stats(self)

    # -- gradients ---------------------------------------------------------------
    def _gradient_general(self, target, sources, output_gradients, unconnected_gradients):
        """GradientTape.gradient for nested targets/sources and output_gradients."""
        self._check_usable("gradient")
        zero = zero_mode(unconnected_gradients)
        flat_targets = [_as_target(t) for t in nest.flatten(target)]
        single = isinstance(sources, (_core.Tensor, _core.BaseVariable))
        flat_sources = [sources] if single else nest.flatten(sources)
        if output_gradients is None:
            seeds = [_core.ones_like_fast(t) for t in flat_targets]
        else:
            seeds = _seeds(flat_targets, nest.flatten(output_gradients))
        source_ids = _tape.flat_source_ids(self._core, flat_sources)
        if source_ids is None:
            bad = next(s for s in flat_sources
                       if not isinstance(s, (_core.Tensor, _core.BaseVariable)))
            raise TypeError("gradient: sources must be tensors or variables, got %s"
                            % type(bad).__name__)
        grads = self._run(flat_targets, seeds, source_ids)
        for i, g in enumerate(grads):
            if g is None and zero and flat_sources[i].dtype.kind in "fc":
                grads[i] = zeros_like(flat_sources[i])
        return grads[0] if single else nest.pack_sequence_as(sources, grads)

    def jacobian(self, target, sources, unconnected_gradients="none", parallel_iterations=None,
                 experimental_use_pfor=True, max_bytes=None):
        """d target[i...] / d source[j...] with shape target.shape + source.shape."""
        self._check_usable("jacobian")
        # imported here, not by `import tapegrad` (issue 25: import time)
        from tapegrad.autodiff.tape_jacobians import tape_jacobian

        return tape_jacobian(self, target, sources, unconnected_gradients, max_bytes=max_bytes)

    def batch_jacobian(self, target, source, unconnected_gradients="none",
                       parallel_iterations=None, experimental_use_pfor=True, max_bytes=None):
        """Per-example Jacobian: [b, *target.shape[1:], *source.shape[1:]]."""
        self._check_usable("batch_jacobian")
        from tapegrad.autodiff.tape_jacobians import tape_batch_jacobian

        return tape_batch_jacobian(self, target, source, unconnected_gradients,
                                   max_bytes=max_bytes)


def _seeds(flat_targets, flat_og):
    if len(flat_og) != len(flat_targets):
        raise ValueError("gradient: %d output_gradients for %d targets"
                         % (len(flat_og), len(flat_targets)))
    seeds = []
    for t, og in zip(flat_targets, flat_og):
        if og is None:
            seeds.append(_core.ones_like_fast(t))
            continue
        og = _core.convert(og, None, "gradient")
        if og.dtype != t.dtype:
            raise TypeError("gradient: output_gradients dtype %s does not match target dtype %s"
                            % (og.dtype.name, t.dtype.name))
        if og.shape != t.shape:
            try:
                og = broadcast_to(og, t.shape)
            except ValueError:
                # broadcast_to's own message would not say which argument was wrong
                raise ValueError("gradient: output_gradients of shape %s do not broadcast to "
                                 "the target's shape %s" % (tuple(og.shape), tuple(t.shape))) \
                    from None
        seeds.append(og)
    return seeds

