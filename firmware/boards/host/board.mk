# host: this machine, a native build; the console is stdin/stdout (a pseudo-terminal when
# tflite-edge flashes it) and cycles are nanoseconds of wall-clock time.
CC := gcc
CXX := g++
SIZE := size
IMAGE := $(BUILD)/firmware
BOARD_SRCS := $(BOARD_DIR)/board.c
BOARD_INCLUDES := -I$(BOARD_DIR)
BOARD_CFLAGS := -D_POSIX_C_SOURCE=200809L
BOARD_CXXFLAGS :=
BOARD_LDFLAGS :=
BOARD_LDLIBS := -lm
RUN_CMD = $(IMAGE)
RUN_BATCH = $(IMAGE) </dev/null
