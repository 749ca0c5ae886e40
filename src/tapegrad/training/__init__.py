"""Keras' training loop: ``Model.compile``/``fit``/``evaluate``/``predict`` and their helpers.

``losses`` holds Keras' loss objects (``SparseCategoricalCrossentropy(from_logits=True)``),
``compile_utils`` resolves the names ``compile`` accepts, ``data_adapter`` turns arrays,
tensors and datasets into batches, and ``engine`` holds the loop itself (mixed into
``tg.Model``).
"""
