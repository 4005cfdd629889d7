/* The board support API (firmware/README.md): what the harness needs from a board.
 *
 * Each firmware/boards/<board>/ implements it. On the QEMU boards `cycles` counts emulated
 * instructions (QEMU's -icount makes them deterministic), not silicon cycles; on the host
 * it counts nanoseconds of wall-clock time.
 */
#ifndef TFLE_BOARD_H
#define TFLE_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void tfle_board_init(void);          /* clocks, UART, cycle counter */
void tfle_board_putc(char c);        /* blocking write of one byte to the console UART */
int tfle_board_getc(void);           /* blocking read of one byte from the console UART */
uint32_t tfle_board_cycles(void);    /* free-running cycle counter; wraps; differences count */
uint32_t tfle_board_clock_hz(void);  /* the rate `cycles` is converted to time at (us field) */

/* Optional: a board built with -DTFLE_BOARD_YIELD defines this, and the harness calls it after
 * each timed run's records (ESP-IDF: lets the idle task feed the task watchdog). */
void tfle_board_yield(void);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_BOARD_H */
