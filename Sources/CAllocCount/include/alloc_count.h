// Counts heap allocations per thread in the lane-agent process (linked into the executable
// only): malloc, calloc, realloc, posix_memalign and aligned_alloc are interposed and passed to
// glibc's own allocator. The tick reads its thread's count before and after its work.
#pragma once
#include <stdint.h>

/// Allocations made by the calling thread since it started.
uint64_t lane_thread_allocations(void);
