// System libzstd, reached through pkg-config (libzstd-dev on Debian).
#include <zstd.h>
