"""TF 1.x names that exist only for graph construction, and what to do instead.

A missing name in ``compat.tf1`` raises an AttributeError saying either that the name
is graph-only (tapegrad executes eagerly, as TF 1.x does after
``enable_eager_execution()``, where these names fail too) or that it is simply not
implemented in the compatibility layer yet.
"""

_FEED = "pass values (tensors, arrays) to your functions directly"
_INIT = "variables are initialized when created"
_COLL = "graph collections do not exist in eager mode; keep your own lists, or use a " \
        "layer's or model's .variables / .trainable_variables"

GRAPH_ONLY = {
    "tf": {
        "placeholder": _FEED,
        "placeholder_with_default": _FEED,
        "sparse_placeholder": _FEED,
        "Session": "ops run as they are called; read a value with tensor.numpy()",
        "InteractiveSession": "ops run as they are called; read a value with tensor.numpy()",
        "global_variables_initializer": _INIT,
        "local_variables_initializer": _INIT,
        "initialize_all_variables": _INIT,
        "variables_initializer": _INIT,
        "tables_initializer": "tables need no initialization in eager mode",
        "Graph": "there is no graph",
        "get_default_graph": "there is no graph",
        "reset_default_graph": "there is no graph; drop your Python references instead",
        "GraphKeys": _COLL,
        "get_collection": _COLL,
        "add_to_collection": _COLL,
        "global_variables": _COLL,
        "trainable_variables": _COLL,
        "local_variables": _COLL,
        "gradients": "use tf.GradientTape (or tfe.gradients_function)",
        "train": "",
        "import_graph_def": "there is no graph",
        "RunOptions": "there is no Session.run",
        "RunMetadata": "there is no Session.run",
        "ConfigProto": "pass nothing: tf.enable_eager_execution() ignores its config",
    },
    "tf.train": {
        "Saver": "use tf.train.Checkpoint (object-based checkpoints)",
        "MonitoredTrainingSession": "write the training loop in Python",
        "MonitoredSession": "write the training loop in Python",
        "Scaffold": "write the training loop in Python",
        "SessionRunHook": "write the training loop in Python",
        "start_queue_runners": "use tf.data.Dataset",
        "QueueRunner": "use tf.data.Dataset",
        "Coordinator": "use tf.data.Dataset",
        "import_meta_graph": "use tf.train.Checkpoint",
        "export_meta_graph": "use tf.train.Checkpoint",
        "write_graph": "there is no graph",
        "SyncReplicasOptimizer": "not applicable without graphs",
    },
    "tf.contrib.summary": {
        "all_summary_ops": "summary calls write as they run",
        "initialize": "writers need no initialization in eager mode",
        "summary_writer_initializer_op": "writers need no initialization in eager mode",
    },
}
GRAPH_ONLY["tf"].pop("train")


def missing(namespace, attr, module_style=False):
    """The AttributeError for ``namespace.attr``: graph-only, or not implemented yet."""
    head = ("module 'tapegrad.compat.tf1' has no attribute %r" % attr if module_style
            else "%s has no attribute %r" % (namespace, attr))
    hint = GRAPH_ONLY.get(namespace, {}).get(attr)
    if hint is not None:
        return AttributeError(
            "%s: %s.%s is graph-only TF 1.x API with no eager counterpart (tapegrad executes "
            "eagerly, like TF 1.x after enable_eager_execution()); %s"
            % (head, namespace, attr, hint))
    return AttributeError(
        "%s: not implemented in tapegrad.compat.tf1 yet (it maps the TF 1.x eager names "
        "listed in the README; the native tapegrad API may have it)" % head)
