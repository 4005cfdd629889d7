/* The harness: the one board-side implementation of the TFLE serial protocol v1 (PROTOCOL.md
 * in this folder), linked into every firmware whatever runs the model (the AOT compiler's C,
 * TensorFlow Lite Micro, ...). It talks to the board only through tfle_board.h and to the
 * model only through the model API (PROTOCOL.md, "How a runtime plugs in").
 *
 * At boot: `hello`; TFLE_RUNS timed inferences on tfle_known_input, each followed by its
 * `run` record (cycles of tfle_model_invoke alone: no printing, and the cost of reading the
 * counter subtracted), its `layer` records when built with TFLE_PROFILE, and its `out`
 * record (zlib CRC-32 of the output bytes); then `done` and `ready`. After that every
 * `TFLE 1 in n=<bytes> hex=<...>` line is run once and answered with a `result` record.
 * A model of several inputs (outputs) takes (gives) them packed one after the other in one
 * buffer, each tensor's elements in their own type (int8, int16, float32, ...): the bytes
 * of `in`, `result`, the known input and the one CRC32 of `out` are those of that buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tfle_board.h"
#include "tfle_crc32.h"
#include "tfle_input.h"
/* The model API header: the AOT compiler's tfle_model.h unless the runtime names its own
 * (TFLM: -DTFLE_MODEL_HEADER='"model_settings.h"'). */
#ifdef TFLE_MODEL_HEADER
#include TFLE_MODEL_HEADER
#else
#include "tfle_model.h"
#endif

#ifndef TFLE_RUNS
#define TFLE_RUNS 10
#endif
#ifndef TFLE_BOARD_NAME
#define TFLE_BOARD_NAME "unknown"
#endif
#ifndef TFLE_RUNTIME_NAME
#define TFLE_RUNTIME_NAME "aot"
#endif
/* What `hello` reports as ram= and flash=: compile-time constants for AOT; a runtime that
 * knows them only once set up (TFLM: arena_used_bytes()) defines these as expressions. */
#ifndef TFLE_RAM_BYTES
#define TFLE_RAM_BYTES TFLE_ARENA_BYTES
#endif
#ifndef TFLE_FLASH_BYTES
#define TFLE_FLASH_BYTES TFLE_WEIGHT_BYTES
#endif
/* Room in the command buffer for noise before `TFLE` (a half line left by a reset). The TFLM
 * firmware has always had 64 bytes of it, the AOT firmware none. */
#ifndef TFLE_LINE_SLACK
#define TFLE_LINE_SLACK 0
#endif
/* Per-layer records with -DTFLE_PROFILE or -DTFLE_PROFILE=1; TFLM's settings say 0 for off. */
#if defined(TFLE_PROFILE) && (TFLE_PROFILE + 0)
#define PROFILED_RUNS 1
#endif

/* The longest command the host sends: "TFLE 1 in n=<up to 10 digits> hex=<2 * input bytes>". */
#define LINE_CAPACITY                                                                     \
  (sizeof("TFLE 1 in n=") - 1 + 10 + sizeof(" hex=") - 1 + 2 * (size_t)TFLE_INPUT_BYTES + \
   (size_t)TFLE_LINE_SLACK)
#define LAYER_SLOTS (TFLE_NUM_LAYERS > 0 ? TFLE_NUM_LAYERS : 1)

static const char hex_digits[] = "0123456789abcdef";
static char line[LINE_CAPACITY + 1];
static int8_t input[TFLE_INPUT_BYTES];
static int8_t output[TFLE_OUTPUT_BYTES];
static uint32_t overhead; /* cycles of an empty measurement */

/* ------------------------------------------------------------------ printing */

static void put_str(const char *s) {
  while (*s != '\0') tfle_board_putc(*s++);
}

static void put_u32(uint32_t v) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0u);
  while (n > 0) tfle_board_putc(digits[--n]);
}

static void put_hex32(uint32_t v) {
  for (int shift = 28; shift >= 0; shift -= 4) tfle_board_putc(hex_digits[(v >> shift) & 0xFu]);
}

static void begin(const char *kind) {
  put_str("TFLE 1 ");
  put_str(kind);
}

static void field_u32(const char *key, uint32_t value) {
  tfle_board_putc(' ');
  put_str(key);
  tfle_board_putc('=');
  put_u32(value);
}

static void field_str(const char *key, const char *value) {
  tfle_board_putc(' ');
  put_str(key);
  tfle_board_putc('=');
  put_str(value);
}

static void field_crc32(const int8_t *data, size_t n) {
  put_str(" crc32=");
  put_hex32(tfle_crc32(data, n));
}

/* With several outputs, the `out` record also has crc32_<k>= for each output k (the model
 * header's TFLE_OUTPUT_SIZES lists their bytes, in order, packed one after the other). */
#if defined(TFLE_OUTPUT_SIZES) && defined(TFLE_NUM_OUTPUTS) && TFLE_NUM_OUTPUTS > 1
static const uint32_t output_sizes[TFLE_NUM_OUTPUTS] = TFLE_OUTPUT_SIZES;

static void fields_output_crc32s(const int8_t *data) {
  size_t at = 0;
  for (uint32_t k = 0; k < (uint32_t)TFLE_NUM_OUTPUTS; ++k) {
    put_str(" crc32_");
    put_u32(k);
    tfle_board_putc('=');
    put_hex32(tfle_crc32(data + at, output_sizes[k]));
    at += output_sizes[k];
  }
}
#define PER_OUTPUT_CRC32S 1
#endif

static void end(void) { tfle_board_putc('\n'); }

static void report_error(const char *msg) {
  begin("error");
  field_str("msg", msg);
  end();
}

/* us at the board's clock, rounded; on emulated boards an estimate at the nominal clock. */
static uint32_t cycles_to_us(uint32_t cycles) {
  const uint32_t hz = tfle_board_clock_hz();
  if (hz == 0u) return 0u;
  return (uint32_t)(((uint64_t)cycles * 1000000u + hz / 2u) / hz);
}

/* ------------------------------------------------------------------ timing */

static uint32_t since(uint32_t start) {
  const uint32_t elapsed = tfle_board_cycles() - start;
  return elapsed > overhead ? elapsed - overhead : 0u;
}

static void calibrate(void) {
  /* The smallest of a few empty measurements: on QEMU they are all equal. */
  overhead = 0xFFFFFFFFu;
  for (int k = 0; k < 8; ++k) {
    const uint32_t start = tfle_board_cycles();
    const uint32_t elapsed = tfle_board_cycles() - start;
    if (elapsed < overhead) overhead = elapsed;
  }
}

static volatile int profiling;
static uint32_t layer_mark;
static uint32_t layer_cycles[LAYER_SLOTS];
static int layer_op_index[LAYER_SLOTS];
static const char *layer_op_name[LAYER_SLOTS];
static int layers_seen;

/* Called by tfle_model_invoke after each layer when the model is built with profiling: the
 * layer's cycles are those since the previous layer ended (or the profiled run began). */
void tfle_profile_layer(int layer, int op_index, const char *op_name) {
  if (!profiling) return;
  const uint32_t cycles = since(layer_mark);
  if (layer >= 0 && layer < LAYER_SLOTS) {
    layer_cycles[layer] = cycles;
    layer_op_index[layer] = op_index;
    layer_op_name[layer] = op_name;
    if (layer >= layers_seen) layers_seen = layer + 1;
  }
  layer_mark = tfle_board_cycles(); /* the bookkeeping above is nobody's layer */
}

/* Called as a layer starts by a runtime whose layers do not follow each other directly (an
 * interpreter's dispatch between them): the gap is then nobody's layer either. */
void tfle_profile_layer_start(void) {
  if (profiling) layer_mark = tfle_board_cycles();
}

static uint32_t timed_invoke(const int8_t *in, int *status) {
  const uint32_t start = tfle_board_cycles();
  *status = tfle_model_invoke(in, output);
  return since(start);
}

#ifdef PROFILED_RUNS
/* A second, profiled inference of the same input: the timed one stays free of the probes. */
static void profile_run(uint32_t run, const int8_t *in) {
  layers_seen = 0;
  profiling = 1;
  layer_mark = tfle_board_cycles();
  (void)tfle_model_invoke(in, output);
  profiling = 0;
  for (int k = 0; k < layers_seen; ++k) {
    begin("layer");
    field_u32("i", run);
    field_u32("idx", (uint32_t)layer_op_index[k]);
    field_str("op", layer_op_name[k] != NULL ? layer_op_name[k] : "UNKNOWN");
    field_u32("cycles", layer_cycles[k]);
    end();
  }
}
#endif

/* ------------------------------------------------------------------ commands */

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads one line into `line`; returns 0 when it was longer than the buffer (the rest is
 * consumed, so the next line starts clean). */
static int read_line(void) {
  size_t n = 0;
  int fits = 1;
  for (;;) {
    const int c = tfle_board_getc();
    if (c == '\n') break;
    if (c == '\r') continue;
    if (n < LINE_CAPACITY) {
      line[n++] = (char)c;
    } else {
      fits = 0;
    }
  }
  line[n] = '\0';
  return fits;
}

/* Decimal digits (at most 10) into *value; returns the character after them, NULL if none. */
static const char *parse_u32(const char *s, uint32_t *value) {
  uint64_t v = 0;
  int digits = 0;
  while (*s >= '0' && *s <= '9' && digits < 11) {
    v = v * 10u + (uint32_t)(*s++ - '0');
    ++digits;
  }
  if (digits == 0 || digits > 10 || v > 0xFFFFFFFFu) return NULL;
  *value = (uint32_t)v;
  return s;
}

/* Runs one `in` command (the text after "TFLE 1 in "); answers `result` or `error`. */
static void run_command(const char *args, uint32_t *results) {
  uint32_t n = 0;
  int have_n = 0;
  const char *hex = NULL;
  size_t hex_len = 0;
  while (*args != '\0') {
    if (*args == ' ') {
      ++args;
    } else if (strncmp(args, "n=", 2) == 0) {
      const char *rest = parse_u32(args + 2, &n);
      if (rest == NULL || (*rest != ' ' && *rest != '\0')) {
        report_error("bad_length");
        return;
      }
      have_n = 1;
      args = rest;
    } else if (strncmp(args, "hex=", 4) == 0) {
      hex = args + 4;
      hex_len = strcspn(hex, " ");
      args = hex + hex_len;
    } else {
      args += strcspn(args, " "); /* a field of a later protocol minor version */
    }
  }
  if (!have_n || n != (uint32_t)TFLE_INPUT_BYTES) {
    report_error("bad_length");
    return;
  }
  if (hex == NULL || hex_len != 2u * (size_t)TFLE_INPUT_BYTES) {
    report_error("bad_hex");
    return;
  }
  for (size_t k = 0; k < (size_t)TFLE_INPUT_BYTES; ++k) {
    const int hi = hex_value(hex[2 * k]);
    const int lo = hex_value(hex[2 * k + 1]);
    if (hi < 0 || lo < 0) {
      report_error("bad_hex");
      return;
    }
    input[k] = (int8_t)(uint8_t)((hi << 4) | lo);
  }
  int status = 0;
  const uint32_t cycles = timed_invoke(input, &status);
  if (status != 0) {
    report_error("invoke_failed");
    return;
  }
  begin("result");
  field_u32("i", (*results)++);
  field_u32("cycles", cycles);
  field_crc32(output, TFLE_OUTPUT_BYTES);
  put_str(" hex=");
  for (size_t k = 0; k < (size_t)TFLE_OUTPUT_BYTES; ++k) {
    const uint8_t b = (uint8_t)output[k];
    tfle_board_putc(hex_digits[b >> 4]);
    tfle_board_putc(hex_digits[b & 0xFu]);
  }
  end();
}

/* ------------------------------------------------------------------ main */

int main(void) {
  tfle_board_init();
  calibrate();
#ifdef TFLE_MODEL_INIT
  /* A runtime that sets up before its first inference (TFLM: the interpreter and its arena)
   * says why it cannot, and the board says nothing more. */
  const char *problem = TFLE_MODEL_INIT();
  if (problem != NULL) {
    report_error(problem);
    return 1;
  }
#endif

  begin("hello");
  field_str("board", TFLE_BOARD_NAME);
  field_str("runtime", TFLE_RUNTIME_NAME);
#ifdef TFLE_KERNELS_NAME
  field_str("kernels", TFLE_KERNELS_NAME); /* the interpreter's kernel set (TFLM) */
#endif
  field_str("model", TFLE_MODEL_SHA8);
  field_u32("ram", (uint32_t)(TFLE_RAM_BYTES));
  field_u32("flash", (uint32_t)(TFLE_FLASH_BYTES));
  field_u32("clock_hz", tfle_board_clock_hz());
  field_u32("in_bytes", (uint32_t)TFLE_INPUT_BYTES);
  field_u32("out_bytes", (uint32_t)TFLE_OUTPUT_BYTES);
#if defined(TFLE_NUM_INPUTS) && defined(TFLE_NUM_OUTPUTS) && \
    (TFLE_NUM_INPUTS > 1 || TFLE_NUM_OUTPUTS > 1)
  /* in_bytes/out_bytes are those of every input (output) packed one after the other; a
   * single-input, single-output model's hello line stays as it always was */
  field_u32("inputs", (uint32_t)TFLE_NUM_INPUTS);
  field_u32("outputs", (uint32_t)TFLE_NUM_OUTPUTS);
#endif
  end();

  for (uint32_t run = 0; run < (uint32_t)TFLE_RUNS; ++run) {
    int status = 0;
    const uint32_t cycles = timed_invoke(tfle_known_input, &status);
    if (status != 0) {
      report_error("invoke_failed");
      continue;
    }
    begin("run");
    field_u32("i", run);
    field_u32("cycles", cycles);
    field_u32("us", cycles_to_us(cycles));
    end();
#ifdef PROFILED_RUNS
    profile_run(run, tfle_known_input);
#endif
    begin("out");
    field_u32("i", run);
    field_crc32(output, TFLE_OUTPUT_BYTES);
#ifdef PER_OUTPUT_CRC32S
    fields_output_crc32s(output);
#endif
    end();
#ifdef TFLE_BOARD_YIELD
    tfle_board_yield();
#endif
  }
  begin("done");
  field_u32("runs", (uint32_t)TFLE_RUNS);
  end();
  begin("ready");
  end();

  uint32_t results = 0;
  static const char command[] = "TFLE 1 in ";
  for (;;) {
    const int fits = read_line();
    const char *at = strstr(line, command);
    if (at == NULL) continue; /* not for us: noise, or a record echoed back */
    if (!fits) {
      report_error("line_too_long");
      continue;
    }
    run_command(at + sizeof(command) - 1, &results);
  }
}
