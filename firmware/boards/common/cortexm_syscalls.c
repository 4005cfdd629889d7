/* The few newlib-nano system calls a bare-metal image may pull in (printf from a kernel or
 * TFLM's DebugLog): console output goes to the board's UART, there is no file system, and
 * the heap is the RAM between the top of the stack section and the end of the board's RAM.
 * The harness itself uses none of them.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include "tfle_board.h"

extern char __heap_start[], __heap_end[];

void *_sbrk(intptr_t increment) {
  static char *brk = __heap_start;
  if (increment > __heap_end - brk || increment < __heap_start - brk) {
    errno = ENOMEM;
    return (void *)-1;
  }
  char *previous = brk;
  brk += increment;
  return previous;
}

int _write(int fd, const char *buf, int len) {
  (void)fd;
  for (int i = 0; i < len; ++i) tfle_board_putc(buf[i]);
  return len;
}

int _read(int fd, char *buf, int len) {
  (void)fd;
  if (len <= 0) return 0;
  buf[0] = (char)tfle_board_getc();
  return 1;
}

int _close(int fd) {
  (void)fd;
  return -1;
}

int _fstat(int fd, struct stat *st) {
  (void)fd;
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd) {
  (void)fd;
  return 1;
}

int _lseek(int fd, int offset, int whence) {
  (void)fd;
  (void)offset;
  (void)whence;
  return 0;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
  (void)pid;
  (void)sig;
  errno = EINVAL;
  return -1;
}

void _exit(int status) {
  (void)status;
  for (;;) {
  }
}

/* newlib's __libc_init_array calls _init (crti.o's job, absent with -nostartfiles). */
void _init(void) {}
void _fini(void) {}
