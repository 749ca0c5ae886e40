"""``get_config`` / ``from_config`` of functional models, and ``clone_model``.

The config follows Keras' layout: ``{"name", "layers", "input_layers", "output_layers"}``;
each entry of ``layers`` is ``{"class_name", "name", "config", "inbound_nodes"}``, one
inbound node per call of the layer inside the model.  A node lists the call's
arguments with every symbolic tensor replaced by a reference
``["__keras_tensor__", layer_name, node_index, tensor_index]``: the output
``tensor_index`` of the ``node_index``-th call of that layer.  Unlike Keras, a node
keeps the call's whole structure (``{"inputs", "args", "kwargs"}``), so a list input,
``initial_state=[...]`` or a mask argument come back as they were.  The config holds
only JSON values (plus what the layers' own configs hold); weights are not part of it.

``from_config`` creates the layers from their configs and replays the calls in order,
as Keras does: a layer's node waits until the tensors it reads exist.
"""

from tapegrad.layers.base import KerasTensor

__all__ = ["functional_config", "functional_from_config", "clone_model", "deserialize_layer",
           "layer_from_config", "serialize_layer"]

_REF = "__keras_tensor__"


def _encode(value, refs, where):
    if type(value) is KerasTensor:
        return [_REF] + list(refs[id(value)])
    if isinstance(value, (list, tuple)):
        return [_encode(v, refs, where) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[k, _encode(v, refs, where)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"get_config: {where} is called with an argument of type "
                    f"{type(value).__name__}, which a config cannot hold (only symbolic "
                    "tensors, numbers, strings, None and lists/dicts of them)")


def _decode(value, tensors):
    if isinstance(value, list):
        if len(value) == 4 and value[0] == _REF:
            return tensors[(value[1], value[2], value[3])]
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict) and "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"]}
    return value


def _ready(value, tensors):
    if isinstance(value, list):
        if len(value) == 4 and value[0] == _REF:
            return (value[1], value[2], value[3]) in tensors
        return all(_ready(v, tensors) for v in value)
    if isinstance(value, dict) and "__dict__" in value:
        return all(_ready(v, tensors) for _, v in value["__dict__"])
    return True


def functional_config(model):
    """The config of a functional model (see the module docstring)."""
    from tapegrad.layers.functional import InputLayer, _flatten

    refs = {}             # id(KerasTensor) -> (layer name, node index, tensor index)
    calls = {}            # id(layer) -> number of nodes so far
    entries = {}          # id(layer) -> its entry in "layers"
    names = set()
    order = []
    for layer in model.layers:
        if layer.name in names:
            raise ValueError(f"get_config: two layers of {model.name!r} are named "
                             f"{layer.name!r}; names must be unique to rebuild the model")
        names.add(layer.name)
        if isinstance(layer, InputLayer):
            shape = layer._build_output_shape
            config = {"batch_input_shape": list(shape), "dtype": layer.dtype.name,
                      "name": layer.name}
        else:
            config = layer.get_config()
        entry = {"class_name": type(layer).__name__, "name": layer.name, "config": config,
                 "inbound_nodes": []}
        entries[id(layer)] = entry
        order.append(entry)
    for t in model._flat_inputs:
        refs[id(t)] = (t.node.layer.name, 0, 0)
    for node in model._nodes:
        layer = node.layer
        index = calls.get(id(layer), 0)
        calls[id(layer)] = index + 1
        where = f"layer {layer.name!r}"
        entries[id(layer)]["inbound_nodes"].append({
            "inputs": _encode(node.inputs, refs, where),
            "args": _encode(list(node.args), refs, where),
            "kwargs": _encode(dict(node.kwargs), refs, where)})
        for k, t in enumerate(_flatten(node.outputs)):
            refs[id(t)] = (layer.name, index, k)
    return {
        "name": model.name,
        "layers": order,
        "input_layers": _encode(model._input_structure, refs, "the model's inputs"),
        "output_layers": _encode(model._output_structure, refs, "the model's outputs"),
    }


def layer_from_config(class_name, config, custom_objects=None, where="Model.from_config"):
    """A new layer (or model) of the class saved as ``class_name``: looked up in
    ``custom_objects``, the registered classes (tapegrad/saving/registry.py), then
    ``tg.layers`` and ``tapegrad.models``; models get ``custom_objects`` too."""
    from tapegrad.models import Model
    from tapegrad.saving.registry import resolve

    if class_name == "Functional":  # Keras' name of a functional model's class
        class_name = "Model"
    cls = resolve(class_name, "layer", custom_objects, where)
    if issubclass(cls, Model):
        return cls.from_config(dict(config), custom_objects=custom_objects)
    return cls.from_config(dict(config))


def serialize_layer(layer):
    """``{"class_name", "config"}`` of a layer held by another (a wrapper's ``layer``)."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(spec, custom_objects=None):
    """The layer :func:`serialize_layer` described (fresh weights)."""
    return layer_from_config(spec["class_name"], spec["config"], custom_objects,
                             "from_config")


def functional_from_config(config, custom_objects=None):
    """A new functional model (fresh weights) from :func:`functional_config`'s output."""
    from tapegrad.layers.functional import Input, _flatten
    from tapegrad.models import Model

    tensors = {}
    pending = []          # [layer, [node configs not replayed yet], next node index]
    for entry in config["layers"]:
        cfg = dict(entry["config"])
        if entry["class_name"] == "InputLayer":
            shape = cfg["batch_input_shape"]
            tensors[(entry["name"], 0, 0)] = Input(batch_shape=tuple(shape),
                                                   dtype=cfg.get("dtype"), name=entry["name"])
            continue
        layer = layer_from_config(entry["class_name"], cfg, custom_objects)
        pending.append([layer, list(entry["inbound_nodes"]), 0])
    # replay the calls: each pass runs every node whose inputs exist (Keras' order)
    while any(p[1] for p in pending):
        progressed = False
        for item in pending:
            layer, nodes, index = item
            while nodes and all(_ready(nodes[0][part], tensors)
                                for part in ("inputs", "args", "kwargs")):
                node = nodes.pop(0)
                out = layer(_decode(node["inputs"], tensors),
                            *_decode(node["args"], tensors),
                            **_decode(node["kwargs"], tensors))
                if isinstance(out, tuple):
                    out = list(out)
                for k, t in enumerate(_flatten(out)):
                    tensors[(layer.name, index, k)] = t
                index += 1
                item[2] = index
                progressed = True
        if not progressed:
            stuck = [p[0].name for p in pending if p[1]]
            raise ValueError(f"Model.from_config: the calls of layers {stuck} read tensors "
                             "no layer produces; the config is inconsistent")
    inputs = _decode(config["input_layers"], tensors)
    outputs = _decode(config["output_layers"], tensors)
    return Model(inputs, outputs, name=config.get("name"))


def clone_model(model, clone_function=None):
    """A new model with the same architecture and fresh weights (Keras'
    ``clone_model``): Sequential and functional models, rebuilt from their config.
    ``clone_function(layer) -> layer`` may replace the default (``from_config`` of the
    layer's config) for Sequential models.  Subclassed models raise: their structure
    is their code."""
    from tapegrad.models import FunctionalModel, Sequential

    if isinstance(model, Sequential):
        if clone_function is None:
            return Sequential.from_config(model.get_config())
        return Sequential([clone_function(layer) for layer in model.layers],
                          name=model.name)
    if isinstance(model, FunctionalModel):
        if clone_function is not None:
            raise ValueError("clone_model: clone_function is supported for Sequential "
                             "models only")
        return functional_from_config(functional_config(model))
    raise ValueError(f"clone_model: {type(model).__name__} is a subclassed model; only "
                     "Sequential and functional models can be cloned")
