/* The golden-vector harness: feeds a binary vector file (lane-sim vectors) through the engine's
   C entry points and prints one line of integers per decision. Built for x86_64 and aarch64
   (run under qemu-user); the outputs must be identical, bit for bit. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int64_t occupancy, startUs, endUs, speedMmPerS, flags, gammaMaxSigmaQ8, gammaMaxCounts,
        gammaMaxThresholdQ16, gammaMaxLowShareQ16, neutronMaxSigmaQ8, suppressionQ16,
        gammaWindowSamples, gammaMaxWindowSamples, faults;
} Decision;

void lane_reset(int64_t panels, int64_t beamSpacingMm, int64_t sampleIntervalUs);
int64_t lane_edge(int64_t tUs, int64_t beam, int64_t blocked, Decision *out);
int64_t lane_sample(int64_t tUs, int64_t intervalUs, const uint32_t *counts, Decision *out);
int64_t lane_finish(int64_t tUs, Decision *out);
void lane_set_windows(int64_t k);
void lane_set_directed(const int64_t *fields, int64_t count);
int64_t lane_sample_windows(int64_t tUs, int64_t intervalUs, const uint32_t *counts, int64_t k, const uint32_t *windows, Decision *out);

static void print(const Decision *d) {
    printf("%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld\n",
           (long long)d->occupancy, (long long)d->startUs, (long long)d->endUs, (long long)d->speedMmPerS,
           (long long)d->flags, (long long)d->gammaMaxSigmaQ8, (long long)d->gammaMaxCounts,
           (long long)d->gammaMaxThresholdQ16, (long long)d->gammaMaxLowShareQ16, (long long)d->neutronMaxSigmaQ8,
           (long long)d->suppressionQ16, (long long)d->gammaWindowSamples, (long long)d->gammaMaxWindowSamples,
           (long long)d->faults);
}

/* Little-endian readers (the vector file is little-endian whatever the host). */
static int rd64(FILE *f, int64_t *v) {
    unsigned char b[8];
    if (fread(b, 1, 8, f) != 8) return 0;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | b[i];
    *v = (int64_t)x;
    return 1;
}
static int rd32(FILE *f, uint32_t *v) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) return 0;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: golden VECTORS.bin\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    char magic[8];
    int64_t panels, spacing, interval;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "LANEVEC1", 8) != 0 || !rd64(f, &panels) || !rd64(f, &spacing) || !rd64(f, &interval)) {
        fprintf(stderr, "%s: not a lane vector file\n", argv[1]);
        return 2;
    }
    lane_reset(panels, spacing, interval);
    Decision d;
    int kind;
    int64_t last = 0;
    int64_t windows = 0; /* K windows per panel after each sample (multi-window vectors) */
    while ((kind = fgetc(f)) != EOF) {
        int64_t t, a, b;
        if (!rd64(f, &t)) { fprintf(stderr, "truncated event\n"); return 1; }
        last = t;
        if (kind == 'E') {
            if (!rd64(f, &a) || !rd64(f, &b)) { fprintf(stderr, "truncated edge\n"); return 1; }
            if (lane_edge(t, a, b, &d)) print(&d);
        } else if (kind == 'K') {
            if (!rd64(f, &windows) || windows < 3 || windows > 16) { fprintf(stderr, "bad window count\n"); return 1; }
            lane_set_windows(windows);
        } else if (kind == 'T') {
            int64_t n, fields[10 + 4 * 16] = {0};
            if (!rd64(f, &n) || n < 5 || n > 10 + 4 * 16) { fprintf(stderr, "bad directed-test record\n"); return 1; }
            for (int i = 0; i < n; i++)
                if (!rd64(f, &fields[i])) { fprintf(stderr, "truncated directed-test record\n"); return 1; }
            lane_set_directed(fields, n);
        } else if (kind == 'S') {
            uint32_t counts[24] = {0};
            if (!rd64(f, &a)) { fprintf(stderr, "truncated sample\n"); return 1; }
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < panels; p++)
                    if (!rd32(f, &counts[c * 8 + p])) { fprintf(stderr, "truncated counts\n"); return 1; }
            if (windows) {
                uint32_t w[128] = {0};
                for (int i = 0; i < panels * windows; i++)
                    if (!rd32(f, &w[i])) { fprintf(stderr, "truncated windows\n"); return 1; }
                if (lane_sample_windows(t, a, counts, windows, w, &d)) print(&d);
            } else if (lane_sample(t, a, counts, &d)) print(&d);
        } else {
            fprintf(stderr, "unknown event kind %d\n", kind);
            return 1;
        }
    }
    if (lane_finish(last, &d)) print(&d);
    return 0;
}
