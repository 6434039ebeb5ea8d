"""Runs a notebook's Python cells up to the first Keras `Model.fit` and records what it would train.

SMLT trains unmodified Keras notebooks: this script, started by SMLT with the notebook's Python,
runs the code cells in order with `keras.Model.fit` replaced by a recorder. At the first `fit`
call it writes the model (`to_json()`), its compile settings (`get_compile_config()`), the fit
arguments and the arrays (as `.npy` files with their SHA-256) to the output folder, and stops: no
cell after it runs. It does not train and does not judge whether SMLT can train the model: the
caller maps Keras to SMLT (`capture/keras-compile.ts`) and checks the data.

    python smlt_fit_recorder.py REQUEST.json

REQUEST.json: {"cells": [{"index": 0, "source": "..."}], "outDir": "...", "maxDataBytes": N}.
Messages to SMLT go, one JSON object a line, to file descriptor 3; the cells' own output goes to
stdout and stderr, which SMLT keeps in a log file.
"""

import ast
import hashlib
import inspect
import json
import os
import sys
import traceback

PROTOCOL = None


def send(message):
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


class Refused(BaseException):
    """Something in the notebook SMLT cannot honour; `code` is an SmltError code (a BaseException, so that a
    cell's own `except Exception` around fit does not swallow it)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class FitReached(BaseException):
    """Raised from the recorder to stop the notebook at `fit` (a BaseException: `except Exception` in a cell does not catch it)."""


# ---------------------------------------------------------------- the cells


def runnable_source(source):
    """IPython magics (`%matplotlib inline`, `!pip install ...`) are not Python: they become `pass`."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            lines.append(line[: len(line) - len(stripped)] + "pass")
        else:
            lines.append(line)
    return "\n".join(lines)


def cell_name(index):
    return f"<cell {index + 1}>"


def fit_calls(cells):
    """(cell index, line, receiver source, call source) of every `<expr>.fit(...)` written in the cells."""
    calls = []
    for cell in cells:
        try:
            tree = ast.parse(runnable_source(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fit":
                calls.append((cell["index"], node.lineno, ast.unparse(node.func.value), node))
    return calls


# ---------------------------------------------------------------- the recorder


def as_array(value, what):
    import numpy as np

    if value is None:
        return None
    if isinstance(value, dict):
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"{what} is a dict (a model with named inputs or outputs); SMLT trains models with one input and one "
            "output: pass one array.",
        )
    if isinstance(value, (list, tuple)) and value and all(hasattr(v, "shape") for v in value):
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"{what} is a list of {len(value)} arrays (a model with several inputs or outputs); SMLT trains models "
            "with one input and one output.",
        )
    module = type(value).__module__
    if module.startswith("pandas"):
        if hasattr(value, "dtypes") and hasattr(value.dtypes, "items"):
            for column, dtype in value.dtypes.items():
                if dtype.kind not in "biuf":
                    raise Refused(
                        "DATA_INVALID",
                        f"{what} (a DataFrame) has the column {column!r} of type {dtype}; every column must be "
                        "numeric. Encode it (e.g. pd.get_dummies) or drop it before fit.",
                    )
        return value.to_numpy()
    if hasattr(value, "numpy") and callable(value.numpy):  # tf.Tensor, Keras variable
        return np.asarray(value.numpy())
    try:
        array = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise Refused("DATA_INVALID", f"{what} cannot be read as one array: {err}") from err
    if array.dtype == object:
        raise Refused(
            "DATA_INVALID",
            f"{what} holds Python objects (dtype object), not numbers: give it as a numeric or string array.",
        )
    return array


def is_dataset(value):
    return type(value).__module__.startswith("tensorflow") and hasattr(value, "element_spec") and hasattr(value, "cardinality")


def is_generator_like(value):
    if inspect.isgenerator(value):
        return True
    name = type(value).__name__
    bases = [c.__name__ for c in type(value).__mro__]
    return "PyDataset" in bases or "Sequence" in bases or name == "DataLoader" or (
        hasattr(value, "__next__") and not hasattr(value, "__len__")
    )


def materialize_dataset(dataset, what, max_bytes):
    """A finite tf.data.Dataset of (x, y) → two arrays, plus its batch size when it is batched."""
    import numpy as np
    import tensorflow as tf

    cardinality = int(dataset.cardinality())
    if cardinality == int(tf.data.INFINITE_CARDINALITY):
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"{what} is an infinite tf.data.Dataset (.repeat() without a count); SMLT needs the finite data set: "
            "drop .repeat() and use epochs.",
        )
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"{what} is a tf.data.Dataset whose elements are not (x, y) pairs; SMLT needs (features, labels) elements.",
        )
    if len(spec) == 3:
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"{what} yields (x, y, sample_weight); SMLT does not apply sample weights. Map the dataset to (x, y).",
        )
    batched = len(spec[0].shape) > 0 and spec[0].shape[0] is None
    xs, ys, total, batch = [], [], 0, None
    for x, y in dataset.as_numpy_iterator():
        total += x.nbytes + y.nbytes
        if total > max_bytes:
            raise Refused(
                "DATA_INVALID",
                f"{what} holds more than {max_bytes // 2**20} MB; SMLT reads a tf.data.Dataset into memory up to that "
                "size. Pass arrays, or take a part of it (.take(n)).",
            )
        if batched and batch is None:
            batch = int(x.shape[0])
        xs.append(x)
        ys.append(y)
    if not xs:
        raise Refused("DATA_INVALID", f"{what} is an empty tf.data.Dataset.")
    join = np.concatenate if batched else np.stack
    return join(xs), join(ys), batch


def split_validation(x, y, fraction):
    """As Keras does: the last `fraction` of the samples, before any shuffling."""
    split = int(len(x) * (1 - fraction))
    return (x[:split], y[:split]), (x[split:], y[split:])


def write_array(out_dir, name, array):
    import numpy as np

    if array.dtype.kind in "biu":
        array = array.astype(np.int32)
    elif array.dtype.kind == "f":
        array = array.astype(np.float32)
    elif array.dtype.kind not in "U":
        array = array.astype(str)
    array = np.ascontiguousarray(array)
    path = os.path.join(out_dir, f"{name}.npy")
    np.save(path, array, allow_pickle=False)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": path, "shape": list(array.shape), "dtype": str(array.dtype), "sha256": digest.hexdigest()}


def custom_parts(model):
    """Classes of the model and its layers that are not Keras' own (a subclassed model, custom layers)."""
    found = []
    if not type(model).__module__.startswith(("keras", "tf_keras")):
        found.append(f"the model class {type(model).__name__}")
    for layer in model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else model.layers:
        module = type(layer).__module__
        if not module.startswith(("keras", "tf_keras")):
            found.append(f"the layer {layer.name!r} ({type(layer).__name__})")
        elif type(layer).__name__ == "Lambda":
            found.append(f"the Lambda layer {layer.name!r} (its Python function cannot leave the notebook)")
    return found


def recorder(original_fit, request, cells, namespace):
    signature = inspect.signature(original_fit)

    def fit(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        frame = inspect.currentframe().f_back
        record(self, bound.arguments, frame, request, cells, namespace)
        raise FitReached()

    fit.__signature__ = signature
    return fit


def record(model, arguments, frame, request, cells, namespace):
    import keras

    where = call_site(frame, cells)
    custom = custom_parts(model)
    if custom:
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"The model fitted {where['text']} uses {', '.join(custom)}, which SMLT cannot rebuild on its workers "
            "(they run TensorFlow.js, which knows Keras' built-in layers only). Use built-in layers, or train this "
            "model with Keras itself.",
        )
    if not getattr(model, "compiled", True) or getattr(model, "optimizer", None) is None:
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"The model fitted {where['text']} was never compiled: call model.compile(optimizer=..., loss=...) before fit.",
        )
    # The data first: a generator is the most basic thing SMLT cannot take.
    x, y = arguments.get("x"), arguments.get("y")
    for value, what in ((x, "x"), (y, "y")):
        if value is not None and is_generator_like(value) and not is_dataset(value):
            raise Refused(
                "KERAS_UNSUPPORTED",
                f"fit() {where['text']} gets {what} from a Python generator or Sequence ({type(value).__name__}); SMLT "
                "needs the data itself: pass numpy arrays, a DataFrame, or a finite tf.data.Dataset.",
            )
    for name in ("sample_weight", "class_weight"):
        if arguments.get(name) is not None:
            raise Refused(
                "KERAS_UNSUPPORTED",
                f"fit() {where['text']} passes {name}, which SMLT does not apply (every sample counts the same). "
                f"Remove {name}, or resample the data to the balance you want.",
            )
    for name, default in (("initial_epoch", 0), ("steps_per_epoch", None), ("validation_steps", None), ("validation_freq", 1)):
        if name in arguments and arguments[name] != default:
            raise Refused(
                "KERAS_UNSUPPORTED",
                f"fit() {where['text']} passes {name}={arguments[name]!r}; SMLT trains whole epochs over the whole data "
                f"set. Remove {name}.",
            )
    extra = arguments.get("kwargs") or {}
    if extra:
        raise Refused("KERAS_UNSUPPORTED", f"fit() {where['text']} passes {', '.join(sorted(extra))}, which SMLT does not know.")

    warnings = []
    callbacks = arguments.get("callbacks") or []
    if callbacks:
        names = ", ".join(type(c).__name__ for c in callbacks)
        warnings.append(f"fit's callbacks are not run on serverless workers and are ignored: {names}.")
    if arguments.get("shuffle") is False:
        warnings.append("fit(shuffle=False) is ignored: SMLT shuffles the training samples every epoch.")

    max_bytes = int(request.get("maxDataBytes", 2 << 30))
    dataset_batch = None
    if is_dataset(x):
        x, y, dataset_batch = materialize_dataset(x, f"The x given to fit() {where['text']}", max_bytes)
    else:
        x = as_array(x, f"The x given to fit() {where['text']}")
        y = as_array(y, f"The y given to fit() {where['text']}")
    if x is None or y is None:
        raise Refused("KERAS_UNSUPPORTED", f"fit() {where['text']} needs both x and y (labels); SMLT trains supervised models.")

    validation = None
    validation_data = arguments.get("validation_data")
    if validation_data is not None:
        if is_dataset(validation_data):
            vx, vy, _ = materialize_dataset(validation_data, "validation_data", max_bytes)
        elif isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            vx = as_array(validation_data[0], "validation_data's x")
            vy = as_array(validation_data[1], "validation_data's y")
        else:
            raise Refused(
                "KERAS_UNSUPPORTED",
                "validation_data must be (x_val, y_val) or a tf.data.Dataset; sample weights in it are not applied.",
            )
        validation = (vx, vy)
    elif arguments.get("validation_split"):
        (x, y), validation = split_validation(x, y, float(arguments["validation_split"]))

    if not model.built:
        model.build((None,) + tuple(x.shape[1:]))

    batch_size = arguments.get("batch_size")
    if batch_size is None:
        batch_size = dataset_batch or 32
    out_dir = request["outDir"]
    arrays = {"x": write_array(out_dir, "x", x), "y": write_array(out_dir, "y", y)}
    if validation is not None:
        arrays["validation_x"] = write_array(out_dir, "validation_x", validation[0])
        arrays["validation_y"] = write_array(out_dir, "validation_y", validation[1])

    others = other_models_fitted(model, cells, namespace)
    if others:
        raise Refused(
            "KERAS_UNSUPPORTED",
            f"The notebook fits more than one Keras model: {where['receiver']} {where['text']} and "
            f"{', '.join(others)}. SMLT trains one model per run: comment out the other fit() calls, or move them "
            "to a separate notebook.",
        )

    send(
        {
            "type": "fit",
            "cell": where["cell"],
            "line": where["line"],
            "call": where["call"],
            "names": {"model": where["receiver"], "x": where["x"], "y": where["y"]},
            "modelClass": type(model).__name__,
            "paramCount": int(model.count_params()),
            "modelJson": json.loads(model.to_json()),
            "compileConfig": model.get_compile_config(),
            "fit": {
                "epochs": int(arguments.get("epochs") or 1),
                "batchSize": int(batch_size),
                "validationSplit": arguments.get("validation_split") or 0,
                "validationData": validation_data is not None,
                "fromDataset": dataset_batch is not None or is_dataset(arguments.get("x")),
            },
            "arrays": arrays,
            "warnings": warnings,
            "kerasVersion": keras.__version__,
        }
    )


def call_site(frame, cells):
    """The fit call as the notebook wrote it: cell, line, the receiver and the names of x and y."""
    index = None
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<cell ") and name.endswith(">"):
            index = int(name[6:-1]) - 1
            line = frame.f_lineno
            break
        frame = frame.f_back
    if index is None:
        return {"cell": None, "line": None, "call": "fit(...)", "receiver": "model", "x": None, "y": None, "text": "(called outside the cells)"}
    for cell, lineno, receiver, node in fit_calls([c for c in cells if c["index"] == index]):
        if lineno <= line <= (node.end_lineno or lineno):
            args = {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg}
            positional = [ast.unparse(a) for a in node.args]
            x = positional[0] if positional else args.get("x")
            y = positional[1] if len(positional) > 1 else args.get("y")
            return {
                "cell": index,
                "line": line,
                "call": ast.unparse(node),
                "receiver": receiver,
                "x": x,
                "y": y,
                "text": f"in cell {index + 1}",
            }
    return {"cell": index, "line": line, "call": "fit(...)", "receiver": "model", "x": None, "y": None, "text": f"in cell {index + 1}"}


def other_models_fitted(model, cells, namespace):
    """`.fit` calls in the notebook on names bound to another Keras model."""
    import keras

    others = []
    for index, _, receiver, _ in fit_calls(cells):
        value = namespace.get(receiver)
        if isinstance(value, keras.Model) and value is not model:
            others.append(f"{receiver} in cell {index + 1}")
    return others


# ---------------------------------------------------------------- main


def main():
    global PROTOCOL
    PROTOCOL = os.fdopen(3, "w")
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    cells = request["cells"]
    os.environ.setdefault("MPLBACKEND", "Agg")
    send({"type": "started", "cells": len(cells), "python": sys.version.split()[0]})
    try:
        import keras
    except ImportError as err:
        send({"type": "error", "code": "PYTHON_NOT_FOUND", "message": f"{sys.executable} cannot import keras ({err})."})
        return 1

    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    keras.Model.fit = recorder(keras.Model.fit, request, cells, namespace)
    for position, cell in enumerate(cells):
        send({"type": "cell", "cell": cell["index"], "position": position + 1, "of": len(cells)})
        source = runnable_source(cell["source"])
        try:
            code = compile(source, cell_name(cell["index"]), "exec")
            exec(code, namespace)
        except FitReached:
            return 0
        except Refused as err:
            send({"type": "error", "code": err.code, "message": str(err)})
            return 1
        except SystemExit as err:
            send({"type": "cell_failed", "cell": cell["index"], "error": f"SystemExit: {err.code}"})
            return 1
        except BaseException as err:  # the cell's own failure: name it, keep the traceback in the log
            traceback.print_exc()
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            send({"type": "cell_failed", "cell": cell["index"], "error": last})
            return 1
    send({"type": "no_fit", "calls": [f"{receiver}.fit in cell {index + 1}" for index, _, receiver, _ in fit_calls(cells)]})
    return 1


if __name__ == "__main__":
    sys.exit(main())
