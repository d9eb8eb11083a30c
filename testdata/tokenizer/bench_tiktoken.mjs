#!/usr/bin/env node
// Times js-tiktoken r50k_base on the text BenchmarkEncode uses (the golden
// corpus concatenated), for comparison with the Go figures.
//   NODE_PATH=/tmp/tokref/node_modules node testdata/tokenizer/bench_tiktoken.mjs
import { createRequire } from "node:module";
import fs from "node:fs";
import zlib from "node:zlib";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || "/tmp/tokref/node_modules", "x.js"));
const { Tiktoken } = require("js-tiktoken/lite");
const r50k = require("js-tiktoken/ranks/r50k_base");
const enc = new Tiktoken(r50k.default || r50k);

const dir = path.dirname(new URL(import.meta.url).pathname);
const lines = zlib.gunzipSync(fs.readFileSync(path.join(dir, "golden_corpus.jsonl.gz"))).toString("utf8").split("\n");
let text = "";
for (const l of lines) if (l) text += JSON.parse(l).text + "\n\n";
const bytes = Buffer.byteLength(text);
let ids = enc.encode(text, [], []); // warm up
const runs = 5;
const t0 = process.hrtime.bigint();
for (let i = 0; i < runs; i++) ids = enc.encode(text, [], []);
const secs = Number(process.hrtime.bigint() - t0) / 1e9 / runs;
console.log(JSON.stringify({ engine: "js-tiktoken 1.0.21 r50k_base", bytes, tokens: ids.length, seconds: secs, mb_per_s: bytes / 1e6 / secs }));
