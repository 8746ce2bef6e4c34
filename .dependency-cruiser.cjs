// The import rules of zkfleet's sources (docs/architecture.md, "Layers"),
// checked by `npm run lint:deps` and by `npm test`.
//
// The controller's folders in floors, top to bottom. A folder may import a
// folder on a lower floor, never one on its own floor or above (inside a
// folder anything goes, short of a cycle).
const floors = [
  ["cli"],
  ["usecases"],
  ["adopt", "backup", "report"],
  ["execute", "data"],
  ["observe", "canary"],
  ["plan", "fleet", "status", "zk"],
  ["render", "agent-client"],
  ["model", "connection"],
  ["inventory"],
];

const folder = (names) => `^controller/(${names.join("|")})/`;

const layerRules = floors.map((floor, i) => ({
  name: `layer-${floor.join("-")}`,
  comment: `controller/{${floor.join(",")}}/ import only folders below their floor (and themselves), never upward or sideways`,
  severity: "error",
  from: { path: folder(floor) },
  to: {
    path: folder(floors.slice(0, i + 1).flat()),
    // a file's own folder is its own business
    pathNot: "^controller/$1/",
  },
}));

// What does I/O or reads the clock: the pure folders reach none of it, through any chain of imports.
const io = [
  "fs", "fs/promises", "child_process", "net", "tls", "dgram", "worker_threads", "perf_hooks", "timers", "timers/promises",
  "http", "https", "http2", "readline",
].flatMap((m) => [m, `node:${m}`]);
const ioPackages = ["ssh2", "zookeeper"];

const pureReachesNoIo = {
  name: "pure-reaches-no-io",
  comment: "controller/plan/ and controller/model/ are pure: no chain of runtime imports reaches a module that does I/O or reads the clock",
  severity: "error",
  from: { path: "^controller/(plan|model)/" },
  to: {
    reachable: true,
    path: [`^(${io.join("|")})$`, `(^|/)node_modules/(${ioPackages.join("|")})/`],
  },
};

// `npm run lint:deps` cruises twice: the structure (circles, layers, who
// imports agent/, common/, lab/, dists/) over every import, type-only ones
// included since they couple the code all the same; and purity over the
// imports that remain at run time (ZKFLEET_DEPCRUISE=runtime), since a
// type-only import loads nothing: plan/ may name the inventory's types
// while the inventory's validators use node:net's address parsers.
const runtime = process.env.ZKFLEET_DEPCRUISE === "runtime";

module.exports = {
  forbidden: runtime ? [pureReachesNoIo] : [
    {
      name: "no-circular",
      comment: "no import circle, type-only imports included",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "agent-stands-alone",
      comment: "the agent is bundled alone onto every host: it imports common/ and nothing of controller/, lab/ or dists/",
      severity: "error",
      from: { path: "^agent/" },
      to: { path: "^(controller|lab|dists)/" },
    },
    {
      name: "common-is-shared",
      comment: "common/ is shared by controller and agent: it imports neither (nor lab/ or dists/)",
      severity: "error",
      from: { path: "^common/" },
      to: { path: "^(controller|agent|lab|dists)/" },
    },
    {
      name: "lab-and-dists-off-the-run-path",
      comment: "the lab and the distribution builder are imported only by the command about them (cli/lab.ts) and by each other",
      severity: "error",
      from: { path: "^(controller|common|agent)/", pathNot: "^controller/cli/lab\\.ts$" },
      to: { path: "^(lab|dists)/" },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: !runtime,
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs", ".cjs", ".json"] },
  },
};
