// haihe::gateway — the exchange's FIX 4.4 data dictionary (gateway/haihe-fix44.xml),
// compiled into the binary so that `haihe serve` works from any directory.
#pragma once

#include <filesystem>
#include <string_view>

namespace haihe::gateway {

/// The bytes of gateway/haihe-fix44.xml.
std::string_view dictionary_xml();

}  // namespace haihe::gateway
