// Replaced at bundle time by scripts/bundle-agent.mjs (esbuild `define`);
// "dev" when the agent runs from source.
declare const __ZKFLEET_AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string =
  typeof __ZKFLEET_AGENT_VERSION__ === "string" ? __ZKFLEET_AGENT_VERSION__ : "dev";
