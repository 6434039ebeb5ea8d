"""Puts the weights an SMLT run trained back into the notebook's Keras model, with numpy only.

SMLT saves a trained model as a TensorFlow.js layers model (`model.json` + `weights.bin`). The
`tensorflowjs` Python package that reads those does not work with Keras 3; this file does the one
thing needed instead: read the weights and `set_weights` them on the user's own model, layer by
layer, checking every name and shape. SMLT copies it into each run folder of a Keras model.

    import sys; sys.path.insert(0, ".smlt/runs/<run>")
    from smlt_keras import load_weights
    load_weights(model, ".smlt/runs/<run>")      # also writes .smlt/runs/<run>/model.keras
"""

import json
import os

__all__ = ["load_weights", "read_weights", "WeightsMismatch"]

# Bytes per value of the dtypes tfjs writes.
_DTYPES = {"float32": ("<f4", 4), "int32": ("<i4", 4), "bool": ("|b1", 1), "uint8": ("|u1", 1)}


class WeightsMismatch(ValueError):
    """The run's weights do not fit the model they are loaded into."""


def _model_json_path(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        inner = os.path.join(path, "model", "model.json")
        return inner if os.path.exists(inner) else os.path.join(path, "model.json")
    return path


def read_weights(path):
    """The weights of a tfjs layers model folder (or a run folder), in order: [(name, numpy array)]."""
    import numpy as np

    model_json = _model_json_path(path)
    with open(model_json, encoding="utf-8") as f:
        manifest = json.load(f)["weightsManifest"]
    folder = os.path.dirname(os.path.abspath(model_json))
    weights = []
    for group in manifest:
        data = b""
        for part in group["paths"]:
            file = os.path.normpath(os.path.join(folder, part))
            if os.path.dirname(file) != folder and not file.startswith(folder + os.sep):
                raise WeightsMismatch(f"{model_json} names the weights file {part}, outside {folder}.")
            with open(file, "rb") as f:
                data += f.read()
        offset = 0
        for spec in group["weights"]:
            if "quantization" in spec:
                raise WeightsMismatch(f"{spec['name']} is quantized; SMLT saves float32 weights only.")
            dtype, size = _DTYPES[spec["dtype"]]
            count = int(np.prod(spec["shape"], dtype=np.int64))
            end = offset + count * size
            if end > len(data):
                raise WeightsMismatch(f"{model_json}: the weights file ends inside {spec['name']} (truncated).")
            array = np.frombuffer(data[offset:end], dtype=dtype).reshape(spec["shape"])
            weights.append((spec["name"], array.copy()))
            offset = end
    return weights


def load_weights(model, path, save_as="model.keras"):
    """Sets `model`'s weights to the run's, matching them by layer name and shape.

    `path` is the run folder, its `model/` folder, or the `model.json`. `save_as` (relative to
    the run folder, or absolute; None to skip) receives the model as a `.keras` file. Returns the
    model. Raises WeightsMismatch, naming the layer, when the run trained a different model.
    """
    trained = read_weights(path)
    by_layer = {}
    for name, array in trained:
        by_layer.setdefault(name.split("/")[0], []).append((name, array))

    assignments = []
    for layer in model.layers:
        wanted = layer.weights
        if not wanted:
            continue
        got = by_layer.pop(layer.name, None)
        if got is None:
            raise WeightsMismatch(
                f"The run has no weights for the layer {layer.name!r} ({type(layer).__name__}); it trained a model "
                f"with the layers {sorted(by_layer) or 'none left'}. Load the run into the model it trained."
            )
        if len(got) != len(wanted):
            raise WeightsMismatch(
                f"The layer {layer.name!r} has {len(wanted)} weights and the run has {len(got)} for it "
                f"({', '.join(n for n, _ in got)})."
            )
        for variable, (name, array) in zip(wanted, got):
            if tuple(variable.shape) != tuple(array.shape):
                raise WeightsMismatch(
                    f"{name} has shape {list(array.shape)} in the run but {variable.path if hasattr(variable, 'path') else variable.name} "
                    f"is {list(variable.shape)} in the model."
                )
        assignments.append((layer, [array for _, array in got]))
    if by_layer:
        raise WeightsMismatch(f"The model has no layers named {sorted(by_layer)}, which the run trained.")
    for layer, arrays in assignments:
        layer.set_weights(arrays)

    if save_as:
        run_dir = os.path.dirname(os.path.dirname(os.path.abspath(_model_json_path(path))))
        target = save_as if os.path.isabs(save_as) else os.path.join(run_dir, save_as)
        model.save(target)
    return model
