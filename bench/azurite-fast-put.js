// Preloaded (NODE_OPTIONS=--require) into the Azurite that bench/azure.sh uploads a tree
// with, never into the one it measures. Azurite finds a blob by a query on its account,
// container, name and snapshot; its database (LokiJS) takes the first key's index and scans
// what that finds, and every blob is in the one account: each Put Blob scans the whole
// store, and uploading the 100k tree's 237,450 files would take hours. The same query with
// the name first finds the blob through the name's index. Equalities joined by "and" give
// the same answer in any order: only the time changes.
const path = require("path");
const prefix = process.env.AZURITE_PREFIX || "/opt/regsweep-test/azurite";
const loki = require(require.resolve("lokijs", {
  paths: [path.join(prefix, "node_modules", "azurite")]
}));
const findOne = loki.Collection.prototype.findOne;
loki.Collection.prototype.findOne = function (query) {
  if (query && typeof query === "object" && typeof query.name === "string") {
    query = Object.assign({ name: query.name }, query);
  }
  return findOne.call(this, query);
};
