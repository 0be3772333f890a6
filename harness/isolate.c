/*
 * fork() per isolated call, the result back through a pipe, and a deadline
 * enforced with poll() on the pipe and SIGKILL. POSIX only.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness/isolate.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *atb_signal_name(int signal_number, char *buf, size_t buf_len)
{
    static const struct {
        int number;
        const char *name;
    } names[] = {
        {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},
        {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"},
        {SIGSYS, "SIGSYS"},   {SIGPIPE, "SIGPIPE"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
        {SIGINT, "SIGINT"},   {SIGHUP, "SIGHUP"},   {SIGQUIT, "SIGQUIT"}, {SIGALRM, "SIGALRM"},
        {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].number == signal_number)
            return names[i].name;
    snprintf(buf, buf_len, "signal %d", signal_number);
    return buf;
}

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The child's side: run, send the result, leave without running atexit
   handlers or flushing stdio buffers copied from the parent. */
static void run_child(int write_fd, atb_isolated_fn fn, void *context, void *result,
                      size_t result_size)
{
    fn(context, result);
    fflush(stdout);
    fflush(stderr);
    const unsigned char *bytes = result;
    size_t sent = 0;
    while (sent < result_size) {
        const ssize_t n = write(write_fd, bytes + sent, result_size - sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(3);
        sent += (size_t)n;
    }
    _exit(0);
}

/* Reads up to size bytes until EOF or the deadline. Returns the count read,
   or -1 when the deadline passed first. */
static ssize_t read_until_deadline(int fd, unsigned char *buf, size_t size, int64_t deadline_ms)
{
    size_t got = 0;
    while (got < size) {
        const int64_t left_ms = deadline_ms - monotonic_ms();
        if (left_ms <= 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        const int ready = poll(&pfd, 1, left_ms > INT32_MAX ? INT32_MAX : (int)left_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return (ssize_t)got;
        if (ready == 0)
            continue; /* the loop rechecks the deadline */
        const ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EOF: the child exited or closed the pipe */
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int atb_isolate_run(atb_isolated_fn fn, void *context, void *result, size_t result_size,
                    int timeout_s, char *why, size_t why_len)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, why_len, "cannot isolate: pipe() failed: %s", strerror(errno));
        return 0;
    }

    /* Anything still buffered would otherwise be printed by both processes. */
    fflush(stdout);
    fflush(stderr);
    const int64_t deadline_ms = monotonic_ms() + (int64_t)timeout_s * 1000;
    const pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "cannot isolate: fork() failed: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(fds[1], fn, context, result, result_size);
    }
    close(fds[1]);

    /* The result arrives into a scratch copy, so that a partial write from a
       child that died midway never reaches the caller's buffer. */
    unsigned char *buf = malloc(result_size);
    if (!buf) {
        snprintf(why, why_len, "cannot isolate: out of memory for a %zu-byte result",
                 result_size);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        close(fds[0]);
        return 0;
    }
    const ssize_t got = read_until_deadline(fds[0], buf, result_size, deadline_ms);
    close(fds[0]);

    int wait_status = 0;
    if (got < 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR)
            ;
        snprintf(why, why_len, "timed out after %d s (killed)", timeout_s);
        free(buf);
        return 0;
    }
    /* The child may still be finishing, so it gets the rest of the deadline. */
    while (waitpid(pid, &wait_status, WNOHANG) == 0) {
        if (monotonic_ms() >= deadline_ms) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR)
                ;
            snprintf(why, why_len, "timed out after %d s (killed)", timeout_s);
            free(buf);
            return 0;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&pause, NULL);
    }

    if (WIFSIGNALED(wait_status)) {
        char name[32];
        const int signal_number = WTERMSIG(wait_status);
        snprintf(why, why_len, "killed by %s (signal %d)",
                 atb_signal_name(signal_number, name, sizeof(name)), signal_number);
        free(buf);
        return 0;
    }
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0 || (size_t)got != result_size) {
        snprintf(why, why_len, "the isolated process exited with status %d after sending %zd of "
                               "%zu result bytes",
                 WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1, got, result_size);
        free(buf);
        return 0;
    }
    memcpy(result, buf, result_size);
    free(buf);
    return 1;
}
