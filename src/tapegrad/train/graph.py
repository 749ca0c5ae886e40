"""Walking live object graphs and describing them in a checkpoint header.

Saved graph (the ``graph`` value of the file header)::

    {"nodes": [{"children": [[name, node], ...]}            # an object (node 0: root)
               | {"tensor": index}, ...],                  # a variable
     "slots": [[optimizer_node, variable_node, slot_name, slot_node], ...]}

Node ids are positions in breadth-first order from the root, so every node's recorded
path (the tensor name for variables) is its shortest path.  An object reachable along
several paths is one node with several incoming edges.
"""

from collections import deque

import numpy as np

from tapegrad import tracking

from .errors import CheckpointCorruptError

__all__ = [
    "SLOTS_EDGE",
    "SavedGraph",
    "build_graph",
    "children_of",
    "join_path",
    "slot_variables_of",
]

# Edge naming the slot variables of an optimizer; a leading dot never comes out of
# tracking.escape_name, so it cannot collide with an attribute.
SLOTS_EDGE = ".slots"


def join_path(parent, name):
    return parent + "/" + name if parent else name


def _is_variable(obj):
    return isinstance(obj, tracking._variable_type())


def children_of(obj, where):
    """``{name: child}`` of a Trackable (``tracking.children``), checked."""
    children = tracking.children(obj)
    if not isinstance(children, dict):
        raise TypeError(
            "%s._checkpoint_children() must return a dict, got %s"
            % (type(obj).__name__, type(children).__name__)
        )
    variable_type = tracking._variable_type()
    for name, child in children.items():
        if not isinstance(name, str) or not name:
            raise TypeError("%s: child name %r of %s is not a non-empty str"
                            % (where, name, type(obj).__name__))
        if not isinstance(child, (variable_type, tracking.Trackable)):
            raise TypeError(
                "%s: child %r of %s is a %s; checkpoints hold only Variables and Trackables"
                % (where, name, type(obj).__name__, type(child).__name__)
            )
    return children


def slot_variables_of(obj):
    """``{(id(variable), slot_name): (variable, slot_variable)}`` reported by ``obj``."""
    slots = {}
    for variable, slot_name, slot_variable in obj._checkpoint_slot_variables():
        slots.setdefault((id(variable), str(slot_name)), (variable, slot_variable))
    for variable, slot_name, slot_variable in tracking.Trackable._checkpoint_slot_variables(obj):
        slots.setdefault((id(variable), slot_name), (variable, slot_variable))
    return slots


def build_graph(root):
    """Describe the graph under ``root``: ``(graph, [(path, variable), ...])``."""
    nodes = [{"children": []}]
    objects = [root]
    paths = [""]
    node_of = {id(root): 0}
    variables = []

    def add(obj, path):
        node = len(nodes)
        node_of[id(obj)] = node
        objects.append(obj)
        paths.append(path)
        if _is_variable(obj):
            nodes.append({"tensor": len(variables)})
            variables.append((path, obj))
        else:
            nodes.append({"children": []})
        return node

    queue = deque([0])
    while queue:
        node = queue.popleft()
        obj = objects[node]
        for name, child in children_of(obj, paths[node] or "Checkpoint").items():
            child_node = node_of.get(id(child))
            if child_node is None:
                child_node = add(child, join_path(paths[node], name))
                if not _is_variable(child):
                    queue.append(child_node)
            nodes[node]["children"].append([name, child_node])

    slots = []
    for node in range(len(objects)):
        obj = objects[node]
        if _is_variable(obj):
            continue
        for (_, slot_name), (variable, slot_variable) in slot_variables_of(obj).items():
            variable_node = node_of.get(id(variable))
            # A slot of a variable the checkpoint does not hold could never be matched
            # again on restore, so it is not saved (TensorFlow does the same).
            if variable_node is None or not _is_variable(slot_variable):
                continue
            slot_node = node_of.get(id(slot_variable))
            if slot_node is None:
                path = "/".join(
                    p for p in (paths[node], SLOTS_EDGE, paths[variable_node],
                                tracking.escape_name(slot_name)) if p
                )
                slot_node = add(slot_variable, path)
            slots.append([node, variable_node, slot_name, slot_node])
    return {"nodes": nodes, "slots": slots}, variables


class SavedGraph:
    """A validated saved graph with its tensors (``arrays[i]`` for ``"tensor": i``)."""

    def __init__(self, graph, tensors, where):
        self.where = where
        self.arrays = [array for _, array in tensors]
        tensor_paths = [name for name, _ in tensors]
        if not isinstance(graph, dict):
            raise self._bad("graph is not an object")
        nodes = graph.get("nodes")
        slots = graph.get("slots")
        if not isinstance(nodes, list) or not nodes or not isinstance(slots, list):
            raise self._bad("graph lacks a node list or a slot list")
        count = len(nodes)
        self.children = []
        self.tensor_of = []
        self.path = []
        owner = [None] * len(tensors)
        for node, entry in enumerate(nodes):
            if not isinstance(entry, dict):
                raise self._bad("node %d is not an object" % node)
            if "tensor" in entry:
                index = entry["tensor"]
                if type(index) is not int or not 0 <= index < len(tensors) or owner[index]:
                    raise self._bad("node %d names tensor %r" % (node, index))
                owner[index] = True
                self.tensor_of.append(index)
                self.children.append({})
                self.path.append(tensor_paths[index])
                continue
            edges = entry.get("children")
            if not isinstance(edges, list):
                raise self._bad("node %d has no child list" % node)
            children = {}
            for edge in edges:
                if (
                    not isinstance(edge, list)
                    or len(edge) != 2
                    or not isinstance(edge[0], str)
                    or type(edge[1]) is not int
                    or not 0 < edge[1] < count
                ):
                    raise self._bad("node %d has a malformed edge %r" % (node, edge))
                children[edge[0]] = edge[1]
            self.tensor_of.append(None)
            self.children.append(children)
            self.path.append(None)
        if self.tensor_of[0] is not None:
            raise self._bad("the root node is a variable")
        if not all(owner):
            raise self._bad("a tensor belongs to no node")
        self.slots = {}
        for record in slots:
            if (
                not isinstance(record, list)
                or len(record) != 4
                or not isinstance(record[2], str)
                or any(type(record[i]) is not int or not 0 <= record[i] < count for i in (0, 1, 3))
                or self.tensor_of[record[0]] is not None
                or self.tensor_of[record[1]] is None
                or self.tensor_of[record[3]] is None
            ):
                raise self._bad("malformed slot record %r" % (record,))
            self.slots[(record[0], record[1], record[2])] = record[3]
        self._name_objects()

    def _bad(self, message):
        return CheckpointCorruptError("checkpoint %s is corrupt: %s" % (self.where, message))

    def _name_objects(self):
        # Object nodes carry no path in the file; rebuild their shortest paths for reports.
        self.path[0] = ""
        queue = deque([0])
        while queue:
            node = queue.popleft()
            for name, child in self.children[node].items():
                if self.path[child] is None:
                    self.path[child] = join_path(self.path[node], name)
                    queue.append(child)
        for node, path in enumerate(self.path):
            if path is None:
                self.path[node] = "<unreachable node %d>" % node

    def variable_nodes(self):
        return [node for node, index in enumerate(self.tensor_of) if index is not None]

    def describe(self, node):
        index = self.tensor_of[node]
        if index is None:
            return "object"
        array = self.arrays[index]
        return "variable %s%s" % (array.dtype.name, list(array.shape))

    def array(self, node):
        return self.arrays[self.tensor_of[node]]

    def release(self, nodes):
        """Keep only the arrays of ``nodes``, each in its own memory.

        Arrays first view the file buffer; the values still waiting for their variables
        are copied out once so that the buffer (the whole file) can be freed.
        """
        keep = {self.tensor_of[node] for node in nodes}
        for index, array in enumerate(self.arrays):
            if array is None:
                continue
            if index not in keep:
                self.arrays[index] = None
            elif array.base is not None:
                self.arrays[index] = np.array(array)
