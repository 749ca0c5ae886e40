"""Keras callbacks for ``Model.fit``/``evaluate``/``predict`` (``tf.keras.callbacks``).

A callback receives the model (``set_model``), the run's parameters (``set_params``:
``epochs``, ``steps``, ``verbose``) and the hooks ``on_{train,test,predict}_{begin,end}``,
``on_epoch_{begin,end}`` and ``on_{train,test,predict}_batch_{begin,end}``, each with a
``logs`` dict of plain floats.  Setting ``model.stop_training = True`` ends ``fit`` after
the current epoch (after the current batch for ``TerminateOnNaN``).
"""

from tapegrad.callbacks.base import (
    Callback,
    CallbackList,
    History,
    LambdaCallback,
    TerminateOnNaN,
)
from tapegrad.callbacks.logging import CSVLogger, TensorBoard
from tapegrad.callbacks.monitor import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from tapegrad.callbacks.progbar import ProgbarLogger
from tapegrad.callbacks.schedule import LearningRateScheduler, get_learning_rate, set_learning_rate

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "ProgbarLogger",
    "ModelCheckpoint",
    "EarlyStopping",
    "TensorBoard",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "TerminateOnNaN",
    "LambdaCallback",
    "get_learning_rate",
    "set_learning_rate",
]
