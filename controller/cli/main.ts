// The CLI: commander's program, one adapter per command (cli/*.ts, each
// registered the same way), and the error that ends a command turned into
// its message and exit code. Adapters parse arguments, ask, print and set
// exit codes; the use cases they call (usecases/) do neither.
import "../../common/zod-jitless.js";
import { Command, CommanderError } from "commander";
import { ExitCode, errorMessage, exitCodeFor } from "../../common/errors.js";
import { packageVersion } from "../../common/paths.js";
import * as adopt from "./adopt.js";
import * as apply from "./apply.js";
import * as backup from "./backup.js";
import * as check from "./check.js";
import { type CommandContext, type Io, commandContext, defaultIo } from "./context.js";
import * as data from "./data.js";
import * as lab from "./lab.js";
import { examples } from "./options.js";
import * as runs from "./runs.js";
import * as status from "./status.js";
import * as sync from "./sync.js";

/** Every command, in the order `zkfleet --help` lists them. */
const COMMANDS: { register: (program: Command, ctx: CommandContext) => void }[] = [check, status, apply, runs, data, sync, backup, adopt, lab];

function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command("zkfleet")
    .description("Operate Apache ZooKeeper ensembles over SSH, keeping quorum throughout")
    .version(packageVersion(), "-V, --version", "print zkfleet's version")
    .addHelpText("after", examples(
      "zkfleet check -i inv.yml              # validate an inventory; touches no host",
      "zkfleet apply -i inv.yml --check      # what apply would do",
      "zkfleet help apply                    # a command's options and examples",
    ))
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const ctx = commandContext(io, setExit);
  for (const command of COMMANDS) command.register(program, ctx);
  return program;
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let code: ExitCode = ExitCode.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.invalid;
    }
    io.err(errorMessage(err));
    return exitCodeFor(err);
  }
}
