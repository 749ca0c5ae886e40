"""Matching a saved graph against live objects, assigning values, and deferred restores.

A restore is planned before it acts: every (saved node, live object) pair is found and
checked (kind, dtype, shape) first; only when all of them fit are the values assigned.
Saved values whose objects do not exist yet stay pending: the tracking hooks
(``variable_created``, ``slot_created``, attribute assignment on a Trackable) extend the
match, with the same check-then-assign rule, as the objects appear.
"""

from collections import deque

import numpy as np

from tapegrad import tracking

from .errors import CheckpointMismatchError, MismatchReport
from .graph import build_graph, children_of, slot_variables_of

__all__ = ["CheckpointLoadStatus", "InitializationOnlyStatus", "RestoreState"]

# Matched objects keep a pending restore alive (in their ``__dict__``, which the attribute
# walk skips): ``Checkpoint(model=m).restore(path)`` with the Checkpoint dropped at once
# must still restore ``m``'s variables when ``m`` builds them later.
_HOLD_ATTR = "_tapegrad_pending_restores"


def _is_variable(obj):
    return isinstance(obj, tracking._variable_type())


def _describe_live(obj):
    if _is_variable(obj):
        return "variable %s%s" % (np.dtype(obj.dtype).name, list(obj.shape))
    return "object %s" % type(obj).__name__


class RestoreState:
    """The matching between one loaded checkpoint and the graph under ``root``."""

    def __init__(self, root, saved):
        self.root = root
        self.saved = saved
        self.obj_of = {0: root}
        self.node_of = {id(root): 0}
        self.restored = set()
        # {node: (live object, (path, saved, live))}: mismatches already found.  Each is
        # raised once, by the code that concerns it, and reported by assert_*; it never
        # makes an unrelated variable or slot creation fail later.
        self.mismatched = {}
        self.partial_expected = False
        self.active = False

    # ------------------------------------------------------------------ planning

    def _plan(self, starts):
        """New ``(node, object)`` pairs reachable from ``starts``; changes nothing."""
        saved = self.saved
        new_obj_of = {}
        new_node_of = {}

        def node_for(obj):
            node = self.node_of.get(id(obj))
            return new_node_of.get(id(obj)) if node is None else node

        def obj_for(node):
            obj = self.obj_of.get(node)
            return new_obj_of.get(node) if obj is None else obj

        visited = set()
        queue = deque(starts)
        while queue:
            obj, node = queue.popleft()
            if id(obj) in visited or not saved.children[node]:
                continue
            visited.add(id(obj))
            saved_children = saved.children[node]
            for name, child in children_of(obj, saved.path[node] or "Checkpoint").items():
                child_node = saved_children.get(name)
                if child_node is None:
                    continue
                known = node_for(child)
                if known is None:
                    # A saved node already bound to another live object keeps it.
                    if obj_for(child_node) is not None:
                        continue
                    new_obj_of[child_node] = child
                    new_node_of[id(child)] = child_node
                    known = child_node
                if known == child_node and not _is_variable(child):
                    queue.append((child, child_node))

        slot_cache = {}
        for (opt_node, var_node, slot_name), slot_node in saved.slots.items():
            if obj_for(slot_node) is not None:
                continue
            optimizer = obj_for(opt_node)
            variable = obj_for(var_node)
            if optimizer is None or variable is None or _is_variable(optimizer):
                continue
            slots = slot_cache.get(opt_node)
            if slots is None:
                slots = slot_cache[opt_node] = slot_variables_of(optimizer)
            entry = slots.get((id(variable), slot_name))
            if entry is None or node_for(entry[1]) is not None:
                continue
            new_obj_of[slot_node] = entry[1]
            new_node_of[id(entry[1])] = slot_node
        return list(new_obj_of.items())

    def _check(self, pairs):
        """Split ``pairs`` into assignments and ``(path, saved, live)`` mismatches."""
        saved = self.saved
        assignments = []
        mismatched = []
        for node, obj in pairs:
            saved_is_variable = saved.tensor_of[node] is not None
            if saved_is_variable != _is_variable(obj):
                mismatched.append((saved.path[node], saved.describe(node), _describe_live(obj)))
                continue
            if not saved_is_variable:
                continue
            array = saved.array(node)
            if np.dtype(obj.dtype) != array.dtype or tuple(obj.shape) != array.shape:
                mismatched.append((saved.path[node], saved.describe(node), _describe_live(obj)))
            else:
                assignments.append((node, obj, array))
        return assignments, mismatched

    # ------------------------------------------------------------------ acting

    def extend(self, starts, trigger=None):
        """Match what is reachable from ``starts``; assign all of it or raise and assign none.

        ``trigger`` is the object whose creation or attachment called a hook when the walk
        had to start from the root (the object is not known to belong to this
        checkpoint): a mismatch then raises only if it concerns ``trigger``; others are
        recorded for the ``assert_*`` methods, and the values that fit are assigned.
        """
        pairs = [
            (node, obj) for node, obj in self._plan(starts)
            if self.mismatched.get(node, (None,))[0] is not obj
        ]
        if not pairs:
            return
        assignments, mismatched = self._check(pairs)
        if mismatched:
            objects = dict(pairs)
            by_path = {self.saved.path[node]: node for node in objects}
            concerns_trigger = trigger is None or any(
                objects[by_path[path]] is trigger for path, _, _ in mismatched)
            for entry in mismatched:
                node = by_path[entry[0]]
                self.mismatched[node] = (objects[node], entry)
            if concerns_trigger:
                report = self.report(extra=objects, extra_mismatched=mismatched)
                raise CheckpointMismatchError(
                    "Checkpoint.restore: %s does not fit the live objects; nothing was "
                    "assigned" % self.saved.where,
                    report,
                )
            bad = {by_path[path] for path, _, _ in mismatched}
            pairs = [(node, obj) for node, obj in pairs if node not in bad]
        for _node, obj, array in assignments:
            obj.assign(array)
        for node, obj in pairs:
            self.obj_of[node] = obj
            self.node_of[id(obj)] = node
        self.restored.update(node for node, _, _ in assignments)
        pending = self.pending_nodes()
        self.saved.release(pending)
        if not pending:
            self.deactivate()
        elif self.active:
            self._hold(obj for _, obj in pairs)

    def activate(self):
        """Start listening to the tracking hooks (while values are still pending)."""
        if self.active or not self.pending_nodes():
            return
        self.active = True
        tracking.register_pending_restore(self)
        self._hold(self.obj_of.values())

    def deactivate(self):
        """Stop listening and let go of the pending values."""
        if not self.active:
            return
        self.active = False
        tracking.unregister_pending_restore(self)
        for obj in self.obj_of.values():
            holders = getattr(obj, "__dict__", {}).get(_HOLD_ATTR)
            if holders:
                holders[:] = [state for state in holders if state is not self]
                if not holders:
                    del obj.__dict__[_HOLD_ATTR]

    def _hold(self, objects):
        for obj in objects:
            attrs = getattr(obj, "__dict__", None)
            if attrs is None or _is_variable(obj) or obj is self.root:
                continue
            holders = attrs.setdefault(_HOLD_ATTR, [])
            if not any(state is self for state in holders):
                holders.append(self)

    def pending_nodes(self):
        return [node for node in self.saved.variable_nodes()
                if node not in self.restored and node not in self.mismatched]

    def refresh(self):
        """Catch objects attached in ways no hook saw (``list.append`` ...)."""
        if self.pending_nodes():
            self.extend([(self.root, 0)])

    def report(self, extra=None, extra_mismatched=()):
        """Missing, unexpected and mismatched paths, counting ``extra`` pairs as matched."""
        extra = extra or {}
        matched_ids = set(self.node_of)
        matched_ids.update(id(obj) for obj in extra.values())
        matched_ids.update(id(obj) for obj, _ in self.mismatched.values())
        _, live_variables = build_graph(self.root)
        missing = [path for path, var in live_variables if id(var) not in matched_ids]
        mismatched = list(extra_mismatched)
        mismatched_paths = {path for path, _, _ in mismatched}
        mismatched += [entry for _, entry in self.mismatched.values()
                       if entry[0] not in mismatched_paths]
        mismatched_paths.update(path for path, _, _ in mismatched)
        unexpected = [
            self.saved.path[node]
            for node in self.pending_nodes()
            if node not in extra and self.saved.path[node] not in mismatched_paths
        ]
        return MismatchReport(missing=missing, unexpected=unexpected, mismatched=mismatched)

    # ------------------------------------------------------------------ tracking hooks

    def on_variable_created(self, owner, name, variable):
        node = self.node_of.get(id(owner))
        if node is not None:
            self.extend([(owner, node)])
        else:
            self.extend([(self.root, 0)], trigger=variable)

    def on_slot_created(self, optimizer, variable, slot_name, slot_variable):
        if id(optimizer) in self.node_of and id(variable) in self.node_of:
            # Both ends known: only the slot itself can be new, a walk from the
            # optimizer (whose subtree is usually small) finds it.
            self.extend([(optimizer, self.node_of[id(optimizer)])])
        else:
            self.extend([(self.root, 0)], trigger=slot_variable)

    def on_attribute_set(self, obj, name):
        node = self.node_of.get(id(obj))
        if node is None or _is_variable(obj):
            return
        tracks = getattr(obj, "_tracks_attribute", None)
        if tracks is not None and not tracks(name):
            return
        self.extend([(obj, node)])


class CheckpointLoadStatus:
    """What ``Checkpoint.restore`` matched; its ``assert_*`` methods check it."""

    def __init__(self, state):
        self._state = state

    def assert_consumed(self):
        """Every saved value was used and every live variable got one, else raise."""
        self._state.refresh()
        report = self._state.report()
        if report:
            raise CheckpointMismatchError(
                "assert_consumed: %s and the live objects differ" % self._state.saved.where,
                report,
            )
        return self

    def assert_existing_objects_matched(self):
        """Every live variable got a saved value (unused saved values are fine), else raise."""
        self._state.refresh()
        report = self._state.report()
        if report.missing or report.mismatched:
            raise CheckpointMismatchError(
                "assert_existing_objects_matched: live objects without a value in %s"
                % self._state.saved.where,
                MismatchReport(missing=report.missing, mismatched=report.mismatched),
            )
        return self

    def assert_nontrivial_match(self):
        """At least one variable besides the checkpoint's own save counter was restored."""
        self._state.refresh()
        state = self._state
        counter_node = state.saved.children[0].get("save_counter")
        if not state.restored - {counter_node}:
            raise CheckpointMismatchError(
                "assert_nontrivial_match: nothing but the save counter matched %s"
                % state.saved.where,
                state.report(),
            )
        return self

    def expect_partial(self):
        """Declare that unused saved values are intended (no warning when replaced)."""
        self._state.partial_expected = True
        return self

    def pending(self):
        """Paths of saved values still waiting for their objects to be created."""
        state = self._state
        return [state.saved.path[node] for node in state.pending_nodes()]


class InitializationOnlyStatus:
    """Status of ``restore(None)``: nothing was loaded, variables keep their initial values."""

    _MESSAGE = "No checkpoint specified (save_path=None); nothing is being restored."

    def assert_consumed(self):
        raise AssertionError(self._MESSAGE)

    def assert_existing_objects_matched(self):
        raise AssertionError(self._MESSAGE)

    def assert_nontrivial_match(self):
        raise AssertionError(self._MESSAGE)

    def expect_partial(self):
        return self

    def pending(self):
        return []

