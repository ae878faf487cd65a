/* vmtool: the small helper the kernel GPIO test runs inside its VM (Tests/KernelGPIO/vm-test.sh).
 * Linked statically: the VM has busybox and nothing else of a C library's tools.
 *
 *   vmtool pull FILE pull-up|pull-down   write a gpio-sim line's pull; prints the CLOCK_MONOTONIC
 *                                        microseconds just before and just after the write (the
 *                                        kernel's edge timestamp lies between them)
 *   vmtool watch FILE MS                 sample a line's value every 2 ms for MS milliseconds;
 *                                        prints "toggles N longest_steady_ms L last V high_ms H"
 *                                        (H: how long it read 1)
 *   vmtool ctl SOCKET COMMAND...         one line to a Unix socket (lane-sim's control socket);
 *                                        prints the answer line
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int read_value(const char *path) {
    char buf[8] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) { fprintf(stderr, "vmtool: %s: %s\n", path, strerror(errno)); exit(2); }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) { fprintf(stderr, "vmtool: %s: read failed\n", path); exit(2); }
    return buf[0] == '1';
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "pull") == 0) {
        int fd = open(argv[2], O_WRONLY);
        if (fd < 0) { fprintf(stderr, "vmtool: %s: %s\n", argv[2], strerror(errno)); return 2; }
        size_t len = strlen(argv[3]);
        long long before = now_us();
        ssize_t n = write(fd, argv[3], len);
        long long after = now_us();
        int err = errno;
        close(fd);
        if (n != (ssize_t)len) { fprintf(stderr, "vmtool: write %s: %s\n", argv[2], strerror(err)); return 2; }
        printf("%lld %lld\n", before, after);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "watch") == 0) {
        long long end = now_us() + atoll(argv[3]) * 1000LL;
        int last = read_value(argv[2]), toggles = 0;
        long long since = now_us(), longest = 0, high = 0, prev = now_us();
        while (now_us() < end) {
            usleep(2000);
            int v = read_value(argv[2]);
            long long t = now_us();
            if (last) high += t - prev;
            prev = t;
            if (v != last) {
                if (t - since > longest) longest = t - since;
                since = t; last = v; toggles++;
            }
        }
        if (now_us() - since > longest) longest = now_us() - since;
        printf("toggles %d longest_steady_ms %lld last %d high_ms %lld\n", toggles, longest / 1000, last, high / 1000);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "ctl") == 0) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            fprintf(stderr, "vmtool: connect %s: %s\n", argv[2], strerror(errno)); return 2;
        }
        char line[512] = {0};
        for (int i = 3; i < argc; i++) {
            strncat(line, argv[i], sizeof line - strlen(line) - 2);
            strncat(line, i + 1 < argc ? " " : "\n", sizeof line - strlen(line) - 1);
        }
        if (write(fd, line, strlen(line)) < 0) { fprintf(stderr, "vmtool: write: %s\n", strerror(errno)); return 2; }
        char reply[512];
        size_t got = 0;
        while (got < sizeof reply - 1) {
            ssize_t n = read(fd, reply + got, 1);
            if (n <= 0 || reply[got] == '\n') break;
            got++;
        }
        reply[got] = 0;
        printf("%s\n", reply);
        close(fd);
        return strncmp(reply, "OK", 2) == 0 ? 0 : 1;
    }
    fprintf(stderr, "usage: vmtool pull FILE VALUE | watch FILE MS | ctl SOCKET COMMAND...\n");
    return 2;
}
