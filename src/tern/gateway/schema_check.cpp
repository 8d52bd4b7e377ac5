#include "tern/gateway/schema_check.hpp"

#include <algorithm>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "tern/gateway/map.hpp"

namespace tern::gateway::detail {

std::string pointer_token(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

namespace {

// valijson's context ("<root>", "[function]", "[map]", "[0]"...) as a JSON Pointer.
std::string pointer_of(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& c : context) {
    if (c == "<root>") continue;
    std::string_view part = c;
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']') part = part.substr(1, part.size() - 2);
    out += '/';
    out += pointer_token(part);
  }
  return out.empty() ? std::string("/") : out;
}

}  // namespace

std::vector<schema_problem> schema_problems(const nlohmann::json& doc) {
  // Parsed for each file read: reads are rare (start, reload) and no state is kept.
  const nlohmann::json schema_doc = nlohmann::json::parse(map_schema());
  valijson::Schema schema;
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  const valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);

  valijson::Validator validator;
  valijson::ValidationResults results;
  const valijson::adapters::NlohmannJsonAdapter target(doc);
  std::vector<schema_problem> out;
  if (validator.validate(schema, target, &results)) return out;
  std::vector<schema_problem> all;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) all.push_back({pointer_of(e.context), e.description});
  // valijson follows each problem with one line per enclosing schema ("Failed
  // to validate against schema associated with property name 'location'."):
  // keep such a line only when no other problem is at or below its pointer.
  for (const auto& p : all) {
    const bool wrapper = p.what.starts_with("Failed to validate");
    const auto explained = [&](const schema_problem& q) {
      return !q.what.starts_with("Failed to validate") &&
             (q.pointer == p.pointer || p.pointer == "/" || q.pointer.starts_with(p.pointer + "/"));
    };
    if (wrapper && std::any_of(all.begin(), all.end(), explained)) continue;
    if (std::find_if(out.begin(), out.end(), [&](const schema_problem& q) {
          return q.pointer == p.pointer && q.what == p.what;
        }) != out.end())
      continue;
    out.push_back(p);
  }
  return out;
}

}  // namespace tern::gateway::detail
