// See fuzz_driver.h. LLVMFuzzerRunDriver is declared weak: present only when the executable is
// linked with -sanitize=fuzzer (scripts/fuzz.sh), absent (null) in the ordinary build.
#define _GNU_SOURCE
#include "fuzz_driver.h"
#include <sys/mman.h>
#include <unistd.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t)) __attribute__((weak));

int lane_fuzz_has_libfuzzer(void) { return LLVMFuzzerRunDriver != 0; }

static int replay_file(const char *path, lane_fuzz_callback cb) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "lane-fuzz: %s: cannot open\n", path); return 2; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    cb(buf, got);
    free(buf);
    return 0;
}

int lane_fuzz_run(int argc, char **argv, lane_fuzz_callback cb) {
    if (LLVMFuzzerRunDriver) return LLVMFuzzerRunDriver(&argc, &argv, cb);
    int files = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;  // libFuzzer options mean nothing here
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "lane-fuzz: %s: no such file or directory\n", argv[i]); rc = 2; continue; }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                if (replay_file(path, cb) == 0) files++; else rc = 2;
            }
            if (d) closedir(d);
        } else if (replay_file(argv[i], cb) == 0) files++; else rc = 2;
    }
    fprintf(stderr, "lane-fuzz: replayed %d inputs without a crash (built without libFuzzer: scripts/fuzz.sh builds it with)\n", files);
    return rc;
}

int lane_fuzz_memory_file(const uint8_t *data, size_t size) {
    int fd = memfd_create("lane-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) { close(fd); return -1; }
        done += (size_t)n;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}
