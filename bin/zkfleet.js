#!/usr/bin/env node
// Runs the controller bundled in one file (dist/zkfleet.cjs, built by
// scripts/bundle-controller.mjs) as a vm.Script with V8's code cache, kept
// beside the bundle per bundle hash, node version and command: V8 keeps in a
// cache only the functions compiled before it was made, so a cache made by
// `zkfleet --version` would hold little of apply. A command's first run
// writes its cache, unless it was refused as invalid input (so a mistyped
// command leaves none). Where dist/ is not writable (a system-wide install
// run by a user) every run compiles, which costs some 45 ms (bench/README.md).
// The cache is only ever read from beside the bundle, never from a shared
// directory: V8 runs what a cache holds.
"use strict";
const { readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join } = require("node:path");
const { Script } = require("node:vm");

// A reader that went away (`zkfleet check | head`) ends the output, quietly,
// as SIGPIPE ends other commands in a pipe (node ignores SIGPIPE, so the
// write fails with EPIPE instead, and unhandled that is a stack trace and
// exit 1). A command that stops at safe points on Ctrl-C (apply between
// steps, sync after its checkpoint) is asked to stop as on Ctrl-C; any other
// ends at once with the exit code it has set (by then check has set it).
let readerGone = false;
process.stdout.on("error", (err) => {
  if (readerGone) return; // later writes to the closed stream
  if (err.code !== "EPIPE") throw err;
  readerGone = true;
  if (process.listenerCount("SIGINT") > 0) process.emit("SIGINT", "SIGINT");
  else process.exit(process.exitCode ?? 0);
});

const bundle = join(__dirname, "..", "dist", "zkfleet.cjs");
const code = readFileSync(bundle, "utf8");
const hash = /^\/\/ zkfleet (\w+)\n/.exec(code)?.[1];
const command = /^[a-z]+$/.test(process.argv[2] ?? "") ? process.argv[2] : "other";
const cache = hash && `${bundle}.${hash}.${process.version}.${command}.cache`;
let cachedData;
try { if (cache) cachedData = readFileSync(cache); } catch {}

// A module's own scope, as node gives a CommonJS file, in strict mode like the ES modules it was built from.
const source = `(function (exports, require, module, __filename, __dirname) {"use strict";${code}\n})`;
const script = new Script(source, { filename: bundle, cachedData });
const bundled = { exports: {} };
script.runInThisContext()(bundled.exports, createRequire(bundle), bundled, bundle, dirname(bundle));

bundled.exports.main(process.argv).then((exit) => {
  process.exitCode = exit;
  if (cache && (cachedData === undefined || script.cachedDataRejected) && exit !== 3) {
    process.once("beforeExit", () => {
      const temp = `${cache}.${process.pid}`;
      try { writeFileSync(temp, script.createCachedData()); renameSync(temp, cache); } catch { try { rmSync(temp, { force: true }); } catch {} }
    });
  }
});
