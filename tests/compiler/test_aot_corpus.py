"""Issue 14's corpus: models a Keras user would bring (built in aot_corpus.py, int8, 16x8 and
float-I/O forms) and the reference models on disk (MLPerf Tiny, TFLM's examples, TFLM's own
SVDF test model). Every one the TFLM interpreter runs is bit-exact under AOT on every output,
or refused in one line naming an op the AOT has no kernel for (for the model's types); at
least 90% run under AOT."""

from __future__ import annotations

import numpy as np
import pytest
from aot_corpus import BUILDERS, corpus_model_bytes, kinds_of

import multi_io_models as mm
from conftest import SHARED_MODELS, tflm_tree
from tflite_edge.compiler import EMITTERS, aot_problem, build_host_runner, compile_aot
from tflite_edge.errors import TFLiteEdgeError, UnsupportedOpError
from tflite_edge.model import load_model
from tflite_edge.reference import Reference, measure_arena

N_INPUTS = 4


def corpus() -> dict[str, bytes | str]:
    """name -> .tflite bytes, or the TFLite converter's refusal (e.g. 16x8 HARD_SWISH or
    LSTM: such a model does not exist, so it is no part of the corpus)."""
    out: dict[str, bytes | str] = {}
    for name in BUILDERS:
        for kind in kinds_of(name):
            try:
                out[f"{name}-{kind}"] = corpus_model_bytes(name, kind)
            except Exception as err:  # noqa: BLE001 (the converter raises bare exceptions)
                out[f"{name}-{kind}"] = str(err).strip().splitlines()[0]
    for path in sorted(SHARED_MODELS.glob("*.tflite")):
        out[path.stem] = path.read_bytes()
    tree = tflm_tree()
    assert tree is not None, "the corpus takes TFLM's keyword_scrambled.tflite: set TFLM_DIR"
    out["keyword_scrambled"] = (
        tree / "tensorflow/lite/micro/models/keyword_scrambled.tflite"
    ).read_bytes()
    return out


def _outputs(run, feeds, multi: bool) -> list[np.ndarray]:
    got = run(feeds if multi else feeds[0])
    return list(got) if multi else [got]


def _verdict(name: str, data: bytes, tmp_path) -> str | None:
    """ "aot" when the AOT output equals TFLM's on every output; the op of a refusal (checked
    to be one without an AOT kernel for its types); None when TFLM itself does not run it."""
    model = load_model(data)
    feeds = mm.random_feeds(model, N_INPUTS, seed=len(name))
    try:
        measure_arena(model)  # in a child process: TFLM aborts on some models (MobileNetV2)
        ref = Reference(data)
        want = _outputs(ref.run, feeds, ref.multi)
    except TFLiteEdgeError:
        return None
    problem = aot_problem(data)
    if problem is not None:
        assert isinstance(problem, UnsupportedOpError), f"{name}: {problem}"
        assert "\n" not in str(problem)
        ops = [o for o in model.operators if o.op == problem.op]
        types = {np.dtype(model.tensors[t].dtype).name for o in ops for t in o.outputs}
        emitter = EMITTERS.get(problem.op)
        assert emitter is None or not types <= set(emitter.dtypes), (
            f"{name}: the AOT has {problem.op} for {emitter.dtypes} but refused it: {problem}"
        )
        return problem.op
    compile_aot(data, tmp_path / name)
    runner = build_host_runner(tmp_path / name)
    got = _outputs(runner.run, feeds, ref.multi)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.tobytes() == w.tobytes(), f"{name}: output {k} differs from TFLM"
    return "aot"


@pytest.mark.slow
def test_every_corpus_model_tflm_runs_is_bit_exact_under_aot_or_names_the_op(tmp_path):
    verdicts, not_tflm, wrong = {}, [], []
    for name, data in corpus().items():
        if isinstance(data, str):  # the converter has no such model
            continue
        try:
            verdict = _verdict(name, data, tmp_path)
        except AssertionError as err:  # every model is judged; all failures are listed
            wrong.append(str(err).splitlines()[0])
            continue
        if verdict is None:
            not_tflm.append(name)
        else:
            verdicts[name] = verdict
    aot = sorted(n for n, v in verdicts.items() if v == "aot")
    refused = {n: v for n, v in verdicts.items() if v != "aot"}
    print(f"\ncorpus: {len(aot)}/{len(verdicts)} under AOT; refused {refused}; "
          f"TFLM does not run {not_tflm}; wrong {wrong}")  # fmt: skip
    assert wrong == []
    assert len(verdicts) >= 25
    assert len(aot) >= 0.9 * len(verdicts), f"{len(aot)}/{len(verdicts)}; refused: {refused}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm_keywords-int8", "unet-int16", "slicing_and_math-float_io"])
def test_a_sample_of_the_corpus_on_qemu_m4(name, tmp_path):
    """Recurrent state, 16x8 upsampling and float I/O through the whole kit on an emulated
    Cortex-M4: the board's output CRC32 equals the TFLM interpreter's on the same input."""
    from tflite_edge import flash

    model, kind = name.rsplit("-", 1)
    result = flash(corpus_model_bytes(model, kind), board="qemu-m4", runtime="aot", runs=2,
                   profile=False, out_dir=tmp_path / "fw")  # fmt: skip
    assert result.runtime == "aot" and result.matches_tflm is True, result.summary()
