#include "wire/frame_json.h"
