// Imported first by each entry point (the CLI, the agent), before any schema
// is built: zod reads this choice when it makes a schema. Without it zod
// compiles a parser for each object schema (new Function) the first time the
// schema parses; a zkfleet process parses each schema a few times at most, so
// the compiling costs more than it saves, and compiled code of that kind is
// not in V8's code cache either. Measured on a lab host: an agent's first
// lock, facts and status 28 -> 23 ms.
import { config } from "zod";

config({ jitless: true });
