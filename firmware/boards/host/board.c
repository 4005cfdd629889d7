/* host: the harness as a native program. The console is stdin/stdout, which tflite-edge
 * connects to a pseudo-terminal, so the host reads it with pyserial like any board; cycles
 * are nanoseconds of CLOCK_MONOTONIC (wall-clock time, not a cycle count). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tfle_board.h"

void tfle_board_init(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* one write per protocol line */
}

void tfle_board_putc(char c) { putchar(c); }

int tfle_board_getc(void) {
  fflush(stdout);
  int c = getchar();
  if (c == EOF) exit(0); /* the other end closed the terminal: the session is over */
  return c;
}

uint32_t tfle_board_cycles(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

uint32_t tfle_board_clock_hz(void) { return 1000000000u; }
