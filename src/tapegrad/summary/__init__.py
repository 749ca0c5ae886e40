"""TensorBoard summaries (the guide's ``tf.contrib.summary``).

    writer = tg.summary.create_file_writer(logdir)
    with writer.as_default(), tg.summary.record_summaries_every_n_global_steps(100):
        tg.summary.scalar("loss", loss)

tensorboard itself is imported only when the first writer is created.
"""

from tapegrad.summary.ops import histogram, image, scalar, text
from tapegrad.summary.policy import (
    always_record_summaries,
    never_record_summaries,
    record_if,
    record_summaries_every_n_global_steps,
    should_record_summaries,
)
from tapegrad.summary.writer import SummaryWriter, create_file_writer, flush

__all__ = [
    "SummaryWriter",
    "create_file_writer",
    "flush",
    "scalar",
    "histogram",
    "image",
    "text",
    "record_if",
    "always_record_summaries",
    "never_record_summaries",
    "record_summaries_every_n_global_steps",
    "should_record_summaries",
]
