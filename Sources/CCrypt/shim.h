// libxcrypt (Debian's libcrypt): crypt_r and crypt_gensalt_rn for the console's password file.
#include <crypt.h>

static inline int lane_crypt_data_size(void) { return (int)sizeof(struct crypt_data); }
