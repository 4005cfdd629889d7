/* A model side for the host board: the model API (harness/PROTOCOL.md, "How a runtime plugs
 * in") over the interpreter of the tflite-micro Python package, in an embedded CPython. The
 * harness (tfle_harness.c) prints every record; Python only loads the model and turns input
 * bytes into output bytes (tflite_edge/runtimes/tflm_board.py: load() and invoke()).
 *
 * The model header the project renders (named with -DTFLE_MODEL_HEADER) gives the sizes and
 * sha8 the harness needs at compile time, the .tflite file's path (TFLE_MODEL_PATH) and the
 * Python module to call (TFLE_PYTHON_MODULE). The interpreter finds its packages through
 * PYTHONHOME and PYTHONPATH, which tflite-edge sets in the board's environment.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include TFLE_MODEL_HEADER

static PyObject *invoke_fn;  /* the module's invoke(data: bytes) -> bytes */
static uint32_t ram_bytes;   /* TFLM's arena total, as the interpreter recorded it */
static uint32_t flash_bytes; /* the .tflite flatbuffer */

/* Python's own account of what failed goes to stderr, the board's log. */
static const char *python_failed(const char *msg) {
  if (PyErr_Occurred()) PyErr_Print();
  return msg;
}

static const char *start_python(void) {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0; /* SIGINT and SIGTERM end the board as any program */
  config.parse_argv = 0;
  PyStatus status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    fprintf(stderr, "tfle_model_python: Python did not start: %s%s%s\n",
            status.func != NULL ? status.func : "", status.func != NULL ? ": " : "",
            status.err_msg != NULL ? status.err_msg : "");
    return "python_init_failed";
  }
  return NULL;
}

const char *tfle_model_init(void) {
  const char *problem = start_python();
  if (problem != NULL) return problem;
  PyObject *module = PyImport_ImportModule(TFLE_PYTHON_MODULE);
  if (module == NULL) return python_failed("python_import_failed");
  PyObject *load = PyObject_GetAttrString(module, "load");
  invoke_fn = PyObject_GetAttrString(module, "invoke");
  Py_DECREF(module);
  if (load == NULL || invoke_fn == NULL) {
    Py_XDECREF(load);
    return python_failed("python_import_failed");
  }
  PyObject *loaded = PyObject_CallFunction(load, "s", TFLE_MODEL_PATH);
  Py_DECREF(load);
  if (loaded == NULL) return python_failed("model_load_failed");
  Py_ssize_t in_bytes = 0, out_bytes = 0, arena = 0, model_bytes = 0;
  const char *sha8 = NULL;
  const int parsed = PyArg_ParseTuple(loaded, "nnnns;load() returns (in, out, arena, bytes, sha8)",
                                      &in_bytes, &out_bytes, &arena, &model_bytes, &sha8);
  int same_model = 0;
  if (parsed) same_model = strcmp(sha8, TFLE_MODEL_SHA8) == 0;
  Py_DECREF(loaded); /* sha8 pointed into it */
  if (!parsed) return python_failed("model_load_failed");
  if (!same_model) return "model_mismatch";
  if (in_bytes != TFLE_INPUT_BYTES || out_bytes != TFLE_OUTPUT_BYTES) {
    return "tensor_size_mismatch";
  }
  ram_bytes = (uint32_t)arena;
  flash_bytes = (uint32_t)model_bytes;
  return NULL;
}

int tfle_model_invoke(const int8_t *input, int8_t *output) {
  if (invoke_fn == NULL) return 1;
  PyObject *y = PyObject_CallFunction(invoke_fn, "y#", (const char *)input,
                                      (Py_ssize_t)TFLE_INPUT_BYTES);
  if (y == NULL) {
    (void)python_failed("");
    return 1;
  }
  char *data = NULL;
  Py_ssize_t n = 0;
  const int ok = PyBytes_AsStringAndSize(y, &data, &n) == 0 && n == TFLE_OUTPUT_BYTES;
  if (ok) memcpy(output, data, (size_t)TFLE_OUTPUT_BYTES);
  Py_DECREF(y);
  if (!ok) {
    if (PyErr_Occurred()) {
      PyErr_Print();
    } else {
      fprintf(stderr, "tfle_model_python: invoke() returned %zd bytes, not %d\n", n,
              (int)TFLE_OUTPUT_BYTES);
    }
    return 1;
  }
  return 0;
}

uint32_t tfle_model_ram_bytes(void) { return ram_bytes; }

uint32_t tfle_model_flash_bytes(void) { return flash_bytes; }
