// haihe::gateway — the exchange's FIX 4.4 data dictionary, compiled into the
// binary so that `haihe serve` and `haihe client` work from any directory.
//
// It is the standard FIX 4.4 dictionary (every message, field, repeating
// group and required field QuickFIX knows for FIX 4.4) plus the exchange's
// user-defined fields 20001..20040 and where they appear
// (gateway/haihe-fix44-ext.xml), in QuickFIX's XML format; generated at build
// time by gateway/fix44_dictionary.py. Give it to QuickFIX as the session's
// DataDictionary (write it to a file first). gateway/README.md says which of
// its fields the exchange reads, ignores or refuses.
#pragma once

#include <string_view>

namespace haihe::gateway {

/// The dictionary's XML bytes.
std::string_view dictionary_xml();

}  // namespace haihe::gateway
