/**
 * The layering of the service, checked by `npm run lint` (dependency-cruiser):
 * - no import cycles, type-only imports included;
 * - `lib/jobs` (records, lifecycle, store, queue) knows nothing of exports or imports;
 * - `lib/cli` (the `chat-backup` package) speaks only the HTTP API: it imports `schemas/`, itself,
 *   Node and its npm packages, never the service's code.
 */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      severity: "error",
      comment: "An import cycle: split the shared part into a module both can import.",
      from: {},
      to: { circular: true },
    },
    {
      name: "jobs-know-no-work",
      severity: "error",
      comment: "lib/jobs is below exports and imports: it must not import them.",
      from: { path: "^lib/jobs/" },
      to: { path: "^lib/(exports|imports)/" },
    },
    {
      name: "cli-only-schemas",
      severity: "error",
      comment: "lib/cli is installed without the service: it may import only schemas/ and itself.",
      from: { path: "^lib/cli/" },
      to: {
        dependencyTypesNot: ["core", "npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg"],
        pathNot: ["^lib/cli/", "^schemas/"],
      },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that resolves to nothing.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: ["^node_modules/", "^\\.local/", "^packages/[^/]+/dist/"] },
    // Type-only imports count: a cycle of types is still a cycle for a reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "types", "default"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".d.ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
