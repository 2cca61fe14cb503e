#define _GNU_SOURCE
#include "kiln_mapping_guard.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* A fixed table: the handler may not allocate or lock. A slot is claimed by CAS on `state`
 * (0 free, 1 being written, 2 live); the handler reads only live slots. */
enum { SLOTS = 256, PATH_BYTES = 1024 };

typedef struct {
    _Atomic int state;
    uintptr_t base;
    size_t length;
    char path[PATH_BYTES];
} slot_t;

static slot_t slots[SLOTS];
static char program_name[64] = "kiln";
static _Atomic int installed;

/* Set by the first thread that reports a fault. Conversions read the mapping from several
 * threads, and a truncated file faults on all of them at once: the others must not interleave
 * a second message into the first, so they wait here for the reporter's _exit. */
static _Atomic int reporting;

/* The message is composed in one buffer and written with one write(2), so it reaches stderr
 * whole even when something else writes there too. */
typedef struct {
    char text[PATH_BYTES + 256];
    size_t length;
} message_t;

static void append(message_t *message, const char *text) {
    while (*text && message->length < sizeof(message->text) - 1) message->text[message->length++] = *text++;
}

static void append_number(message_t *message, uint64_t value) {
    char digits[24];
    int i = (int)sizeof(digits) - 1;
    digits[i] = 0;
    do {
        digits[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && i > 0);
    append(message, digits + i);
}

static void write_all(const message_t *message) {
    const char *text = message->text;
    size_t length = message->length;
    while (length > 0) {
        ssize_t n = write(STDERR_FILENO, text, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        length -= (size_t)n;
    }
}

static void on_sigbus(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != 2) continue;
        if (address >= slots[i].base && address - slots[i].base < slots[i].length) {
            int expected = 0;
            if (!atomic_compare_exchange_strong(&reporting, &expected, 1)) {
                for (;;) pause(); /* another thread is reporting and will end the process */
            }
            message_t message = {.length = 0};
            append(&message, program_name);
            append(&message, ": error: ");
            append(&message, slots[i].path);
            append(&message, ": byte ");
            append_number(&message, (uint64_t)(address - slots[i].base));
            append(&message, ": the file shrank or could not be read while mapped (SIGBUS)\n");
            write_all(&message);
            _exit(2);
        }
    }
    /* Not one of ours: crash as the default action would. */
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

int kiln_mapping_guard_install(const char *program) {
    if (program) {
        strncpy(program_name, program, sizeof(program_name) - 1);
        program_name[sizeof(program_name) - 1] = 0;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return 0;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, NULL) != 0) {
        atomic_store(&installed, 0);
        return -1;
    }
    return 0;
}

int kiln_mapping_guard_add(const void *base, size_t length, const char *path) {
    for (int i = 0; i < SLOTS; i++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expected, 1)) continue;
        slots[i].base = (uintptr_t)base;
        slots[i].length = length;
        strncpy(slots[i].path, path ? path : "?", PATH_BYTES - 1);
        slots[i].path[PATH_BYTES - 1] = 0;
        atomic_store_explicit(&slots[i].state, 2, memory_order_release);
        return i;
    }
    return -1;
}

void kiln_mapping_guard_remove(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    atomic_store_explicit(&slots[slot].state, 0, memory_order_release);
}

int kiln_mapping_guard_lookup(const void *address, char *path, size_t capacity, size_t *offset) {
    uintptr_t at = (uintptr_t)address;
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != 2) continue;
        if (at >= slots[i].base && at - slots[i].base < slots[i].length) {
            if (capacity > 0) {
                strncpy(path, slots[i].path, capacity - 1);
                path[capacity - 1] = 0;
            }
            *offset = (size_t)(at - slots[i].base);
            return 1;
        }
    }
    return 0;
}
