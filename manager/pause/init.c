/* berth-init: pid 1 of `berth run --init` containers (Docker's docker-init, which is tini):
 * runs `init -- CMD ARGS...` as its child, forwards every signal it receives to the child,
 * reaps every process that ends up as its child (orphans included), and exits with the
 * child's exit code (128+N when the child was killed by signal N). Built static by build.rs and
 * bind-mounted read-only into the container, so it needs nothing from the image. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Signals that are the process's own fault: left at their default so that a crash in the init
 * is not forwarded as if it came from outside. */
static const int synchronous[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS,
                                  SIGTTIN, SIGTTOU};

int main(int argc, char **argv) {
    int first = 1;
    if (first < argc && strcmp(argv[first], "--") == 0)
        first++;
    if (first >= argc) {
        fprintf(stderr, "berth-init: usage: %s -- COMMAND [ARG...]\n", argv[0]);
        return 125;
    }
    sigset_t all, parent_mask;
    sigfillset(&all);
    for (size_t i = 0; i < sizeof synchronous / sizeof synchronous[0]; i++)
        sigdelset(&all, synchronous[i]);
    /* Blocked before the fork: a signal sent between fork and the wait loop is kept pending,
     * not lost. */
    if (sigprocmask(SIG_SETMASK, &all, &parent_mask) != 0) {
        perror("berth-init: sigprocmask");
        return 125;
    }
    /* Ignored so that the child can take the terminal from the background (tcsetpgrp). */
    struct sigaction ign, dfl;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGTTIN, &ign, 0);
    sigaction(SIGTTOU, &ign, 0);
    pid_t child = fork();
    if (child < 0) {
        perror("berth-init: fork");
        return 125;
    }
    if (child == 0) {
        /* Its own process group, in the terminal's foreground if there is one: a ^C on the
         * terminal then reaches the command once, not also through the init's forwarding.
         * Without a terminal (ENOTTY) there is nothing to take. */
        setpgid(0, 0);
        tcsetpgrp(STDIN_FILENO, getpgrp());
        sigaction(SIGTTIN, &dfl, 0);
        sigaction(SIGTTOU, &dfl, 0);
        sigprocmask(SIG_SETMASK, &parent_mask, 0);
        execvp(argv[first], argv + first);
        int e = errno;
        fprintf(stderr, "berth-init: exec %s failed: %s\n", argv[first], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    int code = -1;
    for (;;) {
        struct timespec tick = {1, 0};
        siginfo_t info;
        int sig = sigtimedwait(&all, &info, &tick);
        if (sig > 0 && sig != SIGCHLD) {
            /* The child may be gone already: ESRCH is fine. */
            kill(child, sig);
        }
        /* Reap on SIGCHLD and on every tick (a SIGCHLD may be coalesced with another). */
        for (;;) {
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p <= 0)
                break;
            if (p == child) {
                if (WIFEXITED(status))
                    code = WEXITSTATUS(status);
                else if (WIFSIGNALED(status))
                    code = 128 + WTERMSIG(status);
            }
        }
        if (code >= 0)
            return code;
    }
}
