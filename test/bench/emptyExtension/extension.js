// Benchmark only: nothing to do on activation.
exports.activate = function activate() {
  return undefined;
};
exports.deactivate = function deactivate() {
  return undefined;
};
