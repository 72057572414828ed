#include "wire/tcp.h"
