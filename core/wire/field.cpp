#include "wire/field.h"

namespace tcplab::wire {

const FieldDescriptor* findField(const ProtocolDescriptor& protocol, std::string_view id) noexcept {
    for (const auto& f : protocol.fields)
        if (f.id == id)
            return &f;
    return nullptr;
}

} // namespace tcplab::wire
