"""tg.GradientTape: records ops on watched tensors and replays them backwards."""

import contextlib

from tapegrad import _core, _tape
from tapegrad.autodiff import nest
from tapegrad.ops.elementwise import zeros_like
from tapegrad.ops.shape import broadcast_to


class GradientTape(_tape.TapeBase):
    """Record operations for automatic differentiation (TensorFlow semantics).

    Constants are recorded only when watched; trainable variables are watched when
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

    # -- gradients ---------------------------------------------------------------
    def _gradient_general(self, target, sources, output_gradients, unconnected_gradients):
        """GradientTape.gradient for nested targets/sources and output_gradients."""
        self._check_usable("gradient")
        zero = _zero_mode(unconnected_gradients)
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
        from tapegrad.autodiff.jacobians import tape_jacobian

        self._check_usable("jacobian")
        return tape_jacobian(self, target, sources, unconnected_gradients, max_bytes=max_bytes)

    def batch_jacobian(self, target, source, unconnected_gradients="none",
                       parallel_iterations=None, experimental_use_pfor=True, max_bytes=None):
        """Per-example Jacobian: [b, *target.shape[1:], *source.shape[1:]]."""
        from tapegrad.autodiff.jacobians import tape_batch_jacobian

        self._check_usable("batch_jacobian")
        return tape_batch_jacobian(self, target, source, unconnected_gradients,
                                   max_bytes=max_bytes)


def _zero_mode(unconnected_gradients):
    mode = str(getattr(unconnected_gradients, "value", unconnected_gradients)).lower()
    if mode.startswith("unconnectedgradients."):
        mode = mode.split(".", 1)[1]
    if mode not in ("none", "zero"):
        raise ValueError("gradient: unconnected_gradients must be 'none' or 'zero', got %r"
                         % (unconnected_gradients,))
    return mode == "zero"


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
            og = broadcast_to(og, t.shape)
        seeds.append(og)
    return seeds


def _as_target(t):
    if isinstance(t, _core.BaseVariable):
        return t._peek()
    if not isinstance(t, _core.Tensor):
        raise TypeError("gradient: target must be a tensor, got %s" % type(t).__name__)
    return t

