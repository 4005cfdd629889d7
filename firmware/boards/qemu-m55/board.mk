# qemu-m55: QEMU mps3-an547, Arm Cortex-M55 at a nominal 32 MHz.
# A project may set other CPU flags first (the TFLM firmware: its library's float ABI).
BOARD_CPU_FLAGS ?= -mcpu=cortex-m55 -mthumb -mfloat-abi=hard
QEMU_MACHINE := mps3-an547
# QEMU runs the board with -icount shift=$(TFLE_ICOUNT_SHIFT): one instruction = 64 ns of
# virtual time. SysTick ticks at 32 MHz, so one tick is 125/256 instruction: 1e9 / (32000000 * 64).
TFLE_ICOUNT_SHIFT := 6
BOARD_DEFS := -DTFLE_CLOCK_HZ=32000000u -DTFLE_TICK_NUM=125u -DTFLE_TICK_DEN=256u
BOARD_SRCS := $(BOARD_DIR)/board.c
BOARD_LDSCRIPT := $(BOARD_DIR)/linker.ld
include $(TFLE_FIRMWARE)/boards/common/cortexm.mk
