"""Object-graph tracking shared by layers, models, optimizers, metrics and checkpoints.

A checkpoint is a graph: the objects handed to ``tg.train.Checkpoint`` are roots, an
edge is a local name (an attribute, a list index, a dict key, or the name an owner gave
a lazily created variable), leaves are Variables.  Saving records that graph; restoring
matches a live graph against it edge by edge, so only names matter, never ``id()`` or
creation order.

Contract for the classes built on top of this module:

* Subclass :class:`Trackable`.  Public attributes holding Trackables, Variables, or
  lists/tuples/dicts of them (nested freely; dict keys that are str, int, or other
  values with a stable repr: float, bool, None, tuples of such) are children.  Private
  attributes (leading ``_``) are ignored unless the class lists their names in a
  ``_tracked_private`` tuple (tuples of every class in the MRO are merged).  Layers
  track their private attributes too (``self._inner = Dense(2)``): see ``Layer``.
* :func:`children` is the one definition of an object's edges; checkpoints and
  ``Layer.variables`` (through :func:`walk_variables`) both use it.
* Right after creating a variable lazily (``add_weight`` in ``build``...), call
  ``tracking.variable_created(owner, name, variable)``.  The variable becomes a child
  of ``owner`` under ``name`` immediately, so a checkpoint restored before the variable
  existed assigns the saved value at once, even before ``owner`` stores it anywhere.
* An optimizer calls ``tracking.slot_created(optimizer, variable, slot_name, slot)``
  right after creating a slot.  Slots are saved keyed by the checkpoint node of the
  *primary* variable (path ``<optimizer>/.slots/<variable path>/<slot_name>``), so they
  restore into a fresh model + optimizer pair, including when the slot is created later.
  Optimizers may instead (or also) override ``_checkpoint_slot_variables``.
"""

import weakref

__all__ = ["Trackable", "variable_created", "slot_created", "escape_name"]

# Per-owner records written by the hooks.  They live in the owner's ``__dict__`` under
# private names, so the owner's lifetime bounds them and the attribute walk skips them.
_NAMED_VARIABLES_ATTR = "_tapegrad_named_variables"
_SLOTS_ATTR = "_tapegrad_slot_variables"

# Restore states (train.checkpoint) that still hold saved values for objects that do
# not exist yet.  Weak, so forgetting a Checkpoint releases its pending values.
_pending_restores = weakref.WeakSet()

_variable_class = None
_private_names_cache = {}


def _variable_type():
    # Imported late: this module is imported while tapegrad itself is still importing.
    global _variable_class
    if _variable_class is None:
        import tapegrad

        _variable_class = tapegrad.Variable
    return _variable_class


def escape_name(name):
    """Make ``name`` usable as one edge of a ``/``-separated checkpoint path."""
    # the common cases first: they are on the path of every Layer.variables
    if type(name) is str and name and name[0] != "." and "%" not in name and "/" not in name:
        return name
    if type(name) is int:
        return str(name)
    name = str(name).replace("%", "%25").replace("/", "%2F")
    if name.startswith("."):
        # Leading dots are reserved for synthetic edges such as ``.slots``.
        name = "%2E" + name[1:]
    return name or "%00"


def _tracked_private_names(cls):
    names = _private_names_cache.get(cls)
    if names is None:
        merged = []
        for klass in reversed(cls.__mro__):
            for attr in klass.__dict__.get("_tracked_private", ()):
                if attr not in merged:
                    merged.append(attr)
        names = frozenset(merged)
        _private_names_cache[cls] = names
    return names


def _key_name(key):
    """The edge spelling of a dict key, or None for keys without a stable one."""
    if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
        return key
    if _stable_key(key):
        # bools, floats, None and tuples of such: their repr is the same in every run
        return repr(key)
    return None


def _stable_key(key):
    if key is None or isinstance(key, (str, int, float)):
        return True
    return isinstance(key, tuple) and all(_stable_key(item) for item in key)


def _collect(prefix, value, out, seen_containers, variable_type):
    if isinstance(value, (variable_type, Trackable)):
        if prefix not in out:
            out[prefix] = value
        return
    if isinstance(value, (list, tuple, dict)):
        # A container that (indirectly) contains itself would otherwise recurse forever.
        if id(value) in seen_containers:
            return
        seen_containers.add(id(value))
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                name = _key_name(key)
                # Keys like arbitrary objects have no spelling that survives a restart.
                if name is not None:
                    items.append((name, item))
        else:
            items = enumerate(value)
        prefix += "/"
        for key, item in items:
            path = prefix + escape_name(key)
            if isinstance(item, (variable_type, Trackable)):  # the leaf case, inline
                if path not in out:
                    out[path] = item
            else:
                _collect(path, item, out, seen_containers, variable_type)


def attribute_children(obj, names=None):
    """``{path: child}`` found in ``obj``'s attributes (all, or only those in ``names``)."""
    allowed_private = _tracked_private_names(type(obj))
    attrs = getattr(obj, "__dict__", None) or {}
    return children_of_values(
        (attr, value) for attr, value in list(attrs.items())
        if (names is None or attr in names)
        and (not attr.startswith("_") or attr in allowed_private))


def children_of_values(items):
    """``{path: child}`` from ``(name, value)`` pairs (values: Trackables, Variables,
    containers of them; anything else is not a child)."""
    variable_type = _variable_type()
    out = {}
    seen_containers = set()
    for name, value in items:
        if isinstance(value, (variable_type, Trackable)):  # the common case, inline
            name = escape_name(name)
            if name not in out:
                out[name] = value
        else:
            _collect(escape_name(name), value, out, seen_containers, variable_type)
    return out


class Trackable:
    """Base class of every object a ``tg.train.Checkpoint`` can walk.

    Children are found from the instance's attributes: Trackables, Variables, and
    lists/tuples/dicts of them.  Subclasses may override ``_checkpoint_children``.
    The class needs no ``__init__`` call: hook records are created on first use.
    """

    _tracked_private = ()

    def _checkpoint_children(self):
        """Return an ordered ``{local_name: child}`` of Trackables and Variables.

        Names may contain ``/`` (``layers/0``, ``slots/m``): one name per path from
        this object through containers to the child.
        """
        return attribute_children(self)

    def _checkpoint_slot_variables(self):
        """Return ``[(variable, slot_name, slot_variable), ...]`` owned by this object.

        The default reports what ``slot_created`` recorded; optimizers that keep slots
        elsewhere may override it (the checkpoint merges both).
        """
        slots = self.__dict__.get(_SLOTS_ATTR)
        if not slots:
            return []
        return [
            (variable, slot_name, slot_variable)
            for variable, by_name in slots.values()
            for slot_name, slot_variable in by_name.items()
        ]

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        attribute_set(self, name)

    def _tracks_attribute(self, name):
        """Whether attribute ``name`` is an edge of the object graph (see the contract)."""
        return not name.startswith("_") or name in _tracked_private_names(type(self))


def attribute_set(obj, name):
    """Lets a pending restore reach variables/objects attached after restore() ran."""
    if _pending_restores:
        for state in list(_pending_restores):
            state.on_attribute_set(obj, name)


def children(obj):
    """``{edge name: child}`` of a Trackable: THE definition of the object graph.

    Checkpoints save and match along these edges, and ``Layer.variables`` walks the
    same ones (:func:`walk_variables`), so a variable a model trains is a variable its
    checkpoint holds.  Edges: the variables the object created lazily
    (``variable_created``, in creation order), then what ``_checkpoint_children``
    reports (attributes by default).  An attribute holding another object under a
    created variable's name keeps the name; the variable gets a suffixed one.
    """
    reported = obj._checkpoint_children()
    if not isinstance(reported, dict):
        return reported  # train.graph reports the type error with its context
    try:
        named = obj.__dict__.get(_NAMED_VARIABLES_ATTR)
    except AttributeError:
        return reported
    if not named:
        return reported
    if len(reported) >= len(named):
        # Common case (Dense: ``self.kernel = self.add_weight("kernel")``): the created
        # variables are the first attributes, under their own names, in creation order.
        reported_items = iter(reported.items())
        for name, variable in named.items():
            attr, child = next(reported_items)
            if name != attr or child is not variable:
                break
        else:
            return reported
    out = {}
    for name, variable in named.items():
        child = reported.get(name)
        if child is not None and child is not variable:
            suffix = 1
            while "%s_%d" % (name, suffix) in reported or "%s_%d" % (name, suffix) in named:
                suffix += 1
            name = "%s_%d" % (name, suffix)
        out[name] = variable
    for name, child in reported.items():
        out[name] = child
    return out


def walk_variables(root, descend, trainable=None):
    """``[(variable, flag), ...]`` reachable from ``root`` along :func:`children` edges.

    Depth-first in edge order, each variable once (the first path wins).  ``descend``
    says which Trackables to enter (a layer's ``variables`` enters layers, not an
    optimizer it may hold); ``trainable(obj, flag)`` gives the flag of ``obj``'s
    children from its parent's (``root``'s parent flag is True); a variable's own flag
    is ``flag and variable.trainable``.
    """
    out = []
    _walk(root, True, descend, trainable, {id(root)}, _variable_type(), out)
    return out


def _walk(obj, flag, descend, trainable, seen, variable_type, out):
    if trainable is not None:
        flag = trainable(obj, flag)
    for child in children(obj).values():
        key = id(child)
        if key in seen:
            continue
        seen.add(key)
        if isinstance(child, variable_type):
            out.append((child, flag and child.trainable))
        elif isinstance(child, Trackable) and descend(child):
            _walk(child, flag, descend, trainable, seen, variable_type, out)


def named_variables(owner):
    """The ``{name: variable}`` that ``variable_created`` recorded for ``owner``."""
    attrs = getattr(owner, "__dict__", None)
    if attrs is None:
        return {}
    return attrs.get(_NAMED_VARIABLES_ATTR) or {}


def variable_created(owner, name, variable):
    """Called by ``owner`` (a Layer, Metric...) right after it creates ``variable`` lazily.

    Lets a checkpoint restored before the variable existed assign its saved value now.
    """
    attrs = getattr(owner, "__dict__", None)
    if attrs is not None:
        record = attrs.get(_NAMED_VARIABLES_ATTR)
        if record is None:
            record = {}
            attrs[_NAMED_VARIABLES_ATTR] = record
        base = escape_name(name)
        key = base
        suffix = 1
        # Keras allows two weights of one layer to share a name; keep both, stably.
        while key in record and record[key] is not variable:
            key = "%s_%d" % (base, suffix)
            suffix += 1
        record[key] = variable
        name = key
    else:
        name = escape_name(name)
    if _pending_restores:
        for state in list(_pending_restores):
            state.on_variable_created(owner, name, variable)


def slot_created(optimizer, variable, slot_name, slot_variable):
    """Called by an optimizer right after it creates a slot (Adam's m/v...) for ``variable``."""
    attrs = getattr(optimizer, "__dict__", None)
    if attrs is not None:
        record = attrs.get(_SLOTS_ATTR)
        if record is None:
            record = {}
            attrs[_SLOTS_ATTR] = record
        # Keyed by id() only within this process; the strong reference held in the
        # value keeps that id from being reused while the record exists.
        entry = record.get(id(variable))
        if entry is None:
            entry = (variable, {})
            record[id(variable)] = entry
        entry[1][str(slot_name)] = slot_variable
    if _pending_restores:
        for state in list(_pending_restores):
            state.on_slot_created(optimizer, variable, str(slot_name), slot_variable)


def register_pending_restore(state):
    """Used by ``tg.train``: ``state`` gets ``on_*`` callbacks until unregistered."""
    _pending_restores.add(state)


def unregister_pending_restore(state):
    _pending_restores.discard(state)
