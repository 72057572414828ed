#include "wire/segment_spec.h"
