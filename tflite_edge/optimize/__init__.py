"""The optimize -> convert stage: pruning, (pruning-preserving) QAT, distillation, int8 TFLite.

`convert()` takes a trained Keras model and data and returns a full-integer int8 .tflite with
the numbers that prove it is worth deploying: accuracy in the TFLM interpreter, weight
sparsity read from the flatbuffer, sizes and TFLM's real arena.

One file per job (imports run downwards only: keras <- pruning, qat <- conversion; keras <-
distillation):

- keras.py: loading tf_keras / Keras 3 models, the checks of inputs, labels and layers, the
  task (loss and score), training with a progress bar, TensorFlow imported quietly
- pruning.py: magnitude and 2:4 structured pruning schedules, tfmot pruning
- qat.py: quantization-aware training (QAT, and PQAT that keeps the pruned zeros)
- conversion.py: ConversionResult, convert(), the TFLite conversion and the int8 evaluation
- distillation.py: distill()

TensorFlow, tf_keras and tfmot are imported inside the functions: `import tflite_edge` stays fast.
"""

from __future__ import annotations

from ..files import write_atomic  # noqa: F401  (public here since the start)
from .conversion import REPRESENTATIVE_SAMPLES, ConversionResult, convert
from .distillation import distill

# demo.py and benchmark.py load TensorFlow / tf_keras through these (quiet, Keras 2 first).
from .keras import _tf, _tf_keras, load_keras  # noqa: F401
from .pruning import STRUCTURED

__all__ = [
    "REPRESENTATIVE_SAMPLES",
    "STRUCTURED",
    "ConversionResult",
    "convert",
    "distill",
    "load_keras",
]
