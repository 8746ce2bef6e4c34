// What every command's adapter is handed: where it prints, how it sets the
// exit code, and the fleet options its flags ask for. Built once by main.ts;
// nothing below cli/ sees it.
import type { ExitCode } from "../../common/errors.js";
import { type RuntimePush, describePush } from "../agent-client/runtime.js";
import type { FleetOptions } from "../fleet/fleet.js";

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export const defaultIo: Io = {
  out: (t) => process.stdout.write(t + "\n"),
  err: (t) => process.stderr.write(t + "\n"),
  env: process.env,
};

/** The flags every command that reaches hosts may have. */
export interface FleetFlags {
  parallel?: number;
  acceptNewHostKeys?: boolean;
  json?: boolean;
}

export interface CommandContext {
  io: Io;
  setExit: (code: ExitCode) => void;
  /** The fleet a command's flags ask for; a runtime pushed to a host is said on stderr (and collected when asked). */
  fleetOptions: (o: FleetFlags, runtimePushes?: RuntimePush[]) => FleetOptions;
}

export function commandContext(io: Io, setExit: (code: ExitCode) => void): CommandContext {
  return {
    io,
    setExit,
    fleetOptions: (o, runtimePushes) => ({
      ...(o.parallel ? { parallel: o.parallel } : {}),
      ...(o.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}),
      // A host without node costs a runtime push on first contact, once per host and node version: say what it cost.
      onRuntimePushed: (_key: string, push: RuntimePush) => {
        runtimePushes?.push(push);
        if (!o.json) io.err(describePush(push));
      },
    }),
  };
}
