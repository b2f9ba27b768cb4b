// npm scripts put node_modules/.bin first on PATH, where the `node` package installs Node 22.
// If install scripts were skipped (npm --ignore-scripts) that binary is missing and npm silently
// falls back to the machine's Node; fail loudly instead of running on a Node that lacks node:sqlite.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 5)) {
  console.error(
    `Baton needs Node >= 22.5 but is running on ${process.versions.node}.\n` +
      "Run `npm install` (with install scripts enabled) so the project's own Node 22 lands in node_modules/.bin.",
  );
  process.exit(1);
}
