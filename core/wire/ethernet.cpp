#include "wire/ethernet.h"
