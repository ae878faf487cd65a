// See include/alloc_count.h. glibc exports its allocator under __libc_* names, so these
// definitions in the executable take the place of malloc & co. for every library in the process
// and hand the work on. The counter is initial-exec thread-local: reading it never allocates.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include "alloc_count.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static __thread uint64_t allocations __attribute__((tls_model("initial-exec")));

void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t count, size_t n) { allocations++; return __libc_calloc(count, n); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
void *aligned_alloc(size_t alignment, size_t n) { allocations++; return __libc_memalign(alignment, n); }
void *memalign(size_t alignment, size_t n) { allocations++; return __libc_memalign(alignment, n); }
int posix_memalign(void **out, size_t alignment, size_t n) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    allocations++;
    void *p = __libc_memalign(alignment, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

uint64_t lane_thread_allocations(void) { return allocations; }
