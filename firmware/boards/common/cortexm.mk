# Shared by the QEMU Cortex-M boards' board.mk: cross toolchain, startup, cycle source, link.
# A board.mk sets BOARD_CPU_FLAGS, BOARD_DEFS, BOARD_SRCS and BOARD_LDSCRIPT, then includes this.
# Needs TFLE_FIRMWARE, BOARD_DIR and BUILD; firmware/Makefile (or a TFLM project's Makefile)
# then uses CC, CXX, SIZE, IMAGE, BOARD_SRCS, BOARD_INCLUDES, BOARD_CFLAGS, BOARD_CXXFLAGS,
# BOARD_LDFLAGS, BOARD_LDLIBS and RUN_CMD.

comma := ,
CROSS ?= arm-none-eabi-
CC := $(CROSS)gcc
CXX := $(CROSS)g++
SIZE := $(CROSS)size
IMAGE := $(BUILD)/firmware.elf
COMMON_DIR := $(TFLE_FIRMWARE)/boards/common

BOARD_SRCS += $(COMMON_DIR)/cortexm_startup.c $(COMMON_DIR)/cortexm_cycles.c \
              $(COMMON_DIR)/cortexm_syscalls.c
BOARD_INCLUDES := -I$(BOARD_DIR) -I$(COMMON_DIR)
BOARD_CFLAGS := $(BOARD_CPU_FLAGS) $(BOARD_DEFS) -ffunction-sections -fdata-sections
BOARD_CXXFLAGS := -fno-exceptions -fno-rtti -fno-threadsafe-statics
# newlib-nano for memcpy/memset; no crt0: cortexm_startup.c is the reset handler.
BOARD_LDFLAGS := $(BOARD_CPU_FLAGS) -nostartfiles --specs=nano.specs -T$(BOARD_LDSCRIPT) \
                 -L$(COMMON_DIR) -Wl,--gc-sections -Wl,-Map=$(BUILD)/firmware.map \
                 $(if $(filter 1,$(TFLE_UNBOUNDED)),-Wl$(comma)--defsym=TFLE_UNBOUNDED=1) \
                 $(if $(STACK_BYTES),-Wl$(comma)--defsym=TFLE_STACK_BYTES=$(STACK_BYTES))
BOARD_LDLIBS := -lm -lc -lgcc

# `make console`: boot the image in QEMU with the console on this terminal (Ctrl-A x quits);
# `make run`: the same with the console on stdout only (firmware/Makefile stops it at `done`).
QEMU ?= qemu-system-arm
QEMU_ARGS = -M $(QEMU_MACHINE) -display none -icount shift=$(TFLE_ICOUNT_SHIFT),align=off,sleep=off \
            -kernel $(IMAGE)
RUN_CMD = $(QEMU) $(QEMU_ARGS) -serial mon:stdio
RUN_BATCH = $(QEMU) $(QEMU_ARGS) -serial stdio -monitor none </dev/null
