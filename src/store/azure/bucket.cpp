// The Azure Blob backend of the object store: AzureClient's requests, on full blob names, as
// the generic PrefixedBucket maps the tree's keys to them.

#include <utility>

#include "store/azure/azure_store.hpp"
#include "store/object/prefixed_bucket.hpp"
#include "store/object/store.hpp"

namespace regsweep {

std::unique_ptr<Store> make_azure_store(AzureSettings settings, std::string registry_prefix,
                                        object::HttpOptions options) {
  auto client = std::make_shared<AzureClient>(std::move(settings), options);
  const AzureSettings& s = client->settings();
  object::BackendTraits traits{.location = s.location(),
                               .shown_base = "azure://" + s.container + "/",
                               .registry = std::move(registry_prefix),
                               .max_batch = k_azure_max_batch,
                               // Copy Blob copies any size: never a multipart copy.
                               .max_copy = ~std::uint64_t{0}};
  return object::make_object_store(
      std::make_unique<object::PrefixedBucket<AzureClient>>(std::move(client), std::move(traits)),
      "the container");
}

Result<std::unique_ptr<Store>> open_azure_store(const DriverParameters& driver) {
  auto settings = azure_settings(driver);
  if (!settings) {
    return settings.error();
  }
  std::string current = settings->registry_prefix();
  std::string legacy(k_azure_legacy_registry_prefix);
  // The 2.8 driver ignores rootdirectory: its names are the legacy ones whatever is set.
  AzureClient probe(*settings, object::HttpOptions{.max_attempts = 3});
  auto at_current = probe.any_below(current + "v2/");
  if (!at_current) {
    return at_current.error();
  }
  auto at_legacy = probe.any_below(legacy + "v2/");
  if (!at_legacy) {
    return at_legacy.error();
  }
  if (*at_current && *at_legacy) {
    return Error{settings->location() + " holds a tree under '" + current +
                     "v2/' (as the 3.x "
                     "azure driver names blobs) and one under '" +
                     legacy +
                     "v2/' (as 2.8's "
                     "does): regsweep will not guess which one the registry serves. Move or "
                     "delete the one no registry uses",
                 0};
  }
  return make_azure_store(std::move(*settings), *at_legacy ? legacy : current);
}

}  // namespace regsweep
