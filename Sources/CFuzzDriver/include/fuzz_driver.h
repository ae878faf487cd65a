// The libFuzzer entry, or a corpus replay when the binary was built without the fuzzer.
#include <stddef.h>
#include <stdint.h>

typedef int (*lane_fuzz_callback)(const uint8_t *data, size_t size);

/// Built with -sanitize=fuzzer: runs libFuzzer (LLVMFuzzerRunDriver) with these arguments.
/// Built without: runs `callback` once on every file named, and on every file in every
/// directory named (the committed corpora, as a regression test); returns 0, or 2 when a path
/// cannot be read.
int lane_fuzz_run(int argc, char **argv, lane_fuzz_callback callback);

/// 1 when libFuzzer is linked in.
int lane_fuzz_has_libfuzzer(void);

/// A memory file holding `data`, positioned at its start (for code that reads a descriptor);
/// -1 on failure.
int lane_fuzz_memory_file(const uint8_t *data, size_t size);
