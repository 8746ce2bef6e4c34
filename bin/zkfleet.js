#!/usr/bin/env node
import { main } from "../dist/controller/cli.js";

process.exitCode = await main(process.argv);
